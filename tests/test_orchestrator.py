"""The orchestrator: memory first, commit only confirmed identities, queues, pauses, refresh."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from fake_providers import HEAT, MATRIX, MISLINKED, FakeWorld, fake_registry, fake_settings
from metarr import Ids
from metarr.cache import Cache
from metarr.http import new_client
from metarr.orchestrator import Orchestrator
from metarr.query import Query

pytestmark = pytest.mark.usefixtures("quick_retries")  # `world` comes from conftest.py


@attrs.define
class Clock:
    now: datetime = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def run(
    db: Path,
    action: Callable[[Orchestrator], Coroutine[Any, Any, Any]],
    *,
    clock: Clock | None = None,
    **settings: Any,
) -> Any:
    async def main() -> Any:
        async with new_client() as client:
            cfg = fake_settings(db=db, **settings)
            cache = Cache(db, clock=clock)
            orc = Orchestrator.from_parts(
                registry=fake_registry(client, cfg), cache=cache, settings=cfg, clock=clock
            )
            try:
                return await action(orc)
            finally:
                await orc.aclose()

    return asyncio.run(main())


def movie_count(db: Path) -> int:
    with Cache(db) as cache:
        return sum(1 for _ in cache.iter_movies())


def test_identified_lookup_is_committed_and_warm_lookup_costs_nothing(
    world: FakeWorld, tmp_path: Path
) -> None:
    db = tmp_path / "m.sqlite"
    outcome = run(db, lambda o: o.lookup(Ids(tmdb=603)))
    assert outcome.status == "identified"
    cold = world.total
    assert cold == 4
    again = run(db, lambda o: o.lookup(Ids(imdb="tt0133093")))
    assert again.status == "identified"
    assert again.movie == outcome.movie
    assert world.total == cold  # served from the cache
    with Cache(db) as cache:
        cached = cache.get("tvdb", 169)
        assert cached is not None and cached.movie.title == "The Matrix"
        assert set(cached.parts) == {"tmdb", "omdb", "fanart", "tvdb"}


def test_title_identification_is_remembered(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    assert run(db, lambda o: o.identify_title("Heat", 1995)).status == "identified"
    cold = world.total
    outcome = run(db, lambda o: o.identify_title("Heat", 1995))
    assert outcome.status == "identified"
    assert outcome.movie.ids.imdb == HEAT.imdb
    assert world.total == cold


@pytest.mark.parametrize(
    ("title", "year", "status"),
    [("Aladdin", 1992, "ambiguous"), ("Nothing Like It", 2001, "not_found")],
)
def test_needs_a_person_goes_to_the_queue_not_the_movie_tables(
    world: FakeWorld, tmp_path: Path, title: str, year: int, status: str
) -> None:
    db = tmp_path / "m.sqlite"
    outcome = run(db, lambda o: o.identify_title(title, year))
    assert outcome.status == status
    assert movie_count(db) == 0
    with Cache(db) as cache:
        [queued] = cache.identification_queue()
        assert queued.status == status
        assert queued.input == {"title": title, "year": year}
        if status == "ambiguous":
            assert len(queued.candidates) == 2


def test_a_persons_choice_is_committed_and_never_searched_again(
    world: FakeWorld, tmp_path: Path
) -> None:
    db = tmp_path / "m.sqlite"
    key = Query(title="Aladdin", year=1992).input_key
    run(db, lambda o: o.identify_title("Aladdin", 1992))
    outcome = run(db, lambda o: o.confirm(key, Ids(imdb="tt0827990")))
    assert outcome.status == "identified"
    assert outcome.movie.ids.tmdb == 343693
    with Cache(db) as cache:
        assert cache.identification_queue() == []
        assert cache.identity(key).by == "person"
    before = world.total
    again = run(db, lambda o: o.identify_title("Aladdin", 1992))
    assert again.status == "identified" and again.movie.ids.tmdb == 343693
    assert world.total == before


def test_conflict_is_queued_with_nothing_committed(world: FakeWorld, tmp_path: Path) -> None:
    world.films.append(MISLINKED)
    db = tmp_path / "m.sqlite"
    outcome = run(db, lambda o: o.lookup(Ids(tmdb=700), interactive=False), disabled=("omdb",))
    assert outcome.status == "conflict"
    assert movie_count(db) == 0
    with Cache(db) as cache:
        assert [q.status for q in cache.identification_queue()] == ["conflict"]


def test_automated_429_schedules_a_retry_then_the_rerun_fills_it_in(
    world: FakeWorld, tmp_path: Path
) -> None:
    db = tmp_path / "m.sqlite"
    clock = Clock()
    world.fail_next("omdb", 429, {"Retry-After": "120"})
    outcome = run(db, lambda o: o.lookup(Ids(tmdb=603), interactive=False), clock=clock)
    assert outcome.status == "identified"
    assert outcome.providers["omdb"] == "rate_limited"
    with Cache(db, clock=clock) as cache:
        assert cache.get("tmdb", 603).missing_providers() == ["omdb"]
        assert cache.pending_retry("tmdb:603").provider == "omdb"
    served = world.total
    # Not due yet: no request at all.
    run(db, lambda o: o.lookup(Ids(tmdb=603), interactive=False), clock=clock)
    assert world.total == served
    # Due: only OMDb is asked, and the record is complete.
    clock.now += timedelta(minutes=3)
    outcome = run(db, lambda o: o.lookup(Ids(tmdb=603), interactive=False), clock=clock)
    assert world.total == served + 1
    assert outcome.providers["omdb"] == "ok"
    assert outcome.movie.provenance["title"] == "omdb"
    with Cache(db, clock=clock) as cache:
        assert cache.get("tmdb", 603).missing_providers() == []


def test_omdb_quota_pauses_omdb_across_processes(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metarr.errors import RateLimitedError

    db = tmp_path / "m.sqlite"
    clock = Clock()
    tomorrow = clock.now.replace(hour=0) + timedelta(days=1)

    def classify(status: int, body: Any) -> Any:
        return RateLimitedError(
            "omdb",
            "daily request limit reached",
            until=tomorrow,
            retry_after=(tomorrow - clock.now).total_seconds(),
        )

    world.fail_next("omdb", 401)
    import fake_providers

    original = fake_providers.FakeProvider._get

    async def quota_get(self: Any, path: str, params: Any = None) -> Any:
        if self.name == "omdb" and world.faults.get("omdb"):
            world.faults["omdb"].pop(0)
            world.served["omdb quota"] += 1
            raise classify(401, None)
        return await original(self, path, params)

    monkeypatch.setattr(fake_providers.FakeProvider, "_get", quota_get)
    outcome = run(db, lambda o: o.lookup(Ids(tmdb=603), interactive=False), clock=clock)
    assert outcome.status == "identified"
    assert outcome.providers["omdb"] == "rate_limited"
    with Cache(db, clock=clock) as cache:
        assert "omdb" in cache.paused_providers(clock.now)
    # A new process the same day identifies another movie without asking OMDb at all.
    omdb_before = sum(n for r, n in world.served.items() if r.startswith("omdb"))
    outcome = run(db, lambda o: o.lookup(Ids(tmdb=949), interactive=False), clock=clock)
    assert outcome.status == "identified"
    assert outcome.providers["omdb"] == "rate_limited"
    assert sum(n for r, n in world.served.items() if r.startswith("omdb")) == omdb_before
    # After the reset, refreshing the incomplete records fills OMDb in.
    clock.now = tomorrow + timedelta(minutes=1)
    outcomes = run(db, lambda o: o.refresh_stale(incomplete_only=True), clock=clock)
    assert sorted(o.movie.ids.tmdb for o in outcomes) == [603, 949]
    assert all(o.providers["omdb"] == "ok" for o in outcomes)


def test_remerge_uses_stored_results_with_zero_requests(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    run(db, lambda o: o.lookup(Ids(tmdb=603)))
    served = world.total

    async def remerge(o: Orchestrator) -> Any:
        o.engine.priority = {"title": ("tvdb",)}
        assert await o.remerge() == 1
        return await o.get(Ids(tmdb=603))

    cached = run(db, remerge)
    assert world.total == served
    assert cached.movie.provenance["title"] == "tvdb"


def test_forced_refresh_asks_everyone_again(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    run(db, lambda o: o.lookup(Ids(tmdb=603)))
    world.served.clear()
    outcome = run(db, lambda o: o.refresh(Ids(tmdb=603)))
    assert outcome.status == "identified"
    assert world.total == 4


def test_a_failed_refresh_keeps_the_old_record(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    first = run(db, lambda o: o.lookup(Ids(tmdb=603)))
    for name in ("tmdb", "omdb", "fanart", "tvdb"):
        for _ in range(3):
            world.fail_next(name, 503)
    outcome = run(db, lambda o: o.refresh(Ids(tmdb=603)))
    assert outcome.status == "error"  # nothing was refetched (issue 11 item 4)
    assert outcome.movie == first.movie
    with Cache(db) as cache:
        assert cache.get("tmdb", 603).movie == first.movie


def test_stale_entries_are_refetched_on_next_lookup(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    clock = Clock()
    run(db, lambda o: o.lookup(Ids(tmdb=603)), clock=clock)
    world.served.clear()
    clock.now += timedelta(days=2)  # fanart's TTL is shorter in real life; here all are 7 days
    run(db, lambda o: o.lookup(Ids(tmdb=603)), clock=clock)
    assert world.total == 0
    clock.now += timedelta(days=6)
    run(db, lambda o: o.lookup(Ids(tmdb=603)), clock=clock)
    assert world.total == 4


def test_sync_facade_works_without_an_event_loop(world: FakeWorld, tmp_path: Path) -> None:
    from metarr.sync import SyncOrchestrator

    db = tmp_path / "m.sqlite"

    def factory() -> Orchestrator:
        client = new_client()
        cfg = fake_settings(db=db)
        return Orchestrator.from_parts(
            registry=fake_registry(client, cfg), cache=Cache(db), settings=cfg, client=client
        )

    with SyncOrchestrator.from_factory(factory) as orc:
        outcome = orc.lookup(Ids(imdb=MATRIX.imdb))
        assert outcome.status == "identified"
        assert orc.get(Ids(tmdb=603)).movie.title == "The Matrix"


@pytest.mark.parametrize(("status", "expected"), [(429, "rate_limited"), (503, "error")])
def test_failed_identification_writes_no_movie(
    world: FakeWorld, tmp_path: Path, status: int, expected: str
) -> None:
    db = tmp_path / "m.sqlite"
    for _ in range(3):
        world.fail_next("tvdb", status, {"Retry-After": "60"})
    outcome = run(db, lambda o: o.lookup(Ids(tvdb=169), interactive=False))
    assert outcome.status == expected
    assert movie_count(db) == 0
    with Cache(db) as cache:
        assert cache.identification_queue() == []
        retry = cache.pending_retry("tvdb:169")
        assert (retry is not None) == (expected == "rate_limited")
