"""The event loop the CLI's own commands run on: uvloop's where it is installed (a dependency on
Linux and macOS, CPython), asyncio's own elsewhere. A batch spends about a tenth of its CPU in
the loop (timers, callbacks, socket readiness): uvloop does that work in C.

Only the commands' loops: an embedder's loop is the embedder's (`metarr.Orchestrator` and
`metarr.sync` run on whatever loop they are given)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("metarr.cli.loop")


def runner() -> asyncio.Runner:
    """A fresh `asyncio.Runner` on the CLI's loop (close it, or use it as a context); with
    ``--debug``, a line names the loop."""
    factory = _factory()
    log.debug("event loop: %s", "asyncio's" if factory is None else "uvloop's")
    return asyncio.Runner(loop_factory=factory)


def _factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # Windows, PyPy: asyncio's loop
        return None
    return uvloop.new_event_loop
