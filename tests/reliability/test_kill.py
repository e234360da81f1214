"""Crash safety: ``metarr batch`` killed with SIGKILL at random moments loses nothing.

A library of a few hundred world movies is identified by a real ``metarr batch`` subprocess
against the simulator (with latency, so kills land mid-flight: during start-up, migrations,
requests and commits). After every kill the database must pass ``PRAGMA integrity_check``
and hold only whole movies; every movie the killed process reported identified must be in it.
A final rerun completes the rest, with no movie lost or stored twice.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path

import pytest
from metarr_sim import Knobs, SimServer
from metarr_sim.world import World
from reliability.helpers import (
    check_db,
    cli_env,
    library,
    movie_key,
    outcome_lines,
    popen_cli,
    run_cli,
    write_jsonl,
)

KILLS = 20
LIBRARY_SIZE = 300
SEED = 20240611


def _kill_at_random(args: list[str], env: dict[str, str], rng: random.Random) -> bytes:
    """Start the batch, SIGKILL it at a random moment, return what it printed."""
    with popen_cli(args, env) as process:
        assert process.stdout is not None
        out = bytearray()
        first = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                out.extend(line)
                first.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if rng.random() < 0.25:
            time.sleep(rng.uniform(0.0, 1.0))  # start-up, schema migration, first requests
        else:
            first.wait(timeout=15)
            time.sleep(rng.uniform(0.05, 1.0))  # mid-batch: requests and commits in flight
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=15)
        reader.join(timeout=15)
        assert process.returncode == -signal.SIGKILL or process.returncode == 0
        return bytes(out)


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(world: World, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    rows = library(world, LIBRARY_SIZE, seed=SEED)
    batch_file = write_jsonl(tmp_path / "library.jsonl", rows)
    db = tmp_path / "cache.sqlite"
    args = ["--db", str(db), "batch", str(batch_file), "--json", "--concurrency", "4"]
    seen: dict[int, tuple[object, ...]] = {}  # input line -> ids reported identified
    killed_mid_batch = 0
    stored_before = 0
    with SimServer(world, knobs={"*": Knobs(latency=0.03, jitter=0.02)}, seed=3) as sim:
        env = cli_env(sim.settings_env())
        for _ in range(KILLS):
            printed = outcome_lines(_kill_at_random(args, env, rng))
            stored = check_db(db)  # integrity_check + only whole movies
            keys = {(m.movie.ids.tmdb, m.movie.ids.imdb, m.movie.ids.tvdb) for m in stored}
            assert len(stored) >= stored_before, "committed movies disappeared"
            stored_before = len(stored)
            for line in printed:
                if line["status"] == "identified":
                    key = movie_key(line)
                    assert key in keys, f"line {line['line']} was reported but is not stored"
                    assert seen.setdefault(line["line"], key) == key
            killed_mid_batch += len(printed) < len(rows)
        final = run_cli(args, env, timeout=120)
    assert final.returncode in (0, 3), final.stderr.decode()[-2000:]
    assert b"Traceback" not in final.stderr
    lines = outcome_lines(final.stdout)
    assert sorted(line["line"] for line in lines) == list(range(1, len(rows) + 1))
    assert not [line for line in lines if line["status"] in ("error", "rate_limited")]
    identified = {line["line"]: movie_key(line) for line in lines if line["status"] == "identified"}
    for number, key in seen.items():
        assert identified.get(number) == key, f"line {number} was lost or changed"
    stored = check_db(db)
    assert len(stored) == len(set(identified.values())), "movies lost or stored twice"
    assert {(m.movie.ids.tmdb, m.movie.ids.imdb, m.movie.ids.tvdb) for m in stored} == set(
        identified.values()
    )
    assert len(identified) >= 0.9 * len(rows)
    assert killed_mid_batch >= KILLS // 2, "too few kills landed before the batch finished"
    print(f"kills survived: {KILLS} ({killed_mid_batch} mid-batch); movies: {len(stored)}")
