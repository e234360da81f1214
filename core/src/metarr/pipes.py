"""A closed standard output (``metarr … | head -1``): how a command ends quietly."""

from __future__ import annotations

import contextlib
import os
import sys

OUTPUT_CLOSED = 141
"""The exit code: what a shell reports for a process that SIGPIPE ended."""


def discard_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered, and Python's flush at exit, must
    not fail again on the closed pipe."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
