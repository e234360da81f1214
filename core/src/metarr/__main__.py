"""``python -m metarr`` and the ``metarr`` command."""

from __future__ import annotations

import sys


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
    from metarr.cli.cached import answer

    if answer(sys.argv[1:]):
        return
    # httpx imports its own command line client (click, pygments: ~9 ms) whenever click is
    # installed; this process never runs it, so httpx gets its documented fallback instead.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from metarr.cli import main

    main(prog_name="metarr")


if __name__ == "__main__":
    run()
