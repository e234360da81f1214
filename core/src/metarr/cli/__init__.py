"""The ``metarr`` command: identify movies, inspect providers and the cache, run the demo.

Every command prints readable output, or the JSON contract with ``--json``; errors are one
line on stderr (``--debug`` adds the traceback and DEBUG logging). Exit codes: `metarr.cli.exits`.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from metarr import __version__
from metarr.cli import exits
from metarr.cli.state import CliState, split_names

__all__ = ["CliState", "main"]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Logs to whatever ``sys.stderr`` is now; without ``--debug``, one line, no traceback."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass

    def format(self, record: logging.LogRecord) -> str:
        if self.debug:
            return super().format(record)
        return f"metarr: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"


def _setup_logging(ctx: click.Context, debug: bool) -> None:
    """Log to stderr for this command; the previous logging state comes back afterwards."""
    root = logging.getLogger()
    handler = _StderrHandler(debug)
    level = logging.DEBUG if debug else logging.WARNING
    handler.setLevel(level)
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(previous)

    ctx.call_on_close(restore)


class MetarrGroup(click.Group):
    """The root group: turns every error into one line on stderr and its exit code, imports a
    built-in command when it is first needed (`_COMMANDS`), and adds the commands of installed
    packages (`metarr.cli.extensions`) when a name is not built in or ``--help`` lists them."""

    _extended = False
    on_resolved: Callable[[], None] | None = None
    """Called once, when the command to run has been found and imported (the ``metarr``
    process resumes its garbage collector then: `metarr.__main__.resume_collector`)."""

    def _extend(self) -> None:
        if not self._extended:
            self._extended = True
            from metarr.cli.extensions import load_commands

            load_commands(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in _COMMANDS:
            module = importlib.import_module(_COMMANDS[cmd_name])
            found = getattr(module, cmd_name)
            self.add_command(found, cmd_name)
        if found is None:
            self._extend()
            found = super().get_command(ctx, cmd_name)
        return found

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        resolved = super().resolve_command(ctx, args)
        if self.on_resolved is not None:
            resolved_hook, self.on_resolved = self.on_resolved, None
            resolved_hook()
        return resolved

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._extend()
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:  # --help or --version printed to a closed pipe
            raise exits.output_closed() from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # `metarr … | head -1`: the reader went away
            raise exits.output_closed() from None
        except KeyboardInterrupt:
            raise exits.CliError("interrupted", exits.INTERRUPTED) from None
        except Exception as exc:
            state = ctx.find_object(CliState)
            if state is not None and state.debug:
                traceback.print_exception(exc, file=sys.stderr)
            db = state.db_path if state is not None else None
            raise exits.CliError(exits.describe(exc, db=db), exits.for_exception(exc)) from None


@click.group(cls=MetarrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: ~/.config/metarr/config.toml, or METARR_CONFIG).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Cache database (default: the platform data dir, or METARR_DB).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and DEBUG logging on stderr.")
@click.option("--only", metavar="NAMES", help="Use only these providers (comma-separated).")
@click.option("--without", metavar="NAMES", help="Leave these providers out (comma-separated).")
@click.version_option(__version__, prog_name="metarr", message="%(prog)s %(version)s")
@click.pass_context
def main(
    ctx: click.Context,
    config: Path | None,
    db: Path | None,
    debug: bool,
    only: str | None,
    without: str | None,
) -> None:
    """Identify movies and merge what every metadata provider knows about them."""
    state = ctx.ensure_object(CliState)
    state.config = config if config is not None else state.config
    state.db = db if db is not None else state.db
    state.debug = debug or state.debug
    if only is not None:
        state.only = split_names(only)
    if without is not None:
        state.without = split_names(without) or ()
    _setup_logging(ctx, state.debug)


# The built-in commands, imported when first used: a command pays only for its own imports.
_COMMANDS = {
    "plugins": "metarr.cli.plugins",
    "priorities": "metarr.cli.plugins",
    "lookup": "metarr.cli.identify",
    "identify": "metarr.cli.identify",
    "search": "metarr.cli.identify",
    "batch": "metarr.cli.batch",
    "queue": "metarr.cli.identify",
    "resolve": "metarr.cli.identify",
    "cache": "metarr.cli.cachecmds",
    "refresh": "metarr.cli.cachecmds",
    "remerge": "metarr.cli.cachecmds",
    "identities": "metarr.cli.cachecmds",
    "provider": "metarr.cli.provider",
    "scan": "metarr.cli.scan",
}
