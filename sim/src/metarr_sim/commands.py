"""The commands this package adds to ``metarr`` (entry-point group ``metarr.commands``)."""

from __future__ import annotations

import click
from metarr import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    """``metarr sim`` (serve the simulated providers) and ``metarr demo`` (the quick start)."""
    from metarr_sim.demo import demo
    from metarr_sim.serve import sim

    cli.add_command(sim)
    cli.add_command(demo)
