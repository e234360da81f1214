"""Pacing against the simulator's token bucket: a batch at concurrency 64 against a TMDB that
sustains two requests in flight. Asserted on what the gate decided, which a busy machine does
not change: each 429 wave is no larger than what was in flight when it hit the wall, a wall is
never walked into twice while remembered, and the gate keeps enough requests in flight to use
the provider's rate. (The rates themselves, requests per second and the share of 429s, are
benchmark figures: `benchmarks/run.py`'s pacing section.)"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from metarr import gate
from metarr.config import load_settings
from metarr.orchestrator import Orchestrator
from metarr.plugins import discover
from metarr.query import Query
from metarr_sim import Knobs, SimServer, World

RATE = 20.0  # TMDB requests per second the bucket refills (burst: as many)
LATENCY = 0.1


@pytest.fixture(scope="module")
def world(sim_world: World) -> World:
    """The session's world (loaded once: ≈0.6 s of CPU a load)."""
    return sim_world


@attrs.frozen
class Episode:
    """One 429 episode of TMDB's gate: when it began and the concurrency that hit the wall."""

    at: float
    wall: int


@attrs.frozen
class PacedRun:
    sent: int  # TMDB's requests, as the simulator counted them
    limited: int  # of them answered 429
    episodes: list[Episode]
    in_flight: list[int]  # TMDB's gate's requests in flight, sampled every 2 ms (steady part)
    elapsed: float


def paced_batch(
    world: World, db: Path, rows: int, concurrency: int, monkeypatch: pytest.MonkeyPatch
) -> PacedRun:
    """A title + year batch against a token-bucketed TMDB; what TMDB's gate decided (each
    episode, its in-flight count over the run's steady part) and what the simulator saw."""
    movies = random.Random(64).sample([m for m in world if m.year and m.tmdb_id], rows)
    knobs = {"tmdb": Knobs(latency=LATENCY, rate=RATE), "*": Knobs(latency=LATENCY)}
    episodes: list[Episode] = []
    pause = gate.ProviderGate.pause

    def recording_pause(self: gate.ProviderGate, *args: Any, **kwargs: Any) -> None:
        if self.name == "tmdb" and self.paused_for() == 0:  # a new episode
            episodes.append(Episode(time.monotonic(), self.in_flight))
        pause(self, *args, **kwargs)

    monkeypatch.setattr(gate.ProviderGate, "pause", recording_pause)
    with SimServer(world, knobs=knobs, seed=3) as sim:
        plugins = [p for p in discover() if p.name in ("tmdb", "omdb", "fanart", "tvdb")]
        settings = load_settings([p.name for p in plugins], env=sim.settings_env(), db_path=db)
        settings = attrs.evolve(settings, plugins=plugins)
        samples: list[tuple[int, int]] = []  # (TMDB requests sent, TMDB's gate's in flight)
        tmdb_gate: list[gate.ProviderGate] = []
        done = threading.Event()

        def sent() -> int:
            return sum(sim.counts()["tmdb"].values())

        def watch() -> None:
            while not done.is_set():
                if tmdb_gate:
                    samples.append((sent(), tmdb_gate[0].in_flight))
                time.sleep(0.002)

        async def main() -> None:
            queries = (Query(title=m.title, year=m.year) for m in movies)
            async with Orchestrator(settings) as orc:
                tmdb_gate.append(orc.engine.gates["tmdb"])
                async with orc.identify_many(queries, concurrency=concurrency) as batch:
                    async for _ in batch:
                        pass

        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.perf_counter()
        try:
            asyncio.run(main())
        finally:
            elapsed = time.perf_counter() - started
            done.set()
            watcher.join()
        total = sent()
        return PacedRun(
            sent=total,
            limited=sum(sim.rate_limited_counts()["tmdb"].values()),
            episodes=episodes,
            # the steady part: from 10 % to 90 % of TMDB's requests (no start-up, no tail)
            in_flight=[n for s, n in samples if 0.1 * total <= s <= 0.9 * total],
            elapsed=elapsed,
        )


@pytest.mark.slow
def test_at_concurrency_64_few_429s_and_the_limit_kept(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TMDB sustains about two requests in flight here (20 req/s, 0.1 s); the batch allows
    # 64. With the gate opening at 64, no wall remembered from the 429 told at arrival, and
    # retries firing together when the pause ended, 18 % of TMDB's requests got a 429 (57 of
    # 322, the first wave included); now 2-8 % (the first wave, then a few per halving). That
    # share and the rate depend on how steady the round trips are, which a loaded machine
    # is not: the wall-time rate (≥ 16 req/s) failed here under load (13.5 req/s) with the gate
    # deciding as designed. What the gate decided is asserted instead.
    run = paced_batch(world, tmp_path / "m.sqlite", 200, 64, monkeypatch)
    summary = (run.sent, run.limited, run.episodes)
    assert run.episodes, summary  # the batch did walk into TMDB's limit
    # A wave of 429s is at most what was in flight when it hit the wall: nothing went out
    # while the provider was paused.
    assert run.limited <= sum(e.wall for e in run.episodes), summary
    # A wall remembered caps the limit below it: never the same wall twice (in 15 s).
    for before, after in zip(run.episodes, run.episodes[1:], strict=False):
        if after.at - before.at < gate.WALL_MEMORY:
            assert after.wall < before.wall, summary
    # Between the walls the gate kept the provider busy: on average at least 80 % of the
    # concurrency it sustains (rate × latency) in flight, pauses included.
    need = RATE * LATENCY
    kept = statistics.fmean(run.in_flight)
    assert kept >= 0.8 * need, (kept, summary)
    print(
        f"TMDB: {run.sent} requests, {run.limited} 429s in {len(run.episodes)} episodes "
        f"(walls {[e.wall for e in run.episodes]}), {kept:.1f} in flight on average, "
        f"{run.sent / run.elapsed:.1f} req/s"
    )


def test_slow_start_grows_the_limit_by_half_each_round_trip() -> None:
    async def main() -> list[float]:
        g = gate.ProviderGate("p", max_concurrency=64)
        limits = []
        for _ in range(9):
            width = int(g.limit)
            for _ in range(width):
                assert await g.acquire(max_wait=0)
            for _ in range(width):
                await g.release()
            limits.append(g.limit)
        return limits

    assert asyncio.run(main()) == [12, 18, 27, 40.5, 60.5, 64, 64, 64, 64]
