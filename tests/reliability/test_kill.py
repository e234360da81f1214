"""Crash safety: ``metarr batch`` and ``metarr remerge`` killed with SIGKILL at random moments lose
nothing.

A library of a few hundred world movies is identified by a real ``metarr batch`` subprocess
against the simulator (with latency, so kills land mid-flight: during start-up, migrations,
requests and commits). After every kill the database must pass ``PRAGMA integrity_check``
and hold only whole movies; every movie the killed process reported identified must be in it.
A final rerun completes the rest, with no movie lost or stored twice.
"""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from metarr.cache import Cache, ProviderPart
from metarr.config import Settings, load_settings
from metarr.ids import Ids
from metarr.models import CastMember, Image, Movie, ProviderResult
from metarr.orchestrator import Orchestrator
from metarr_sim import Knobs, SimServer
from metarr_sim.world import World
from reliability.helpers import (
    PROVIDERS,
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


# -- a kill during remerge -------------------------------------------------------------------

REMERGE_MOVIES = 200
REMERGE_KILLS = 6


def _synthetic_results(n: int) -> dict[str, ProviderResult]:
    """Four providers' records of one made-up movie, each with its own title and artwork."""
    ids = Ids(tmdb=500_000 + n, imdb=f"tt{8_000_000 + n}", tvdb=700_000 + n)
    own = {
        "tmdb": Ids(tmdb=ids.tmdb, imdb=ids.imdb),
        "omdb": Ids(imdb=ids.imdb),
        "fanart": Ids(tmdb=ids.tmdb, imdb=ids.imdb),
        "tvdb": Ids(imdb=ids.imdb, tvdb=ids.tvdb),
    }
    return {
        name: ProviderResult(
            provider=name,
            ids=own[name],
            title=f"Movie {n} [{name}]",
            year=1990 + n % 30,
            plot=f"{name} plot of movie {n}. " * 20,
            images=[
                Image(provider=name, kind="poster", url=f"https://img.test/{name}/{n}/{i}.jpg")
                for i in range(8)
            ],
            cast=[CastMember(name=f"{name} actor {i}", provider=name) for i in range(6)],
            raw={"movie": {"id": n, "note": "x" * 2000}},
        )
        for name in PROVIDERS
    }


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def _movie_columns(db: Path) -> list[tuple[object, ...]]:
    return _rows(
        db,
        "SELECT id, tmdb_id, imdb_id, tvdb_id, identified_at, refreshed_at, input_key, input "
        "FROM provider_cache_movies ORDER BY id",
    )


def _part_rows(db: Path) -> list[tuple[object, ...]]:
    return _rows(db, "SELECT * FROM provider_parts ORDER BY movie_id, provider")


@pytest.mark.slow
def test_sigkill_during_remerge_changes_nothing_but_whole_records(
    world: World, tmp_path: Path
) -> None:
    """``metarr remerge`` under a new [priority], killed at random moments: every movie is
    either its old record or its new one, whole; parts, keys, inputs and times never move."""
    rng = random.Random(SEED)
    db = tmp_path / "cache.sqlite"
    config = tmp_path / "metarr.toml"
    config.write_text('[priority]\ntitle = ["tvdb"]\nplot = ["fanart"]\n', encoding="utf-8")
    env = cli_env(SimServer(world).settings_env())  # keys only: remerge sends no request
    names = list(PROVIDERS)

    def merger(settings: Settings) -> Callable[[Mapping[str, ProviderResult]], Movie]:
        return Orchestrator(settings).engine.merge

    merge_old = merger(load_settings(names, env=env, db_path=db))
    merge_new = merger(load_settings(names, env=env, db_path=db, config_path=config))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with Cache(db) as cache:
        for n in range(REMERGE_MOVIES):
            results = _synthetic_results(n)
            parts = {
                name: ProviderPart(provider=name, status="ok", fetched_at=at, result=result)
                for name, result in results.items()
            }
            cache.commit(merge_old(results), parts, key=f"movie {n}.mkv", input={"n": n})
    columns, part_rows = _movie_columns(db), _part_rows(db)
    args = ["--config", str(config), "--db", str(db), "remerge"]
    pristine = tmp_path / "pristine.sqlite"
    # The backup API copies what is committed, WAL frames included: a file copy does not when
    # a connection left open elsewhere kept the last commits from being checkpointed.
    with sqlite3.connect(db) as source, sqlite3.connect(pristine) as target:
        source.backup(target)
    source.close()
    target.close()
    first_sql = "SELECT movie FROM provider_cache_movies ORDER BY id LIMIT 1"
    last_sql = "SELECT movie FROM provider_cache_movies ORDER BY id DESC LIMIT 1"
    first, last = _rows(db, first_sql), _rows(db, last_sql)

    def rewritten(process: subprocess.Popen[bytes], sql: str, before: object) -> float:
        """Wait until the remerge (in id order) has rewritten the movie ``sql`` reads; return
        when that was."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if _rows(db, sql) != before:
                return time.monotonic()
            time.sleep(0.005)
        raise AssertionError("the remerge never began" if sql == first_sql else "never ended")

    def started(process: subprocess.Popen[bytes]) -> float:
        return rewritten(process, first_sql, first)

    def rebuilt() -> int:
        """How many movies hold their new record (integrity and whole movies checked)."""
        count = 0
        for stored in check_db(db):
            if stored.movie != merge_new(stored.results):
                assert stored.movie == merge_old(stored.results), f"movie {stored.id} is mixed"
            else:
                count += 1
        return count

    with popen_cli(args, env) as probe:  # how long the rewriting takes here (first to last
        began = started(probe)  # movie: the process's exit after it is no place for a kill)
        span = rewritten(probe, last_sql, last) - began
        assert probe.wait(timeout=120) == 0
    assert rebuilt() == REMERGE_MOVIES
    mid_remerge = 0
    for _ in range(REMERGE_KILLS):
        shutil.copy(pristine, db)  # every kill meets a whole remerge to do
        for leftover in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            leftover.unlink(missing_ok=True)
        with popen_cli(args, env) as process:
            started(process)
            time.sleep(rng.uniform(0, 0.8 * span))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=15)
        assert process.returncode in (-signal.SIGKILL, 0)
        done = rebuilt()  # only old or new records, each whole
        assert _movie_columns(db) == columns  # keys, inputs, times untouched
        assert _part_rows(db) == part_rows  # parts untouched
        mid_remerge += 0 < done < REMERGE_MOVIES
    final = run_cli(args, env, timeout=120)  # a rerun finishes the job
    assert final.returncode == 0, final.stderr.decode()
    assert rebuilt() == REMERGE_MOVIES
    assert _part_rows(db) == part_rows
    assert mid_remerge >= REMERGE_KILLS // 2, "too few kills landed in the middle of a remerge"
    print(f"remerge kills survived: {REMERGE_KILLS} ({mid_remerge} mid-remerge)")
