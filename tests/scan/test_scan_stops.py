"""A scan stops as a batch does: the real ``metarr`` process against the simulator, its
output closed (141), Ctrl-C (130) and a full disk (6). The items in flight finish and commit,
nothing starts after the stop, and a rerun carries on where it stopped."""

from __future__ import annotations

import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest
from metarr.cli.exits import INTERRUPTED, OUTPUT_CLOSED, STORAGE
from metarr_sim import Knobs, SimServer, World
from reliability.helpers import METARR, check_db, cli_env, run_cli
from scan.libraries import build

pytestmark = pytest.mark.slow
ITEMS = 120


def _library(root: Path, world: World, count: int = ITEMS) -> Path:
    """``count`` folders named by title, year and a Plex TMDB tag (looked up, never searched)."""
    files: dict[str, str] = {}
    movies = [m for m in world.movies if m.tmdb_id and m.year and m.tmdb_id in world.by_tmdb]
    for movie in movies[:count]:
        title = movie.title.replace("/", "+").replace(":", " -")
        name = f"{title} ({movie.year}) {{tmdb-{movie.tmdb_id}}}"
        files[f"{name}/{title}.mkv"] = ""
    return build(root, files)


def test_a_closed_stdout_exits_141_and_a_rerun_carries_on(sim_world: World, tmp_path: Path) -> None:
    root = _library(tmp_path / "lib", sim_world)
    db = tmp_path / "c.db"
    with SimServer(sim_world, knobs={"*": Knobs(latency=0.02)}) as sim:
        env = cli_env({**sim.settings_env(), "METARR_DB": str(db)})
        script = (
            f"'{METARR}' scan '{root}' --json --concurrency 4 | head -1; "
            'echo "status=${PIPESTATUS[0]}" >&2'
        )
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=120)
        stored = len(check_db(db))
        assert done.stdout.count(b"\n") == 1 and done.stdout.startswith(b'{"key":')
        assert f"status={OUTPUT_CLOSED}".encode() in done.stderr, done.stderr
        assert b"Traceback" not in done.stderr
        assert 1 <= stored < ITEMS // 2
        rerun = run_cli(["scan", str(root), "--json"], env, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count(b'"status":"identified"') == ITEMS
    assert len(check_db(db)) == ITEMS


def test_ctrl_c_finishes_the_items_in_flight_and_exits_130(
    sim_world: World, tmp_path: Path
) -> None:
    root = _library(tmp_path / "lib", sim_world)
    db = tmp_path / "c.db"
    with SimServer(sim_world, knobs={"*": Knobs(latency=0.05)}) as sim:
        env = cli_env({**sim.settings_env(), "METARR_DB": str(db)})
        args = [str(METARR), "scan", str(root), "--json", "--concurrency", "4"]
        # Unbuffered: `communicate` reads the pipe itself, so bytes a buffered readline had
        # read ahead (the start of the next line) would be lost to it.
        process = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            process.send_signal(signal.SIGINT)
            started = time.monotonic()
            out, err = process.communicate(timeout=60)
            stopped_after = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    lines = [first, *out.splitlines()]
    assert process.returncode == INTERRUPTED, err
    assert b"interrupted: finishing the items in flight" in err
    assert b"stopped early by Ctrl-C" in err and b"Traceback" not in err
    assert stopped_after < 20
    assert len(lines) < ITEMS
    stored = check_db(db)
    identified = sum(b'"status":"identified"' in line for line in lines)
    assert len(stored) == identified  # what was reported identified is committed, no more


def _limited(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_stops_the_scan_with_exit_6(sim_world: World, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    small = _library(tmp_path / "small", sim_world, 2)
    with SimServer(sim_world) as sim:
        env = cli_env({**sim.settings_env(), "METARR_DB": str(db)})
        assert run_cli(["scan", str(small)], env).returncode == 0
        before = {m.movie.ids.tmdb for m in check_db(db)}
        limit = db.stat().st_size + 64 * 1024
        root = _library(tmp_path / "lib", sim_world)
        sim.reset_counts()
        done = subprocess.run(
            [str(METARR), "scan", str(root), "--concurrency", "4"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
            preexec_fn=lambda: _limited(limit),
        )
        sent = sim.total()
    stderr = done.stderr.decode()
    assert done.returncode == STORAGE, stderr
    [error] = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert str(db) in error and "the scan stopped" in error
    assert "Traceback" not in stderr
    assert sent <= 12 * 8, sent  # the items in flight, no more
    assert before <= {m.movie.ids.tmdb for m in check_db(db)}
