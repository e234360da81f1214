"""``python -m metarr`` and the ``metarr`` command."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import NoReturn

GC_THRESHOLD = 10_000
"""Allocations between the collector's youngest-generation runs in the ``metarr`` process (the
interpreter's default is 700). A batch allocates every response's parsed JSON, nearly all of it
freed by reference counting; at 700 the collector ran ~230 times per 400 movies, 5 % of the
process's CPU, at 10,000 ~90 times, 2 %, with the same peak memory. A process-wide policy, so
the command sets it, never the library.

Until the command to run is imported the collector is off: the ~400 modules of a batch leave
~48,000 tracked objects that live as long as the process, and the collections among them
(≈ 10 ms of a 2-row batch's ~200) found almost nothing to free. Once it is imported they are
frozen (no later collection scans them again) and collecting resumes (`resume_collector`)."""


def run() -> None:
    """Run the ``metarr`` command. ``metarr --version`` is answered before the command tree
    (click, the cache, the HTTP stack, the plugins) is imported: a few milliseconds, not 300;
    a cached read is answered before it too when it can be (`metarr.cli.cached`)."""
    if sys.argv[1:] == ["--version"]:
        from metarr import __version__
        from metarr.pipes import OUTPUT_CLOSED, discard_stdout

        try:
            sys.stdout.write(f"metarr {__version__}\n")
            sys.stdout.flush()
        except BrokenPipeError:
            discard_stdout()
            raise SystemExit(OUTPUT_CLOSED) from None
        return
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    gc.disable()
    from metarr.cli.cached import answer

    if answer(sys.argv[1:]):
        return
    # httpx imports its own command line client (click, pygments: ~9 ms) whenever click is
    # installed; this process never runs it, so httpx gets its documented fallback instead.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from metarr.cli import main

    main.on_resolved = resume_collector
    try:
        main(prog_name="metarr")
    except SystemExit as done:
        end(done.code)
    end(0)


def resume_collector() -> None:
    """Freeze what the process has imported so far out of every later collection, and turn
    the collector back on (see `GC_THRESHOLD`). The few import-time cycles no collection has
    freed by then stay frozen too (a few hundred KB, once per process)."""
    gc.freeze()
    gc.enable()


def end(code: object) -> NoReturn:
    """End the full command's process with ``code`` once its output is written: its work is
    done and its files closed, and the interpreter's teardown of the ~600 modules a command
    loads would only free memory (≈ 50 ms of CPU after a cold lookup). A code that is not an
    int is a message, shown as Python would (exit 1); a closed stdout exits 141."""
    import logging

    from metarr.pipes import OUTPUT_CLOSED, discard_stdout

    if code is None or isinstance(code, int):
        status = code or 0
    else:
        print(code, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        discard_stdout()
        status = status or OUTPUT_CLOSED
    logging.shutdown()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
