"""How long `get()` takes to read one committed movie from a cache of 10,000 movies.

    uv run python benchmarks/get_bench.py [--movies 10000] [--reads 2000]

One real merged movie (The Matrix, looked up through the simulator: 80 images, cast, crew,
ratings) is committed, then cloned in SQL into ``--movies`` rows with ids of their own, so
the database has the size and shape of a real library's records. Random ids are then read
through each API, and the median and 95th percentile printed:

- ``CacheReader.get``: the read-only reader (what `SyncOrchestrator.get` calls directly);
- ``SyncOrchestrator.get``: the same from the sync facade;
- ``Orchestrator.get``: awaited on an event loop (one hop to a worker thread and back);
- ``get(parts=True)``: every provider part and raw payload too (the old `Cache.find`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from metarr import CacheReader, Ids, Orchestrator, SyncOrchestrator, load_settings
from metarr.cache.packed import pack_text, unpack
from metarr.plugins import discover
from metarr_sim import PROVIDERS, SimServer, World

TEMPLATE = Ids(tmdb=603)
BASE_TMDB, BASE_IMDB, BASE_TVDB = 10_000_000, 90_000_000, 50_000_000


def build(db: Path, movies: int, *, parts: bool = True) -> None:
    """A cache of ``movies`` copies of one real merged movie, each with its own ids (with
    ``parts``, its provider parts and raw payloads too: about 75 kB a movie)."""
    plugins = [info for info in discover() if info.name in PROVIDERS]
    with SimServer(World.load()) as sim:
        settings = load_settings(plugins, env=sim.settings_env(), db_path=db)

        async def commit() -> None:
            async with Orchestrator(settings) as orc:
                outcome = await orc.lookup(TEMPLATE)
                assert outcome.status == "identified", outcome.reasons

        asyncio.run(commit())
    conn = sqlite3.connect(db)
    # The stored movie is compressed JSON (`metarr.cache.packed`): SQL's json_set on its text.
    conn.create_function("unpack", 1, unpack, deterministic=True)
    conn.create_function("pack", 1, pack_text, deterministic=True)
    with conn:
        conn.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO provider_cache_movies
                (tmdb_id, imdb_id, tvdb_id, title, year, movie, provenance,
                 identified_at, refreshed_at, input_key, input)
            SELECT ? + i, printf('tt%08d', ? + i), ? + i, m.title, m.year,
                   pack(json_set(unpack(m.movie), '$.ids.tmdb', ? + i,
                                 '$.ids.imdb', printf('tt%08d', ? + i), '$.ids.tvdb', ? + i)),
                   m.provenance, m.identified_at, m.refreshed_at, 'copy ' || i, m.input
            FROM n, provider_cache_movies AS m WHERE m.tmdb_id = 603
            """,
            [movies - 1, BASE_TMDB, BASE_IMDB, BASE_TVDB, BASE_TMDB, BASE_IMDB, BASE_TVDB],
        )
        if parts:
            conn.execute(
                """
                INSERT INTO provider_parts (movie_id, provider, status, fetched_at, error, result)
                SELECT m.id, p.provider, p.status, p.fetched_at, p.error, p.result
                FROM provider_cache_movies AS m, provider_parts AS p
                WHERE m.tmdb_id > ? AND p.movie_id = (
                    SELECT id FROM provider_cache_movies WHERE tmdb_id = 603)
                """,
                [BASE_TMDB],
            )
    conn.close()


def sample_ids(movies: int, reads: int, seed: int = 7) -> list[Ids]:
    """Random ids of the cloned movies (every kind, as callers use them)."""
    rng = random.Random(seed)
    ids = []
    for _ in range(reads):
        n = rng.randrange(1, movies)
        ids.append(
            rng.choice(
                [
                    Ids(tmdb=BASE_TMDB + n),
                    Ids(imdb=f"tt{BASE_IMDB + n:08d}"),
                    Ids(tvdb=BASE_TVDB + n),
                ]
            )
        )
    return ids


def timed(read: Callable[[Ids], object], ids: list[Ids]) -> list[float]:
    """Seconds per read, each checked to find its movie."""
    times = []
    for wanted in ids:
        start = time.perf_counter()
        found = read(wanted)
        times.append(time.perf_counter() - start)
        assert found is not None, wanted
    return times


async def timed_async(orc: Orchestrator, ids: list[Ids]) -> list[float]:
    times = []
    for wanted in ids:
        start = time.perf_counter()
        found = await orc.get(wanted)
        times.append(time.perf_counter() - start)
        assert found is not None, wanted
    return times


def measure(db: Path, movies: int, reads: int) -> dict[str, list[float]]:
    """Per-read times of every way to read, after a warm-up pass."""
    ids = sample_ids(movies, reads)
    plugins = [info for info in discover() if info.name in PROVIDERS]
    settings = load_settings(plugins, env={}, db_path=db)
    results: dict[str, list[float]] = {}
    with CacheReader(db) as reader:
        timed(reader.get, ids[: reads // 4])
        results["CacheReader.get"] = timed(reader.get, ids)
        results["get(parts=True)"] = timed(
            lambda wanted: reader.get(wanted, parts=True), ids[: max(50, reads // 10)]
        )
    with SyncOrchestrator(settings) as sync:
        results["SyncOrchestrator.get"] = timed(sync.get, ids)

    async def on_loop() -> list[float]:
        async with Orchestrator(settings) as orc:
            await timed_async(orc, ids[: reads // 4])
            return await timed_async(orc, ids)

    results["Orchestrator.get"] = asyncio.run(on_loop())
    return results


def report(results: dict[str, list[float]], movies: int) -> list[str]:
    lines = [f"get() at {movies:,} movies: median and 95th percentile, in ms"]
    for name, times in results.items():
        ordered = sorted(times)
        p95 = ordered[int(len(ordered) * 0.95) - 1]
        lines.append(
            f"  {name:<22} median {statistics.median(times) * 1000:6.3f}   p95 {p95 * 1000:6.3f}"
            f"   ({len(times)} reads)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "get.sqlite"
        started = time.monotonic()
        build(db, args.movies)
        print(
            f"built {args.movies:,} movies in {time.monotonic() - started:.1f} s "
            f"({db.stat().st_size / 1e6:.0f} MB)"
        )
        print("\n".join(report(measure(db, args.movies, args.reads), args.movies)))


if __name__ == "__main__":
    main()
