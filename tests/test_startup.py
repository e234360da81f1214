"""Start-up: what a command imports before it does anything (``metarr --version`` answers in
a few milliseconds; a command pays only for its own imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import metarr
from metarr_sim import SimServer
from probes import run_metarr

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


# What a cold `metarr lookup` (nothing cached, every provider asked) must not import: the
# prompt of `search --pick`/`queue review`, httpx's own command line client (click, pygments),
# the TOML parser when the config file is empty, the retry machinery when nothing is retried
# (stamina, tenacity) and the title search (candidates, titleforms).
NOT_ON_THE_LOOKUP_PATH = (
    "metarr.cli.pick",
    "httpx._main",
    "pygments",
    "tomllib",
    "stamina",
    "tenacity",
    "metarr.candidates",
    "metarr.titleforms",
)


def test_a_cold_lookup_imports_nothing_only_other_commands_need(
    sim_server: SimServer, tmp_path: Path
) -> None:
    config = tmp_path / "metarr.toml"
    config.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        **sim_server.settings_env(),
        "METARR_CONFIG": str(config),
        "METARR_STATE_DIR": str(tmp_path / "state"),
    }
    args = ["--db", str(tmp_path / "cache.sqlite"), "lookup", "--imdb", "tt0114709", "--json"]
    code, out, err, imported = run_metarr(args, env)
    assert code == 0, err
    assert json.loads(out)["status"] == "identified"
    assert {"httpx", "metarr.orchestrator", "metarr.cli.identify"} <= imported  # the full path
    assert imported.isdisjoint(NOT_ON_THE_LOOKUP_PATH), imported & set(NOT_ON_THE_LOOKUP_PATH)


def test_httpx_keeps_its_fallback_command_when_its_client_is_left_out() -> None:
    code = (
        "import sys\nsys.modules.setdefault('httpx._main', None)\nimport httpx\n"
        "print(callable(httpx.main), 'click' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["True", "False"]


def test_the_command_runs_with_its_own_collector_threshold_and_the_library_leaves_it() -> None:
    """The ``metarr`` process collects young objects every `GC_THRESHOLD` allocations (a
    batch's parsed bodies are freed by reference counting); importing metarr changes nothing."""
    from metarr.__main__ import GC_THRESHOLD

    library, command, _, _ = _collector_of_the_command()
    assert (library, command) == (700, GC_THRESHOLD)


def test_the_collector_waits_until_the_command_is_imported() -> None:
    """No collection runs while the command's modules are imported (they all live as long as
    the process); then they are frozen out of every later collection and collecting resumes."""
    _, _, collections, frozen = _collector_of_the_command()
    assert collections == []
    assert frozen > 10_000


def _collector_of_the_command() -> tuple[int, int, list[int], int]:
    """Run ``metarr batch --help`` in a fresh interpreter: the library's collector threshold,
    the command's when it ends, the modules loaded at each collection that ran before the
    command's module was, and how many objects were frozen by the end (-1: collector off)."""
    probe = (
        "import gc, json, sys\n"
        "import metarr, metarr.cli\n"
        "library = gc.get_threshold()[0]\n"
        "early = []\n"
        "def seen(phase, info):\n"
        "    if phase == 'start' and not hasattr(sys.modules.get('metarr.cli.batch'), 'batch'):\n"
        "        early.append(len(sys.modules))\n"
        "gc.callbacks.append(seen)\n"
        "sys.argv = ['metarr', 'batch', '--help']\n"
        "import metarr.__main__ as command\n"
        "ending = command.end\n"
        "def end(code):\n"
        "    frozen = gc.get_freeze_count() if gc.isenabled() else -1\n"
        "    line = [library, gc.get_threshold()[0], early, frozen]\n"
        "    print(json.dumps(line), file=sys.stderr)\n"
        "    ending(code)\n"
        "command.end = end\n"
        "command.run()"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    library, command, collections, frozen = json.loads(done.stderr.splitlines()[-1])
    return library, command, collections, frozen


def _ended(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that notes on stderr when its teardown begins."""
    probe = (
        f"import atexit, sys\natexit.register(lambda: print('teardown', file=sys.stderr))\n{code}"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_full_command_ends_its_process_once_its_output_is_written() -> None:
    """The interpreter's teardown (≈ 50 ms of CPU after a cold lookup) is skipped: the
    output, the exit code and stderr stay what the command wrote."""
    command = "sys.argv = ['metarr', {}]\nfrom metarr.__main__ import run\nrun()"
    done = _ended(command.format("'plugins', '--help'"))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Usage: metarr plugins")
    done = _ended(command.format("'lookup'"))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: give an id: --tmdb ID, --imdb ID or --tvdb ID\n"


def test_ending_the_process_keeps_pythons_exit_codes() -> None:
    done = _ended("from metarr.__main__ import end\nprint('out')\nend('a message')")
    assert (done.returncode, done.stdout, done.stderr) == (1, "out\n", "a message\n")
    done = _ended("from metarr.__main__ import end\nend(None)")
    assert (done.returncode, done.stderr) == (0, "")


def test_a_closed_output_ends_the_full_command_with_141() -> None:
    code = (
        "import os, sys\n"
        "r, w = os.pipe()\nos.close(r)\nos.dup2(w, 1)\n"
        "sys.argv = ['metarr', 'plugins', '--help']\n"
        "from metarr.__main__ import run\nrun()"
    )
    done = _ended(code)
    assert done.returncode == 141
    assert "Traceback" not in done.stderr and "teardown" not in done.stderr
