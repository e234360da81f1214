"""Run the ``metarr`` command in a fresh interpreter, as its console script does, and see what
it imported (start-up tests: what a command must not load)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping

# The imports are reported when the command ends: at exit, or when the full command ends its
# process itself (`metarr.__main__.end`, which skips the interpreter's exit).
_PROBE = (
    "import atexit, json, sys\n"
    "import metarr.__main__ as command\n"
    "def report():\n"
    "    if not getattr(report, 'done', False):\n"
    "        report.done = True\n"
    "        names = [name for name, module in sys.modules.items() if module is not None]\n"
    "        print('\\nMODULES ' + json.dumps(names), file=sys.stderr)\n"
    "atexit.register(report)\n"
    "ending = command.end\n"
    "command.end = lambda code: (report(), ending(code))\n"
    "sys.argv = ['metarr', *{args!r}]\n"
    "command.run()\n"
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
