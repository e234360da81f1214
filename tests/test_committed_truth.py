"""Issue 11, the cache half: a commit never takes a different movie, a refresh that fetched nothing
stores nothing, the merged record always follows the stored parts, remerge changes only the
record. Orchestrator-level tests over the fake provider world (real HTTP through pytest-httpx).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from fake_providers import HEAT, MATRIX, FakeWorld, fake_registry, fake_settings
from metarr import Ids
from metarr.cache import Cache, CachedMovie, ProviderPart
from metarr.http import new_client
from metarr.models import Movie, ProviderResult
from metarr.orchestrator import Orchestrator
from metarr.query import Query

pytestmark = pytest.mark.usefixtures("quick_retries")
PROVIDERS = ("tmdb", "omdb", "fanart", "tvdb")


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
) -> Any:
    async def main() -> Any:
        async with new_client() as client:
            cfg = fake_settings(db=db)
            cache = Cache(db, clock=clock)
            orc = Orchestrator.from_parts(
                registry=fake_registry(client, cfg), cache=cache, settings=cfg, clock=clock
            )
            try:
                return await action(orc)
            finally:
                await orc.aclose()

    return asyncio.run(main())


def stored(db: Path, **ids: Any) -> CachedMovie | None:
    with Cache(db) as cache:
        return cache.find(Ids(**ids))


def movies(db: Path) -> list[CachedMovie]:
    with Cache(db) as cache:
        return list(cache.iter_movies())


def repoint_tvdb(world: FakeWorld, tvdb: int) -> None:
    """TheTVDB merges records: Heat's TVDB id now names The Matrix, Heat has none."""
    world.films.remove(MATRIX)
    world.films.remove(HEAT)
    world.films += [attrs.evolve(MATRIX, tvdb=tvdb), attrs.evolve(HEAT, tvdb=None)]


def fail_everything(world: FakeWorld, status: int = 503, times: int = 20) -> None:
    for name in PROVIDERS:
        for _ in range(times):
            world.fail_next(name, status)


# -- item 1: a commit never deletes or rewrites a different movie ------------------------------


def test_a_repointed_id_never_takes_a_different_movie(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    heat = run(db, lambda o: o.lookup(Ids(imdb=HEAT.imdb)))
    assert heat.movie.ids == Ids(tmdb=949, imdb=HEAT.imdb, tvdb=HEAT.tvdb)
    repoint_tvdb(world, HEAT.tvdb)

    outcome = run(db, lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))

    assert outcome.status == "identified"
    assert outcome.movie.ids == Ids(tmdb=603, imdb=MATRIX.imdb)  # without the disputed id
    assert "ids.tvdb" not in outcome.movie.provenance
    assert any(f"tvdb {HEAT.tvdb}" in reason and "Heat" in reason for reason in outcome.reasons)
    kept = stored(db, tmdb=949)
    assert kept is not None and kept.movie == heat.movie  # Heat untouched
    matrix = stored(db, tmdb=603)
    assert matrix is not None and matrix.movie == outcome.movie
    assert matrix.parts["tvdb"].result.ids.tvdb == HEAT.tvdb  # what TVDB said stays stored
    assert len(movies(db)) == 2
    for movie in (kept, matrix):  # `cache show` of either movie shows the dispute
        [dispute] = movie.disputes
        assert (dispute.kind, dispute.value, dispute.provider) == ("tvdb", HEAT.tvdb, "tvdb")
        assert (dispute.holder_id, dispute.claimant_id) == (kept.id, matrix.id)
    with Cache(db) as cache:
        assert cache.stats().id_disputes == 1


def test_a_clash_on_a_given_id_commits_nothing_until_a_person_decides(
    world: FakeWorld, tmp_path: Path
) -> None:
    """`lookup --tvdb N` while another process commits Heat with tvdb N (from TVDB's data
    before it re-pointed N): N was given, so nothing is committed; a person decides."""
    db = tmp_path / "m.sqlite"
    heat_ids = Ids(tmdb=949, imdb=HEAT.imdb, tvdb=HEAT.tvdb)
    repoint_tvdb(world, HEAT.tvdb)
    key = Query(ids=Ids(tvdb=HEAT.tvdb)).input_key

    async def lookup_beside_another_process(orc: Orchestrator) -> Any:
        lookup = orc.engine.lookup

        async def lookup_then_heat_is_committed(*args: Any, **kwargs: Any) -> Any:
            found = await lookup(*args, **kwargs)
            results = {
                name: ProviderResult(provider=name, ids=heat_ids, title="Heat", year=1995)
                for name in ("tmdb", "tvdb")
            }
            parts = {
                name: ProviderPart(
                    provider=name, status="ok", fetched_at=datetime.now(UTC), result=result
                )
                for name, result in results.items()
            }
            with Cache(db) as other:
                other.commit(orc.engine.merge(results), parts)
            return found

        orc.engine.lookup = lookup_then_heat_is_committed  # type: ignore[method-assign]
        return await orc.lookup(Ids(tvdb=HEAT.tvdb), interactive=False)

    outcome = run(db, lookup_beside_another_process)

    assert outcome.status == "conflict"
    assert outcome.movie is None
    text = " ".join(outcome.reasons)
    assert f"tvdb {HEAT.tvdb} is Heat (1995)" in text and "The Matrix (1999)" in text
    [heat] = movies(db)
    assert heat.ids == heat_ids
    with Cache(db) as cache:
        [queued] = cache.identification_queue()
        assert (queued.key, queued.status) == (key, "conflict")

    chosen = run(db, lambda o: o.confirm(key, Ids(tmdb=603)))

    assert chosen.status == "identified"
    assert chosen.movie.ids == Ids(tmdb=603, imdb=MATRIX.imdb)
    kept = stored(db, tmdb=949)
    assert kept is not None and attrs.evolve(kept, disputes=()) == heat
    assert [(d.kind, d.value, d.holder_id) for d in kept.disputes] == [("tvdb", HEAT.tvdb, heat.id)]
    with Cache(db) as cache:
        assert cache.identification_queue() == []
        assert cache.identity(key).ids == Ids(tmdb=603, imdb=MATRIX.imdb)  # type: ignore[union-attr]


# -- item 4: a refresh that fetched nothing stores nothing ----------------------------------


def _stale_matrix(world: FakeWorld, db: Path, clock: Clock) -> CachedMovie:
    run(db, lambda o: o.lookup(Ids(tmdb=603)), clock=clock)
    clock.now += timedelta(days=8)  # every part is past its seven-day TTL
    before = stored(db, tmdb=603)
    assert before is not None
    return before


@pytest.mark.parametrize(
    "how",
    ["lookup --refresh", "refresh ID", "refresh --stale", "refresh --incomplete"],
)
def test_a_refresh_that_fetched_nothing_stores_nothing(
    world: FakeWorld, tmp_path: Path, how: str
) -> None:
    db = tmp_path / "m.sqlite"
    clock = Clock()
    if how == "refresh --incomplete":  # a part that needs a fill-in, and nobody answers
        fail_everything(world, status=429)
        for name in ("tmdb", "fanart", "tvdb"):
            world.faults.pop(name)
    before = _stale_matrix(world, db, clock)
    assert before.parts["omdb"].status == ("rate_limited" if "incomplete" in how else "ok")
    world.faults.clear()
    fail_everything(world)
    actions: dict[str, Callable[[Orchestrator], Coroutine[Any, Any, Any]]] = {
        "lookup --refresh": lambda o: o.lookup(Ids(tmdb=603), refresh=True),
        "refresh ID": lambda o: o.refresh(Ids(tmdb=603)),
        "refresh --stale": lambda o: o.refresh_stale(),
        "refresh --incomplete": lambda o: o.refresh_stale(incomplete_only=True),
    }
    outcome = run(db, actions[how], clock=clock)
    if isinstance(outcome, list):
        [outcome] = outcome

    assert outcome.status == "error", outcome.reasons
    assert outcome.movie == before.movie  # the cached record, shown with its age
    assert any("8 days old" in reason and "stays stale" in reason for reason in outcome.reasons)
    after = stored(db, tmdb=603)
    assert after == before  # parts, fetch times, refreshed_at: all as they were
    with Cache(db, clock=clock) as cache:
        assert [m.id for m in cache.stale()] == [before.id]  # `refresh --stale` picks it up


def test_kept_parts_keep_their_fetch_times(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    clock = Clock()
    before = _stale_matrix(world, db, clock)
    for name in ("omdb", "fanart", "tvdb"):
        for _ in range(20):
            world.fail_next(name, 503)

    outcome = run(db, lambda o: o.refresh(Ids(tmdb=603)), clock=clock)

    assert outcome.status == "identified"
    after = stored(db, tmdb=603)
    assert after is not None
    assert after.parts["tmdb"].fetched_at == clock.now
    for name in ("omdb", "fanart", "tvdb"):
        assert after.parts[name] == before.parts[name]
    with Cache(db, clock=clock) as cache:
        assert cache.stale_providers(after) == ["fanart", "omdb", "tvdb"]


# -- item 5: the merged record follows the stored parts -------------------------------------


def test_a_concurrent_fill_in_is_never_lost(world: FakeWorld, tmp_path: Path) -> None:
    """Another process fills OMDb in while this one refreshes TMDB: the record has both."""
    db = tmp_path / "m.sqlite"
    clock = Clock()
    world.fail_next("omdb", 429, {"Retry-After": "60"})
    world.fail_next("omdb", 429, {"Retry-After": "60"})
    world.fail_next("omdb", 429, {"Retry-After": "60"})
    first = run(db, lambda o: o.lookup(Ids(tmdb=603), interactive=False), clock=clock)
    assert first.providers["omdb"] == "rate_limited"
    assert first.movie.provenance["title"] == "tmdb"
    clock.now += timedelta(days=8)
    omdb = ProviderResult(provider="omdb", ids=Ids(imdb=MATRIX.imdb), title="Matrix, The")

    async def refresh_beside_a_fill_in(orc: Orchestrator) -> Any:
        lookup = orc.engine.lookup

        async def lookup_then_other_process_commits(*args: Any, **kwargs: Any) -> Any:
            found = await lookup(*args, **kwargs)
            with Cache(db, clock=lambda: clock.now + timedelta(seconds=1)) as other:
                part = ProviderPart(provider="omdb", status="ok", fetched_at=clock.now, result=omdb)
                stored = other.find(Ids(tmdb=603))
                assert stored is not None
                results = {n: p.result for n, p in stored.parts.items() if p.result is not None}
                other.commit(orc.engine.merge({**results, "omdb": omdb}), {"omdb": part})
            return found

        orc.engine.lookup = lookup_then_other_process_commits  # type: ignore[method-assign]
        for _ in range(3):
            world.fail_next("omdb", 429, {"Retry-After": "60"})
        return await orc.refresh(Ids(tmdb=603))

    outcome = run(db, refresh_beside_a_fill_in, clock=clock)

    after = stored(db, tmdb=603)
    assert after is not None
    assert after.parts["omdb"].result == omdb
    assert after.movie.title == "Matrix, The"  # OMDb leads the title: the fill-in is merged
    assert after.movie.provenance["title"] == "omdb"
    assert outcome.movie == after.movie


def test_remerge_changes_only_the_merged_record(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    clock = Clock()
    run(db, lambda o: o.identify(Query(ids=Ids(tmdb=603), key="matrix.mkv")), clock=clock)
    before = stored(db, tmdb=603)
    assert before is not None and before.key == "matrix.mkv"
    clock.now += timedelta(days=3)

    async def remerge(orc: Orchestrator) -> int:
        orc.engine.priority = {"title": ("tvdb",)}
        return await orc.remerge()

    assert run(db, remerge, clock=clock) == 1
    after = stored(db, tmdb=603)
    assert after is not None
    assert after.movie.provenance["title"] == "tvdb"
    assert attrs.evolve(after, movie=before.movie) == before  # key, input, times, parts


def test_remerge_skips_and_reports_an_unreadable_movie(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    run(db, lambda o: o.lookup(Ids(tmdb=603)))
    run(db, lambda o: o.lookup(Ids(tmdb=949)))
    with Cache(db) as cache:
        (broken,) = cache.db.execute(
            "SELECT id FROM provider_cache_movies WHERE tmdb_id = 603"
        ).fetchone()
        cache.db.execute(
            "UPDATE provider_parts SET result = '{\"year\":***}' "
            "WHERE movie_id = ? AND provider = 'omdb'",
            [broken],
        )
    skipped: list[Any] = []

    async def remerge(orc: Orchestrator) -> int:
        orc.engine.priority = {"title": ("tvdb",)}
        return await orc.remerge(on_unreadable=skipped.append)

    assert run(db, remerge) == 1
    assert [error.movie_id for error in skipped] == [broken]
    assert "omdb part" in str(skipped[0]) and "cache repair tmdb:603" in str(skipped[0])
    assert stored(db, tmdb=949).movie.provenance["title"] == "tvdb"  # type: ignore[union-attr]


def test_repair_refetches_an_unreadable_movie(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    first = run(db, lambda o: o.lookup(Ids(tmdb=603)))
    with Cache(db) as cache:
        (movie_id,) = cache.db.execute("SELECT id FROM provider_cache_movies").fetchone()
        cache.db.execute("UPDATE provider_parts SET result = 'x' WHERE provider = 'omdb'")
        cache.db.execute("UPDATE provider_cache_movies SET movie = '{\"year\":***}'")
    with pytest.raises(Exception, match=f"cached movie {movie_id} .* cannot be read"):
        stored(db, tmdb=603)

    outcome = run(db, lambda o: o.repair(movie_id))

    assert outcome.status == "identified", outcome.reasons
    assert "omdb part" in outcome.reasons[0]
    repaired = stored(db, tmdb=603)
    assert repaired is not None and repaired.movie == first.movie
    assert repaired.parts["omdb"].status == "ok"


def test_an_older_part_of_equal_rank_never_replaces_a_newer_one(tmp_path: Path) -> None:
    t1 = datetime(2026, 1, 1, tzinfo=UTC)
    ids = Ids(tmdb=603)

    def part(title: str, at: datetime) -> ProviderPart:
        result = ProviderResult(provider="tmdb", ids=ids, title=title)
        return ProviderPart(provider="tmdb", status="ok", fetched_at=at, result=result)

    with Cache(tmp_path / "c.sqlite") as cache:
        newer = part("newer", t1 + timedelta(hours=1))
        cache.commit(Movie(ids=ids, title="newer"), {"tmdb": newer})
        late = cache.commit(Movie(ids=ids, title="older"), {"tmdb": part("older", t1)})
    assert late.parts["tmdb"] == newer


def test_remerge_memory_does_not_grow_with_the_cache(world: FakeWorld, tmp_path: Path) -> None:
    """200 movies of 50 KB each: remerge holds one movie at a time, not the whole cache."""
    import tracemalloc

    db = tmp_path / "m.sqlite"
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with Cache(db) as cache:
        for n in range(200):
            ids = Ids(tmdb=10_000 + n, imdb=f"tt{9_000_000 + n}")
            result = ProviderResult(
                provider="tmdb", ids=ids, title=f"Movie {n}", raw={"movie": {"blob": "x" * 50_000}}
            )
            part = ProviderPart(provider="tmdb", status="ok", fetched_at=at, result=result)
            cache.commit(Movie(ids=ids, title=f"Movie {n}"), {"tmdb": part})

    async def remerge(orc: Orchestrator) -> tuple[int, int]:
        tracemalloc.start()
        try:
            count = await orc.remerge()
            return count, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    count, peak = run(db, remerge)
    assert count == 200
    assert peak < 2_000_000, f"remerge peaked at {peak / 1e6:.1f} MB for a 10 MB cache"
