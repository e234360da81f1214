"""Run the ``metarr`` command in a fresh interpreter, as its console script does, and see what
it imported (start-up tests: what a command must not load)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping

_PROBE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print('\\nMODULES ' + json.dumps("
    "[name for name, module in sys.modules.items() if module is not None]), file=sys.stderr))\n"
    "sys.argv = ['metarr', *{args!r}]\n"
    "from metarr.__main__ import run\n"
    "run()\n"
)


def run_metarr(args: list[str], env: Mapping[str, str]) -> tuple[int, str, str, set[str]]:
    """``metarr ARGS``: its exit code, stdout, stderr and every module it had imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args)],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
    )
    err, _, modules = done.stderr.rpartition("\nMODULES ")
    return done.returncode, done.stdout, err, set(json.loads(modules))
