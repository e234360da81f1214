"""A batch stops promptly, with its own exit code, when its output goes away or its cache fails.

The real ``metarr`` process against the simulator: stdout closed after the first line (a real
pipe, and ``| head -1`` in a shell), a file-size limit that fills the disk after a few commits,
and a corrupt database. In every case the rows in flight finish, no row starts after the
failure (so no request is sent for a row that cannot be stored), the message names what went
wrong, and the cache is left sound with everything committed before.
"""

from __future__ import annotations

import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from metarr.cli.exits import OUTPUT_CLOSED, STORAGE
from metarr_sim import Knobs, SimServer
from metarr_sim.world import World
from reliability.helpers import METARR, check_db, cli_env, library, run_cli, write_jsonl

pytestmark = pytest.mark.slow
ROWS = 240


@pytest.fixture
def big_library(world: World, tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "lib.jsonl", library(world, ROWS, seed=11))


def _sent(sim: SimServer) -> int:
    return sum(sum(counts.values()) for counts in sim.counts().values())


# -- the output goes away ---------------------------------------------------------------------


def test_a_closed_stdout_stops_the_batch_promptly(
    world: World, tmp_path: Path, big_library: Path
) -> None:
    db = tmp_path / "cache.sqlite"
    with SimServer(world, knobs={"*": Knobs(latency=0.02)}) as sim:
        env = cli_env({**sim.settings_env(), "METARR_DB": str(db)})
        args = [str(METARR), "batch", str(big_library), "--json", "--concurrency", "4"]
        process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert process.stdout is not None and process.stderr is not None
            first = process.stdout.readline()
            assert first.startswith(b'{"line":'), first
            process.stdout.close()  # what `| head -1` does
            started = time.monotonic()
            code = process.wait(timeout=30)
            stopped_after = time.monotonic() - started
            stderr = process.stderr.read().decode()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        sent = _sent(sim)
    assert code == OUTPUT_CLOSED, stderr
    assert stopped_after < 10, stopped_after
    assert "output was closed" in stderr
    assert "cannot read" not in stderr and "Traceback" not in stderr
    stored = check_db(db)
    print(f"closed stdout: exit {code} {stopped_after:.2f} s after the close, {len(stored)} of")
    print(f"  {ROWS} rows stored, {sent} requests in all")
    assert 1 <= len(stored) < ROWS // 2  # the rows in flight committed; the rest never started
    assert sent < ROWS, sent


def test_batch_into_head_exits_quickly_in_a_shell(
    world: World, tmp_path: Path, big_library: Path
) -> None:
    if shutil.which("bash") is None or shutil.which("head") is None:
        pytest.fail("bash and head are needed to run a shell pipeline")
    db = tmp_path / "cache.sqlite"
    with SimServer(world, knobs={"*": Knobs(latency=0.02)}) as sim:
        env = cli_env({**sim.settings_env(), "METARR_DB": str(db)})
        script = (
            f"set -o pipefail; '{METARR}' batch '{big_library}' --json | head -1; "
            'echo "status=${PIPESTATUS[0]}" >&2'
        )
        started = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", script], env=env, capture_output=True, timeout=60, check=False
        )
        elapsed = time.monotonic() - started
    assert done.stdout.count(b"\n") == 1 and done.stdout.startswith(b'{"line":')
    assert f"status={OUTPUT_CLOSED}".encode() in done.stderr, done.stderr
    assert b"cannot read" not in done.stderr
    assert elapsed < 30
    assert 1 <= len(check_db(db)) < ROWS


def test_a_closed_stdout_without_json_is_the_same(world: World, tmp_path: Path) -> None:
    rows = write_jsonl(
        tmp_path / "small.jsonl", [{"tmdb_id": 603}, {"tmdb_id": 949}, {"tmdb_id": 862}]
    )
    with SimServer(world) as sim:
        env = cli_env({**sim.settings_env(), "METARR_DB": str(tmp_path / "c.sqlite")})
        script = f"'{METARR}' batch '{rows}' --concurrency 1 | head -c 1 > /dev/null"
        process = subprocess.Popen(
            ["bash", "-c", f"{script}; echo status=${{PIPESTATUS[0]}} >&2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, stderr = process.communicate(timeout=60)
    assert b"cannot read" not in stderr and b"Traceback" not in stderr
    assert f"status={OUTPUT_CLOSED}".encode() in stderr or b"status=0" in stderr, stderr


# -- the cache fails --------------------------------------------------------------------------


def _limited(limit: int) -> None:
    """In the child: files may not grow beyond ``limit`` bytes (a full disk), and writing past
    it fails with EFBIG instead of killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_stops_the_batch_at_the_first_failed_commit(
    world: World, tmp_path: Path, big_library: Path
) -> None:
    db = tmp_path / "cache.sqlite"
    with SimServer(world) as sim:
        env = cli_env({**sim.settings_env(), "METARR_DB": str(db)})
        first = write_jsonl(tmp_path / "first.jsonl", [{"tmdb_id": 603}, {"tmdb_id": 949}])
        assert run_cli(["batch", str(first)], env).returncode == 0
        before = {m.movie.ids.tmdb for m in check_db(db)}
        limit = db.stat().st_size + 64 * 1024  # room for about one more movie in the WAL
        sent_before = _sent(sim)
        done = subprocess.run(
            [str(METARR), "batch", str(big_library), "--concurrency", "4"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
            preexec_fn=lambda: _limited(limit),
        )
        sent = _sent(sim) - sent_before
    stderr = done.stderr.decode()
    assert done.returncode == STORAGE, stderr
    [error] = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert f"cache {db}" in error or str(db) in error
    assert "the batch stopped at line" in error
    assert "Traceback" not in stderr
    # A few rows were in flight when the first commit failed; none started after it.
    per_row = 8  # requests for one movie by id, all four providers, at most
    assert sent <= 12 * per_row, sent
    stored = check_db(db)
    print(
        f"full disk: exit {done.returncode}, {sent} requests for {ROWS} rows, {len(stored)} stored"
    )
    assert before <= {m.movie.ids.tmdb for m in stored}  # nothing committed before was lost
    assert len(stored) < ROWS


@pytest.mark.parametrize("damage", ["pages", "header"])
def test_a_corrupt_database_stops_the_batch_naming_the_file(
    world: World, tmp_path: Path, damage: str
) -> None:
    db = tmp_path / "cache.sqlite"
    ids = [m.tmdb_id for m in world if m.tmdb_id][:6]
    rows = write_jsonl(tmp_path / "lib.jsonl", [{"tmdb_id": n} for n in ids])
    more = write_jsonl(tmp_path / "more.jsonl", [{"tmdb_id": n} for n in ids] * 20)
    with SimServer(world) as sim:
        env = cli_env({**sim.settings_env(), "METARR_DB": str(db)})
        assert run_cli(["batch", str(rows)], env).returncode == 0
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = {r[0] for r in conn.execute("SELECT rootpage FROM sqlite_master")}
        conn.close()
        data = bytearray(db.read_bytes())
        if damage == "header":  # not a database any more: the open fails
            data[:100] = b"\xff" * 100
        else:  # the schema and the tables' first pages are whole: the first row read fails
            for page in range(2, len(data) // page_size + 1):  # rows may sit in reused pages
                if page not in roots:
                    data[(page - 1) * page_size : page * page_size] = b"\xa5" * page_size
        db.write_bytes(bytes(data))
        sent_before = _sent(sim)
        done = run_cli(["batch", str(more), "--concurrency", "2"], env)
        sent = _sent(sim) - sent_before
    stderr = done.stderr.decode()
    assert done.returncode == STORAGE, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and str(db) in errors[0], stderr
    assert "unexpected" not in stderr and "Traceback" not in stderr
    assert re.search(r"the batch stopped at line [12]:", errors[0]) or damage == "header"
    assert sent == 0, sent  # every row reads the cache first: none got as far as a request
