"""Start-up: what a command imports before it does anything (``metarr --version`` answers in
a few milliseconds; a command pays only for its own imports)."""

from __future__ import annotations

import json
import subprocess
import sys

import metarr

HEAVY = (
    "click",
    "httpx",
    "sqlite_utils",
    "cattrs",
    "asyncio",
    "metarr.cli.scan",
    "metarr.cache.api",
)


def _imported_after(code: str) -> set[str]:
    """The heavy modules a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    return {name for name in HEAVY if name in modules}


def test_version_is_answered_before_the_command_tree_is_imported() -> None:
    code = "import sys\nsys.argv = ['metarr', '--version']\nfrom metarr.__main__ import run\nrun()"
    assert _imported_after(code) == set()


def test_the_command_group_imports_no_command_and_no_cache() -> None:
    assert _imported_after("import metarr.cli") == {"click"}


def test_a_cache_error_class_does_not_import_the_cache() -> None:
    assert _imported_after("from metarr.cache.errors import UnreadableMovieError") == set()


def test_version_output() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "metarr", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"metarr {metarr.__version__}\n", "")
