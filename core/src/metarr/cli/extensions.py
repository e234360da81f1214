"""Commands from other packages: modules in the ``metarr.commands`` entry-point group that
implement the ``register_commands`` hook (`metarr.hookspecs.CommandSpecs`).

They are loaded once, the first time a command is looked up that metarr itself does not have
(or ``--help`` lists them), so ``metarr --version`` and the built-in commands never pay for
them. A package that fails to load or to register is reported on stderr and skipped.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import click
import pluggy

from metarr.hookspecs import PROJECT, CommandSpecs

ENTRY_POINT_GROUP = "metarr.commands"
log = logging.getLogger("metarr.cli")


def load_commands(cli: click.Group) -> dict[str, str]:
    """Let every command plugin add its commands to ``cli``; return the failures by name."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(CommandSpecs)
    failures: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            pm.register(ep.load(), name=ep.name)
            pm.check_pending()
        except Exception as exc:  # a broken package must not take the command line down
            failures[ep.name] = f"failed to load: {type(exc).__name__}: {exc}"
            continue
        impls = [impl for impl in pm.hook.register_commands.get_hookimpls()]
        for impl in impls:
            if impl.plugin_name != ep.name:
                continue
            try:
                impl.function(cli=cli)
            except Exception as exc:
                failures[ep.name] = f"register_commands failed: {type(exc).__name__}: {exc}"
    for name, why in failures.items():
        log.warning("command plugin %s: %s", name, why)
    return failures
