"""What ``refresh --stale`` spends: change feeds, age-aware TTLs (real plugins, simulator)."""

from __future__ import annotations

import asyncio
import math
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import metarr
import pytest
from metarr import Ids, contract
from metarr.cache import Cache
from metarr.config import load_settings
from metarr.errors import ConfigError, PluginError
from metarr.freshness import RefreshRules
from metarr.models import Outcome
from metarr.orchestrator import Orchestrator
from metarr.plugins import discover
from metarr.spec import spec_of
from metarr_sim import Knobs, SimServer, World

MATRIX, HEAT, TOY_STORY = 603, 949, 862  # 1999, 1995, 1995
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
# Only TMDB goes stale in these tests: the others keep their parts for a year.
ONLY_TMDB = {f"METARR_{p}_TTL_DAYS": "365" for p in ("OMDB", "FANART", "TVDB")}
PROVIDER_NAMES = ("tmdb", "omdb", "fanart", "tvdb")
TTL_DAYS = {"tmdb": 7.0, "omdb": 365.0, "fanart": 365.0, "tvdb": 365.0}
FLAT = {"age_ttl": [[math.inf, 1]]}


@pytest.fixture(scope="module")
def world(sim_world: World) -> World:
    """The session's world (loaded once: ≈0.6 s of CPU a load)."""
    return sim_world


@pytest.fixture(autouse=True)
def _no_backoff_sleep(quick_retries: None) -> None:
    """No backoff sleep between attempts (metarr's pytest plugin)."""


@attrs.define
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


def run(
    sim: SimServer,
    db: Path,
    clock: Clock,
    action: Callable[[Orchestrator], Coroutine[Any, Any, Any]],
    *,
    refresh: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Any:
    plugins = [p for p in discover() if p.name in ("tmdb", "omdb", "fanart", "tvdb")]
    settings = load_settings(
        [p.name for p in plugins], env={**sim.settings_env(), **ONLY_TMDB, **(env or {})}
    )
    settings = attrs.evolve(settings, plugins=plugins, db=db, refresh=refresh or FLAT)

    async def main() -> Any:
        async with Orchestrator(settings, clock=clock) as orc:
            return await action(orc)

    return asyncio.run(main())


def cache_three(world: World, db: Path, clock: Clock) -> None:
    with SimServer(world, seed=7) as sim:

        async def identify(orc: Orchestrator) -> list[Outcome]:
            return [await orc.lookup(Ids(tmdb=t)) for t in (MATRIX, HEAT, TOY_STORY)]

        assert [o.status for o in run(sim, db, clock, identify)] == ["identified"] * 3


def refresh_stale(orc: Orchestrator) -> Any:
    return orc.refresh_stale()


def by_tmdb(outcomes: list[Outcome]) -> dict[int | None, Outcome]:
    return {o.movie.ids.tmdb if o.movie else None: o for o in outcomes}


def test_the_change_feed_spares_the_unchanged_movies(world: World, tmp_path: Path) -> None:
    db, clock = tmp_path / "m.sqlite", Clock()
    cache_three(world, db, clock)
    clock.now = T0 + timedelta(days=8)  # TMDB's seven days are over for all three
    changes = {HEAT: [T0 + timedelta(days=3)], 550: [T0 + timedelta(days=5)]}
    with SimServer(world, seed=7, changes=changes, clock=clock) as sim:
        outcomes = by_tmdb(run(sim, db, clock, refresh_stale))
        # one feed request for the whole library, one refetch: the movie TMDB changed
        assert sim.counts()["tmdb"] == {"/movie/changes": 1, "/movie/{id}": 1}
        assert {n: sum(c.values()) for n, c in sim.counts().items() if c} == {"tmdb": 2}
    note = "tmdb: confirmed unchanged by tmdb's change feed on 2026-11-10 (no request)"
    assert set(outcomes) == {MATRIX, HEAT, TOY_STORY}
    assert all(o.status == "identified" for o in outcomes.values())
    assert note in outcomes[MATRIX].reasons and note in outcomes[TOY_STORY].reasons
    assert note not in outcomes[HEAT].reasons
    with Cache(db, ttl_days=TTL_DAYS, clock=clock) as cache:
        assert cache.stale_ids() == []  # confirmed or refetched: fresh for seven more days
        matrix = cache.get("tmdb", MATRIX)
        assert matrix is not None
        assert matrix.parts["tmdb"].fetched_at == T0  # the data is the data fetched then
        checked_at, why = cache.part_checks(matrix.id)["tmdb"]
        assert (checked_at, why) == (clock.now, note.removesuffix(" (no request)"))
        heat = cache.get("tmdb", HEAT)
        assert heat is not None and heat.parts["tmdb"].fetched_at == clock.now
        assert "tmdb" not in cache.part_checks(heat.id)

    # A week later the feed is asked from the last confirmation (2026-11-10): a change dated
    # before it is outside the window, one after it is inside.
    clock.now += timedelta(days=8)
    changes = {MATRIX: [T0 + timedelta(days=7)], TOY_STORY: [clock.now - timedelta(days=1)]}
    with SimServer(world, seed=7, changes=changes, clock=clock) as sim:
        outcomes = by_tmdb(run(sim, db, clock, refresh_stale))
        assert sim.counts()["tmdb"] == {"/movie/changes": 1, "/movie/{id}": 1}
    note = "tmdb: confirmed unchanged by tmdb's change feed on 2026-11-18 (no request)"
    assert [t for t, o in outcomes.items() if note in o.reasons] == [MATRIX, HEAT]
    assert all(o.status == "identified" for o in outcomes.values())


def test_a_failing_feed_means_refetching_never_fresh_without_evidence(
    world: World, tmp_path: Path
) -> None:
    db, clock = tmp_path / "m.sqlite", Clock()
    cache_three(world, db, clock)
    clock.now = T0 + timedelta(days=8)
    knobs = {"tmdb": Knobs(fault_rate=1.0, faults=("503",))}
    with SimServer(world, seed=7, knobs=knobs, clock=clock) as sim:
        outcomes = run(sim, db, clock, refresh_stale)
        assert sim.counts()["tmdb"]["/movie/changes"] >= 1
        assert sim.counts()["tmdb"]["/movie/{id}"] >= 3  # every stale movie was tried
    assert all(o.status == "error" for o in outcomes)
    assert not any("change feed" in r for o in outcomes for r in o.reasons)
    with Cache(db, ttl_days=TTL_DAYS, clock=clock) as cache:
        assert len(cache.stale_ids()) == 3  # still stale: nothing vouched for them
        assert all(cache.part_checks(i) == {} for i in cache.stale_ids())


def test_a_feed_that_cannot_tell_means_refetching(world: World, tmp_path: Path) -> None:
    db, clock = tmp_path / "m.sqlite", Clock()
    cache_three(world, db, clock)
    clock.now = T0 + timedelta(days=8)
    busy = {tmdb_id: [T0 + timedelta(days=1)] for tmdb_id in range(10_000, 10_150)}  # 2 pages
    with SimServer(world, seed=7, changes=busy, clock=clock) as sim:
        run(sim, db, clock, refresh_stale, env={"METARR_TMDB_FEED_MAX_PAGES": "1"})
        # eight days need two pages: the feed cannot tell; the last day alone (one page) can,
        # but vouches for no part fetched before it: all three are refetched
        assert sim.counts()["tmdb"] == {"/movie/changes": 2, "/movie/{id}": 3}
    with Cache(db, ttl_days=TTL_DAYS, clock=clock) as cache:
        assert cache.stale_ids() == []
        assert all(cache.part_checks(i) == {} for i in (1, 2, 3))


def test_parts_older_than_the_look_back_are_refetched_without_the_feed(
    world: World, tmp_path: Path
) -> None:
    db, clock = tmp_path / "m.sqlite", Clock()
    cache_three(world, db, clock)
    clock.now = T0 + timedelta(days=91)  # the default look-back is 90 days
    with SimServer(world, seed=7, clock=clock) as sim:
        run(sim, db, clock, refresh_stale)
        assert sim.counts()["tmdb"] == {"/movie/{id}": 3}
    clock.now += timedelta(days=8)
    with SimServer(world, seed=7, clock=clock) as sim:  # a shorter look-back: same
        run(sim, db, clock, refresh_stale, refresh={**FLAT, "feed_lookback_days": 5})
        assert sim.counts()["tmdb"] == {"/movie/{id}": 3}


def test_old_films_stay_fresh_longer(world: World, tmp_path: Path) -> None:
    # The same film, cached the year it came out and 27 years later (default rule: < 1 year
    # x1, 1-5 years x4, older x12 on TMDB's 7 days).
    young = Clock(datetime(1999, 6, 1, tzinfo=UTC))
    old = Clock(T0)
    for clock, fresh_days in ((young, 7), (old, 84)):
        db = tmp_path / f"{clock.now.year}.sqlite"
        with SimServer(world, seed=7) as sim:
            run(sim, db, clock, lambda o: o.lookup(Ids(tmdb=MATRIX)), refresh={})
        with Cache(db, ttl_days=TTL_DAYS, rules=RefreshRules()) as cache:
            for days, stale in ((fresh_days - 0.5, []), (fresh_days + 0.5, [1])):
                now = clock.now + timedelta(days=days)
                assert cache.stale_ids(now) == stale, (clock.now.year, days)
                cached = cache.get("tmdb", MATRIX)
                assert cached is not None
                assert cache.stale_providers(cached, now) == (["tmdb"] if stale else [])
        with Cache(db, ttl_days=TTL_DAYS) as flat:  # without rules: the TTLs as given
            assert flat.stale_ids(clock.now + timedelta(days=7.5)) == [1]


def test_refresh_rules_are_validated_in_code_and_in_the_config_file(tmp_path: Path) -> None:
    rules = RefreshRules()
    assert rules.age_ttl == ((1.0, 1.0), (5.0, 4.0), (math.inf, 12.0))
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert [rules.factor(y, now) for y in (None, 2027, 2026, 2025, 2024, 2021, 2020)] == [
        1,
        1,
        1,
        1,
        4,
        4,
        12,
    ]
    for bad, message in (
        ([[5, 4], [1, 1]], "ascending"),
        ([[1, 0.5]], "factor must be a number ≥ 1"),
        ([[1]], r"each band is \[years, factor\]"),
        ("1:1", "list of"),
        ([], "at least one"),
    ):
        with pytest.raises(ConfigError, match=message):
            RefreshRules(age_ttl=bad)
    config = tmp_path / "config.toml"
    config.write_text("[refresh]\nage_ttl = [[2, 1], [inf, 6]]\nfeed_lookback_days = 30\n")
    settings = load_settings([], config_path=config)
    assert settings.refresh == RefreshRules(age_ttl=[[2, 1], [math.inf, 6]], feed_lookback_days=30)
    config.write_text("[refresh]\nage_tll = [[2, 1]]\n")
    with pytest.raises(ConfigError, match=r"config.toml: refresh: unknown setting\(s\) age_tll"):
        load_settings([], config_path=config)


def test_a_change_feed_answer_is_checked_at_the_boundary() -> None:
    assert contract.changed("tmdb", "changed_since", None) is None
    assert contract.changed("tmdb", "changed_since", frozenset({"603"})) == {"603"}
    for bad in ([603], {603}, "603"):
        with pytest.raises(PluginError, match=r"plugin bug in tmdb\.changed_since: returned a"):
            contract.changed("tmdb", "changed_since", bad)

    class SyncFeed(metarr.Provider):
        @metarr.hookimpl
        def changed_since(self, since: datetime, until: datetime) -> set[str]:
            return set()

    with pytest.raises(PluginError, match="changed_since must be 'async def'"):
        spec_of(SyncFeed)


def test_one_feed_call_confirms_every_unchanged_part_and_remembers_the_changed(
    world: World, tmp_path: Path
) -> None:
    db, clock = tmp_path / "m.sqlite", Clock()

    def lookup(*tmdb_ids: int) -> None:
        async def each(orc: Orchestrator) -> list[Outcome]:
            return [await orc.lookup(Ids(tmdb=t)) for t in tmdb_ids]

        with SimServer(world, seed=7) as sim:
            assert {o.status for o in run(sim, db, clock, each)} == {"identified"}

    lookup(MATRIX)
    clock.now = T0 + timedelta(days=4)
    lookup(HEAT, TOY_STORY)
    clock.now = T0 + timedelta(days=8)  # only The Matrix is stale
    with SimServer(world, seed=7, changes={TOY_STORY: [T0 + timedelta(days=6)]}) as sim:
        outcomes = by_tmdb(run(sim, db, clock, refresh_stale))
        assert sim.counts()["tmdb"] == {"/movie/changes": 1}
    assert list(outcomes) == [MATRIX]
    with Cache(db, ttl_days=TTL_DAYS, clock=clock) as cache:
        movies = [cache.get("tmdb", t) for t in (MATRIX, HEAT, TOY_STORY)]
        confirmed = [m.ids.tmdb for m in movies if m and "tmdb" in cache.part_checks(m.id)]
    assert confirmed == [MATRIX, HEAT]  # Heat was not stale yet: confirmed all the same

    # Four days on, Toy Story is stale (Heat was confirmed with The Matrix). The feed starts
    # at the last confirmation (a change dated before it is not asked about) and confirms the
    # other two again; Toy Story, known changed, is refetched.
    clock.now = T0 + timedelta(days=12)
    changes = {HEAT: [T0 + timedelta(days=7)]}
    with SimServer(world, seed=7, changes=changes) as sim:
        outcomes = by_tmdb(run(sim, db, clock, refresh_stale))
        assert sim.counts()["tmdb"] == {"/movie/changes": 1, "/movie/{id}": 1}
    assert list(outcomes) == [TOY_STORY]
    assert not any("change feed" in reason for reason in outcomes[TOY_STORY].reasons)
    with Cache(db, ttl_days=TTL_DAYS, clock=clock) as cache:
        assert cache.stale_ids() == []
        toy_story, heat = cache.get("tmdb", TOY_STORY), cache.get("tmdb", HEAT)
        assert toy_story is not None and toy_story.parts["tmdb"].fetched_at == clock.now
        assert heat is not None
        checked_at, note = cache.part_checks(heat.id)["tmdb"]
        assert (checked_at, note) == (
            clock.now,
            "tmdb: confirmed unchanged by tmdb's change feed on 2026-11-14",
        )


def test_refreshes_leave_identifications_their_share_of_omdb_s_daily_requests(
    world: World, tmp_path: Path
) -> None:
    # OMDb allows 10 requests a day here; refreshes may spend half. Eight cached movies are
    # stale: five are refreshed from OMDb, three stay stale and say why; a new film is still
    # identified with OMDb's part (its quota is not spent by the refreshes).
    db, clock = tmp_path / "m.sqlite", Clock()
    films = [MATRIX, HEAT, TOY_STORY, 550, 13, 680, 278, 238]
    with SimServer(world, seed=7) as sim:

        async def cache_all(orc: Orchestrator) -> list[Outcome]:
            return [await orc.lookup(Ids(tmdb=t)) for t in films]

        assert {o.status for o in run(sim, db, clock, cache_all)} == {"identified"}
    clock.now = T0 + timedelta(days=400)  # every part is stale
    quota = {"omdb": Knobs(daily_quota=10)}
    env = {"METARR_OMDB_DAILY_REQUESTS": "10"}
    with SimServer(world, seed=7, knobs=quota) as sim:
        outcomes = run(sim, db, clock, refresh_stale, env=env)
        assert sim.counts()["omdb"] == {"?i=": 5}
        held = [o for o in outcomes if any("omdb: not refreshed" in r for r in o.reasons)]
        assert len(held) == 3 and all(o.status == "identified" for o in outcomes)
        assert "refreshes may spend 5 of its 10 daily requests" in " ".join(held[0].reasons)
        with Cache(db, ttl_days=TTL_DAYS, clock=clock) as cache:
            assert cache.requests_on("omdb", "2027-12-07") == 5
            stale = [cache.stale_providers(cache.get("tmdb", t)) for t in films]  # type: ignore[arg-type]
        assert sum("omdb" in s for s in stale) == 3  # left stale, never called fresh
        # a second run the same day spends nothing more on OMDb
        sim.reset_counts()
        run(sim, db, clock, refresh_stale, env=env)
        assert sim.counts()["omdb"] == {}

        async def new_film(orc: Orchestrator) -> Outcome:
            return await orc.lookup(Ids(tmdb=24428))

        outcome = run(sim, db, clock, new_film, env=env)
        assert outcome.status == "identified" and outcome.providers["omdb"] == "ok"
    # the next UTC day, refreshes get their share again
    clock.now += timedelta(days=1)
    with SimServer(world, seed=7, knobs=quota) as sim:
        run(sim, db, clock, refresh_stale, env=env)
        assert sim.counts()["omdb"] == {"?i=": 3}


def test_the_daily_count_is_shared_by_processes_and_never_overspent(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    Cache(db).close()
    granted: list[bool] = []

    def spend() -> None:
        with Cache(db) as cache:
            for _ in range(40):
                granted.append(cache.reserve_requests("omdb", "2026-12-02", 1, 50))

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 50
    with Cache(db) as cache:
        assert cache.requests_on("omdb", "2026-12-02") == 50
        assert cache.requests_on("omdb", "2026-12-03") == 0
        cache.add_requests("omdb", "2026-12-02", -60)
        assert cache.requests_on("omdb", "2026-12-02") == 0


def test_refresh_stale_can_hand_each_outcome_over_and_keep_none(
    world: World, tmp_path: Path
) -> None:
    db, clock = tmp_path / "m.sqlite", Clock()
    cache_three(world, db, clock)
    clock.now = T0 + timedelta(days=8)
    seen: list[str] = []

    async def stream(orc: Orchestrator) -> list[Outcome]:
        return await orc.refresh_stale(on_outcome=lambda o: seen.append(o.status))

    with SimServer(world, seed=7, clock=clock) as sim:
        assert run(sim, db, clock, stream) == []
    assert seen == ["identified"] * 3


def test_cache_show_tells_freshness_as_refresh_decides_it(world: World, tmp_path: Path) -> None:
    db, now = tmp_path / "m.sqlite", datetime.now(UTC)
    clock = Clock(now - timedelta(days=30))
    with SimServer(world, seed=7) as sim:
        run(sim, db, clock, lambda o: o.lookup(Ids(tmdb=MATRIX)), refresh={})
        env = {**os.environ, **sim.settings_env(), "NO_COLOR": "1"}
    with Cache(db) as cache:
        matrix = cache.get("tmdb", MATRIX)
        assert matrix is not None
        note = "tmdb: confirmed unchanged by tmdb's change feed on TODAY"
        assert cache.record_feed("tmdb", {"tmdb"}, clock.now, set(), note) == {matrix.id}

    def show(config: str) -> dict[str, str]:
        (tmp_path / "config.toml").write_text(config)
        done = subprocess.run(
            [sys.executable, "-m", "metarr", "--db", str(db), "cache", "show", "tmdb:603"],
            env={**env, "METARR_CONFIG": str(tmp_path / "config.toml")},
            capture_output=True,
            text=True,
            check=True,
        )
        plain = re.sub(r"\x1b?\[[0-9;]*m", "", done.stdout)
        rows = [line.split() for line in plain.splitlines()]
        return {row[0]: " ".join(row[4:]) for row in rows if row and row[0] in PROVIDER_NAMES}

    # Fetched 30 days ago. Flat TTLs: only the part the feed confirmed today is fresh.
    flat = show("[refresh]\nage_ttl = [[inf, 1]]\n")
    assert flat["tmdb"].startswith("fresh") and note in flat["tmdb"]
    assert all(flat[p].startswith("stale") for p in ("omdb", "tvdb", "fanart"))
    # The default rule: a 1999 film's 7 days are 84; Fanart.tv's 1 day is 12.
    aged = show("")
    assert [aged[p].split()[0] for p in ("tmdb", "omdb", "tvdb", "fanart")] == [
        "fresh", "fresh", "fresh", "stale"
    ]  # fmt: skip
