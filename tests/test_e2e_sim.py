"""End to end: the four real plugins over real HTTP against the simulator on 127.0.0.1.

Every outcome, the cross-reference fixed point from each id type with exact request counts,
reuse of search responses, both 429 policies, OMDb's quota and the later fill-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from metarr import Ids
from metarr.cache import Cache
from metarr.config import load_settings
from metarr.engine import Identification
from metarr.orchestrator import Orchestrator
from metarr.plugins import discover
from metarr.query import Query
from metarr_sim import Knobs, SimServer, World

MATRIX = Ids(tmdb=603, imdb="tt0133093", tvdb=216822)


@pytest.fixture(scope="module")
def world(sim_world: World) -> World:
    """The session's world (loaded once: ≈0.6 s of CPU a load)."""
    return sim_world


@pytest.fixture(autouse=True)
def _no_backoff_sleep(quick_retries: None) -> None:
    """Up to three attempts per request, no backoff sleep (metarr's pytest plugin)."""


@attrs.define
class Clock:
    now: datetime = attrs.field(factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


def identify(
    sim: SimServer,
    db: Path,
    queries: list[Query],
    *,
    interactive: bool = False,
    clock: Clock | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Identification]:
    """Run the real orchestrator (real plugins) against the simulator."""
    plugins = [p for p in discover() if p.name in ("tmdb", "omdb", "fanart", "tvdb")]
    settings = load_settings(
        [p.name for p in plugins], env={**sim.settings_env(), **(env or {})}, db_path=db
    )

    async def main() -> list[Identification]:
        orc = Orchestrator(attrs.evolve(settings, plugins=plugins), clock=clock)
        async with orc:
            return [await orc.run(q, interactive=interactive) for q in queries]

    return asyncio.run(main())


def with_sim(world: World, knobs: dict[str, Knobs] | None = None) -> SimServer:
    return SimServer(world, knobs=knobs, seed=7).start()


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # tmdb: details (1) ‖ fanart by tmdb (1) → imdb → omdb (1) ‖ tvdb remoteid + extended (2)
        (Ids(tmdb=603), {"tmdb": 1, "fanart": 1, "omdb": 1, "tvdb": 2}),
        # imdb: tmdb find + details (2) ‖ omdb (1) ‖ fanart (1) ‖ tvdb remoteid + extended (2)
        (Ids(imdb="tt0133093"), {"tmdb": 2, "fanart": 1, "omdb": 1, "tvdb": 2}),
        # tvdb: extended (1) → imdb + tmdb → tmdb details (1) ‖ omdb (1) ‖ fanart (1)
        (Ids(tvdb=216822), {"tmdb": 1, "fanart": 1, "omdb": 1, "tvdb": 1}),
    ],
)
def test_cross_reference_from_each_id_type_with_the_minimum_requests(
    world: World, tmp_path: Path, start: Ids, expected: dict[str, int]
) -> None:
    with with_sim(world) as sim:
        [result] = identify(sim, tmp_path / "m.sqlite", [Query(ids=start)])
        outcome = result.outcome
        assert outcome.status == "identified", outcome.reasons
        assert outcome.movie.ids == MATRIX
        assert outcome.movie.title == "The Matrix"
        assert result.requests_by_provider == expected
        served = {name: sum(c.values()) for name, c in sim.counts().items()}
        assert served == {**expected, "tvdb": expected["tvdb"] + 1}  # + one TVDB login


def test_every_provider_contributes_with_provenance(world: World, tmp_path: Path) -> None:
    with with_sim(world) as sim:
        [result] = identify(sim, tmp_path / "m.sqlite", [Query(ids=Ids(tmdb=603))])
    movie = result.outcome.movie
    assert movie.provenance["title"] == "omdb"
    assert movie.provenance["tagline"] == "tmdb"
    assert movie.provenance["ids.tvdb"] == "tvdb"
    assert {r.source for r in movie.ratings} >= {"imdb", "tmdb"}
    assert {i.provider for i in movie.images} >= {"tmdb", "tvdb"}
    assert movie.runtime and movie.plot and movie.genres


def test_title_and_year_reuses_the_search_responses(world: World, tmp_path: Path) -> None:
    with with_sim(world) as sim:
        [result] = identify(sim, tmp_path / "m.sqlite", [Query(title="Heat", year=1995)])
        counts = sim.counts()
    assert result.outcome.status == "identified", result.outcome.reasons
    assert result.outcome.movie.ids.imdb == "tt0113277"
    # 3 searches + TMDB's cross-reference (reused as its record) + omdb, fanart, tvdb records
    assert result.requests == 7
    assert counts["tmdb"] == {"/search/movie": 1, "/movie/{id}": 1}


def test_same_title_same_year_is_ambiguous(world: World, tmp_path: Path) -> None:
    a, b = next((a, b) for a, b in world.same_title_same_year_pairs() if a.title == "Emma")
    with with_sim(world) as sim:
        [result] = identify(sim, tmp_path / "m.sqlite", [Query(title=a.title, year=a.year)])
    outcome = result.outcome
    assert outcome.status == "ambiguous", outcome.reasons
    assert {c.ids.imdb for c in outcome.candidates} == {a.imdb_id, b.imdb_id}
    with Cache(tmp_path / "m.sqlite") as cache:
        assert list(cache.iter_movies()) == []
        assert [q.status for q in cache.identification_queue()] == ["ambiguous"]


def test_unknown_title_is_not_found(world: World, tmp_path: Path) -> None:
    with with_sim(world) as sim:
        [result] = identify(
            sim, tmp_path / "m.sqlite", [Query(title="Zzyzx Qwertyuiop", year=2003)]
        )
    assert result.outcome.status == "not_found"


def test_dirty_links_between_sources_are_a_conflict(world: World, tmp_path: Path) -> None:
    # Real MovieLens data: two IMDb ids of "Confessions of a Dangerous Mind" share TMDB 4912.
    with with_sim(world) as sim:
        [result] = identify(sim, tmp_path / "m.sqlite", [Query(ids=Ids(imdb="tt0270288"))])
    outcome = result.outcome
    assert outcome.status == "conflict", outcome.reasons
    assert any("imdb" in r and "omdb" in r for r in outcome.reasons)
    with Cache(tmp_path / "m.sqlite") as cache:
        assert list(cache.iter_movies()) == []


def test_automated_429_skips_and_a_later_run_fills_in(world: World, tmp_path: Path) -> None:
    # Fanart.tv documents 429 + Retry-After (OMDb's only limit is its daily quota, below).
    clock = Clock()
    knobs = {"fanart": Knobs(rate=0.01, burst=1)}
    with with_sim(world, knobs) as sim:
        db = tmp_path / "m.sqlite"
        first, second, third = identify(
            sim,
            db,
            [Query(ids=Ids(tmdb=603)), Query(ids=Ids(tmdb=949)), Query(ids=Ids(tmdb=862))],
            clock=clock,
        )
        assert first.outcome.providers["fanart"] == "ok"
        for later in (second, third):
            assert later.outcome.status == "identified"
            assert later.outcome.providers["fanart"] == "rate_limited"
        assert sim.rate_limited_counts()["fanart"] == {"/movies/{id}": 1}  # then paused: no storm
    with Cache(db, clock=clock) as cache:
        assert cache.pending_retry("tmdb:949").provider == "fanart"
    with with_sim(world) as sim:
        clock.now += timedelta(minutes=5)
        [again] = identify(sim, db, [Query(ids=Ids(tmdb=949))], clock=clock)
        assert again.outcome.providers["fanart"] == "ok"
        assert {n: sum(c.values()) for n, c in sim.counts().items() if c} == {"fanart": 1}


def test_interactive_429_is_retried(world: World, tmp_path: Path) -> None:
    # One OMDb request every 2 s: the second lookup's comes sooner (a 429, Retry-After: 1),
    # however fast or slow the machine; the test once passed only because it was slow.
    knobs = {"omdb": Knobs(rate=0.5, burst=1)}
    with with_sim(world, knobs) as sim:
        results = identify(
            sim,
            tmp_path / "m.sqlite",
            [Query(ids=Ids(imdb="tt0133093")), Query(ids=Ids(imdb="tt0113277"))],
            interactive=True,
        )
        limited = sim.rate_limited_counts()["omdb"]
    assert sum(limited.values()) >= 1  # a 429 was answered, and retried:
    assert [r.outcome.providers["omdb"] for r in results] == ["ok", "ok"]


def test_omdb_quota_pauses_omdb_until_reset(world: World, tmp_path: Path) -> None:
    clock = Clock()
    db = tmp_path / "m.sqlite"
    with with_sim(world, {"omdb": Knobs(daily_quota=1)}) as sim:
        results = identify(
            sim,
            db,
            [Query(ids=Ids(tmdb=603)), Query(ids=Ids(tmdb=949)), Query(ids=Ids(tmdb=862))],
            clock=clock,
        )
        assert [r.outcome.status for r in results] == ["identified"] * 3
        assert [r.outcome.providers["omdb"] for r in results] == [
            "ok",
            "rate_limited",
            "rate_limited",
        ]
        assert sum(sim.counts()["omdb"].values()) == 2  # the quota answer, then never again
    with Cache(db, clock=clock) as cache:
        pause = cache.paused_providers(clock.now)["omdb"]
        assert pause.until > clock.now
        assert sorted(m.ids.tmdb for m in cache.incomplete()) == [862, 949]
    # After the reset: the incomplete records are filled in from OMDb alone.
    clock.now = pause.until + timedelta(minutes=1)
    with with_sim(world) as sim:

        async def fill(orc: Orchestrator) -> Any:
            return await orc.refresh_stale(incomplete_only=True)

        outcomes = _with_orchestrator(sim, db, clock, fill)
        assert all(o.providers["omdb"] == "ok" for o in outcomes)
        assert {n: sum(c.values()) for n, c in sim.counts().items() if c} == {"omdb": 2}


def test_warm_run_makes_zero_requests(world: World, tmp_path: Path) -> None:
    queries = [
        Query(ids=Ids(tmdb=603)),
        Query(ids=Ids(imdb="tt0113277")),
        Query(title="Toy Story", year=1995),
    ]
    db = tmp_path / "m.sqlite"
    with with_sim(world) as sim:
        assert [r.outcome.status for r in identify(sim, db, queries)] == ["identified"] * 3
    with with_sim(world) as sim:
        assert [r.outcome.status for r in identify(sim, db, queries)] == ["identified"] * 3
        assert sim.total() == 0


def _with_orchestrator(
    sim: SimServer,
    db: Path,
    clock: Clock,
    action: Callable[[Orchestrator], Coroutine[Any, Any, Any]],
) -> Any:
    plugins = [p for p in discover() if p.name in ("tmdb", "omdb", "fanart", "tvdb")]
    settings = load_settings([p.name for p in plugins], env=sim.settings_env(), db_path=db)

    async def main() -> Any:
        orc = Orchestrator(attrs.evolve(settings, plugins=plugins), clock=clock)
        async with orc:
            return await action(orc)

    return asyncio.run(main())


def test_a_provider_that_found_nothing_is_not_asked_again_by_another_id(
    world: World, tmp_path: Path
) -> None:
    # Fanart.tv has no art for Jumanji: asked by imdb id it answers 404; the tmdb id that TMDB
    # then supplies names the same record, so it is not asked again.
    movie = world.imdb("tt0113497")
    assert movie is not None and not movie.in_fanart
    with with_sim(world) as sim:
        [result] = identify(sim, tmp_path / "m.sqlite", [Query(ids=Ids(imdb="tt0113497"))])
        assert result.outcome.status == "identified"
        assert result.outcome.providers["fanart"] == "not_found"
        assert sim.counts()["fanart"] == {"/movies/{id}": 1}
