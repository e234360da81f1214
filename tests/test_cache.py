"""The SQLite cache: commits, lookups, TTLs, queues, pauses, identities, schema and maintenance."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import metarr.cache.packed
import metarr.cache.schema
import metarr.cache.store
import pytest
from metarr import redaction
from metarr.cache import (
    LATEST_VERSION,
    Cache,
    CachedMovie,
    IdConflictError,
    ProviderPart,
    UnreadableMovieError,
)
from metarr.cache.database import open_database
from metarr.cache.packed import unpack
from metarr.cache.schema import MIGRATIONS, MIGRATIONS_TABLE, migrate
from metarr.convert import from_json, to_json
from metarr.errors import InvalidIdError, StorageError
from metarr.ids import Ids
from metarr.merge import merge as merge_results
from metarr.models import (
    Candidate,
    CastMember,
    CrewMember,
    Image,
    Movie,
    Outcome,
    ProviderResult,
    Rating,
)
from sqlite_utils import Database

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
MATRIX = Ids(tmdb=603, imdb="tt0133093", tvdb=169)
CHILD_TABLES = ("provider_parts",)


class Clock:
    """An injectable clock that moves only when told."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def result(provider: str, ids: Ids, title: str = "The Matrix", images: int = 2) -> ProviderResult:
    """A provider record with every kind of child row and a raw payload."""
    return ProviderResult(
        provider=provider,
        ids=ids,
        title=title,
        year=1999,
        images=tuple(
            Image(provider=provider, kind="poster", url=f"https://img.test/{provider}/{n}.jpg")
            for n in range(images)
        ),
        ratings=(Rating(source=provider, value=8.7, max=10, provider=provider, votes=100),),
        cast=(CastMember(name="Keanu Reeves", character="Neo", order=0, provider=provider),),
        crew=(CrewMember(name="Lana Wachowski", job="Director", provider=provider),),
        raw={"movie": {"id": str(ids), "title": title}},
    )


def movie(ids: Ids = MATRIX, title: str = "The Matrix", images: int = 2) -> Movie:
    """A merged movie built from a TMDB-like record."""
    base = result("tmdb", ids, title, images)
    return Movie(
        ids=ids,
        title=title,
        year=1999,
        images=base.images,
        ratings=base.ratings,
        cast=base.cast,
        crew=base.crew,
        provenance={"title": "tmdb", "year": "tmdb"},
    )


def ok(
    provider: str, ids: Ids = MATRIX, at: datetime = T0, title: str = "The Matrix"
) -> ProviderPart:
    return ProviderPart(
        provider=provider, status="ok", fetched_at=at, result=result(provider, ids, title)
    )


def failed(provider: str, status: str = "error", at: datetime = T0) -> ProviderPart:
    return ProviderPart(provider=provider, status=status, fetched_at=at, error=f"{provider} down")


def parts(*items: ProviderPart) -> dict[str, ProviderPart]:
    return {part.provider: part for part in items}


RANKS = {
    "tmdb": {"title": 10, "year": 10, "images": 10, "ratings": 10, "cast": 10, "crew": 10},
    "omdb": {"title": 20, "year": 20, "ratings": 20, "ids.imdb": 10},
    "tvdb": {"title": 30, "images": 30, "ids.tvdb": 10},
}
for _rank in RANKS["tmdb"], RANKS["tvdb"]:
    _rank.update({"ids.tmdb": 10, "ids.imdb": 20})


def merge(results: Any) -> Movie:
    """The merge under fixed priorities (TMDB first; TVDB gives the TVDB id)."""
    return merge_results(results, RANKS)


HEAT = Ids(tmdb=949, imdb="tt0113277", tvdb=1002)


def counts(cache: Cache) -> dict[str, int]:
    tables = ("provider_cache_movies", *CHILD_TABLES)
    return {table: cache.db[table].count for table in tables}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> Iterator[Cache]:
    with Cache(":memory:", ttl_days={"omdb": 1.0}, clock=clock) as opened:
        yield opened


# -- commit and read --------------------------------------------------------------------------


def test_lookup_by_each_id_type(cache: Cache) -> None:
    committed = cache.commit(movie(), parts(ok("tmdb")))
    lookups: list[tuple[str, int | str]] = [
        ("tmdb", 603),
        ("tmdb", "603"),
        ("imdb", "tt0133093"),
        ("imdb", "TT0133093"),
        ("tvdb", 169),
    ]
    for kind, value in lookups:
        found = cache.get(kind, value)
        assert found is not None, (kind, value)
        assert found.id == committed.id
    assert cache.find(Ids(imdb="tt0133093")) == cache.get("tmdb", 603)
    assert cache.find(Ids(tmdb=1, tvdb=169)) is not None
    assert cache.find(Ids(tmdb=1)) is None
    assert cache.get("tmdb", 604) is None
    with pytest.raises(InvalidIdError):
        cache.get("letterboxd", 1)
    with pytest.raises(InvalidIdError):
        cache.get("imdb", "nonsense")


def test_round_trip_keeps_movie_parts_and_raw(cache: Cache) -> None:
    original = movie()
    cache.commit(original, parts(ok("tmdb"), failed("omdb", "rate_limited")), input={"t": "x"})
    found = cache.get("tmdb", 603)
    assert found is not None
    assert found.movie == original
    assert found.input == {"t": "x"}
    assert found.parts["tmdb"].result == result("tmdb", MATRIX)
    assert found.parts["tmdb"].result.raw == {"movie": {"id": str(MATRIX), "title": "The Matrix"}}
    assert found.parts["omdb"].status == "rate_limited"
    assert found.parts["omdb"].error == "omdb down"
    assert found.missing_providers() == ["omdb"]
    assert counts(cache) == {"provider_cache_movies": 1, "provider_parts": 2}
    assert [m.id for m in cache.iter_movies()] == [found.id]


def test_rows_are_plain_json_never_reprs(cache: Cache) -> None:
    cache.commit(movie(), parts(ok("tmdb")))
    row = next(cache.db.query("SELECT movie, provenance FROM provider_cache_movies"))
    assert json.loads(unpack(row["movie"])) == to_json(movie())
    assert json.loads(row["provenance"]) == {"title": "tmdb", "year": "tmdb"}
    stored = unpack(next(cache.db.query("SELECT result FROM provider_parts"))["result"])
    assert from_json(ProviderResult, json.loads(stored)) == result("tmdb", MATRIX)
    assert "ProviderResult(" not in stored


def test_commit_failure_leaves_no_trace(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(metarr.cache.store, "_insert_parts", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        cache.commit(movie(), parts(ok("tmdb")), key="k", confirmed_by="person")
    assert set(counts(cache).values()) == {0}
    assert cache.identity("k") is None
    assert not cache.db.conn.in_transaction


def test_failed_refresh_leaves_old_record_intact(
    cache: Cache, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.queue_identification("k", {"title": "Matrix"}, Outcome(status="ambiguous"))
    first = cache.commit(movie(), parts(ok("tmdb")))
    before = counts(cache)

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("crash after the movie row")

    monkeypatch.setattr(metarr.cache.store, "_insert_parts", explode)
    clock.advance(days=1)
    with pytest.raises(RuntimeError):
        cache.commit(movie(title="Changed", images=5), parts(ok("tmdb")), key="k")
    assert counts(cache) == before
    assert cache.get("tmdb", 603) == first
    assert [item.key for item in cache.identification_queue()] == ["k"]


def test_refresh_replaces_rows_atomically(cache: Cache, clock: Clock) -> None:
    first = cache.commit(movie(images=3), parts(ok("tmdb")))
    clock.advance(days=3)
    second = cache.commit(movie(title="The Matrix (1999)", images=1), parts(ok("tmdb", at=clock())))
    assert second.id == first.id
    assert second.identified_at == T0
    assert second.refreshed_at == clock()
    assert counts(cache)["provider_cache_movies"] == 1
    found = cache.get("imdb", "tt0133093")
    assert found is not None
    assert found.movie.title == "The Matrix (1999)"
    assert found.parts["tmdb"].fetched_at == clock()


def test_failed_part_keeps_old_ok_part(cache: Cache, clock: Clock) -> None:
    cache.commit(movie(), parts(ok("tmdb"), ok("omdb")))
    clock.advance(days=2)
    refreshed = cache.commit(
        movie(), parts(ok("tmdb", at=clock()), failed("omdb", "rate_limited", clock()))
    )
    assert refreshed.parts["omdb"].status == "ok"
    assert refreshed.parts["omdb"].fetched_at == T0
    stored = cache.get("tmdb", 603)
    assert stored is not None
    assert stored.parts["omdb"] == ok("omdb")
    assert stored.parts["tmdb"].fetched_at == clock()
    # not_found does not erase ok either; an error part never erases a settled one
    cache.commit(movie(), parts(ProviderPart(provider="omdb", status="not_found", fetched_at=T0)))
    assert cache.get("tmdb", 603).parts["omdb"].status == "ok"  # type: ignore[union-attr]


def test_parts_left_out_are_kept_and_errors_update(cache: Cache, clock: Clock) -> None:
    cache.commit(movie(), parts(ok("tmdb"), failed("fanart")))
    clock.advance(hours=1)
    later = cache.commit(movie(), parts(failed("fanart", "rate_limited", clock())))
    assert sorted(later.parts) == ["fanart", "tmdb"]
    assert later.parts["fanart"].status == "rate_limited"
    assert later.parts["tmdb"] == ok("tmdb")


def test_rows_sharing_ids_are_merged_into_the_lowest(cache: Cache, clock: Clock) -> None:
    a = cache.commit(movie(Ids(tmdb=603)), parts(ok("tmdb", Ids(tmdb=603))))
    clock.advance(hours=1)
    b = cache.commit(movie(Ids(imdb="tt0133093")), parts(ok("omdb", Ids(imdb="tt0133093"))))
    c = cache.commit(movie(Ids(tvdb=169)), parts(ok("tvdb", Ids(tvdb=169))))
    assert len({a.id, b.id, c.id}) == 3
    clock.advance(hours=1)
    merged = cache.commit(movie(MATRIX), parts(ok("fanart", MATRIX, clock())))
    assert merged.id == a.id
    assert merged.identified_at == T0
    assert sorted(merged.parts) == ["fanart", "omdb", "tmdb", "tvdb"]
    assert counts(cache)["provider_cache_movies"] == 1
    assert counts(cache)["provider_parts"] == 4
    assert len(merged.movie.images) == 2
    assert cache.find_all(MATRIX) == [cache.get("tvdb", 169)]
    assert cache.db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_different_movie_is_never_merged_away(cache: Cache, clock: Clock) -> None:
    """Issue 11 item 1: TheTVDB re-points Heat's TVDB id to The Matrix."""
    heat = cache.commit(movie(HEAT, "Heat"), parts(ok("tmdb", HEAT, title="Heat")), merge=merge)
    assert heat.movie.ids == Ids(tmdb=949, imdb="tt0113277")  # only TVDB gives a TVDB id
    heat = cache.commit(movie(HEAT, "Heat"), parts(ok("tvdb", HEAT, title="Heat")), merge=merge)
    assert heat.movie.ids == HEAT
    before = counts(cache)
    matrix = Ids(tmdb=603, imdb="tt0133093", tvdb=1002)
    clock.advance(hours=1)
    with pytest.raises(IdConflictError, match=r"tvdb 1002 is Heat .* The Matrix") as error:
        cache.commit(
            movie(matrix),
            parts(ok("tmdb", matrix), ok("tvdb", matrix)),
            merge=merge,
            key="k",
            given=Ids(tvdb=1002),
        )
    assert [c.holder_id for c in error.value.clashes] == [heat.id]
    assert counts(cache) == before
    assert cache.get("tmdb", 949) == heat
    assert cache.queued("k") is None and cache.identity("k") is None

    committed = cache.commit(
        movie(matrix),
        parts(ok("tmdb", matrix), ok("tvdb", matrix)),
        merge=merge,
        key="k",
        confirmed_by="lookup",
    )
    assert committed.movie.ids == Ids(tmdb=603, imdb="tt0133093")
    assert committed.parts["tvdb"].result.ids == matrix  # type: ignore[union-attr]
    assert cache.get("tmdb", 949) == attrs.evolve(heat, disputes=committed.disputes)
    assert cache.get("tvdb", 1002).id == heat.id  # type: ignore[union-attr]
    [dispute] = committed.disputes
    assert (dispute.kind, dispute.value, dispute.holder_id, dispute.claimant_id) == (
        "tvdb",
        1002,
        heat.id,
        committed.id,
    )
    assert dispute.provider == "tvdb" and dispute.at == clock()
    assert "Heat (1999)" in dispute.describe(committed.id)
    assert "The Matrix (1999)" in dispute.describe(heat.id)
    assert cache.stats().id_disputes == 1
    assert cache.identity("k").ids == committed.movie.ids  # type: ignore[union-attr]
    # committing it again changes nothing about the dispute
    again = cache.commit(movie(matrix), parts(ok("omdb", matrix)), merge=merge)
    assert again.id == committed.id and again.disputes == committed.disputes


def test_a_dispute_ends_when_the_holder_lets_go(cache: Cache) -> None:
    heat = cache.commit(
        movie(HEAT, "Heat"),
        parts(ok("tmdb", HEAT, title="Heat"), ok("tvdb", HEAT, title="Heat")),
        merge=merge,
    )
    matrix = Ids(tmdb=603, imdb="tt0133093", tvdb=1002)
    claimant = cache.commit(
        movie(matrix), parts(ok("tmdb", matrix), ok("tvdb", matrix)), merge=merge
    )
    assert claimant.movie.ids.tvdb is None and len(claimant.disputes) == 1
    # A refresh of Heat: TVDB's record no longer gives it 1002.
    unheld = cache.commit(
        movie(Ids(tmdb=949), "Heat"),
        {"tvdb": ok("tvdb", Ids(imdb="tt0113277"), at=T0 + timedelta(days=1), title="Heat")},
        merge=merge,
    )
    assert unheld.id == heat.id and unheld.movie.ids == Ids(tmdb=949, imdb="tt0113277")
    assert unheld.disputes == () and cache.stats().id_disputes == 0
    assert cache.remerge(merge) == 2
    assert cache.get("tvdb", 1002).id == claimant.id  # type: ignore[union-attr]


def test_disputes_follow_merged_rows_and_go_with_deleted_ones(cache: Cache) -> None:
    heat = cache.commit(movie(HEAT, "Heat"), parts(ok("tvdb", HEAT, title="Heat")), merge=merge)
    by_tmdb = cache.commit(movie(Ids(tmdb=603)), parts(ok("tmdb", Ids(tmdb=603))), merge=merge)
    both = Ids(tmdb=603, imdb="tt0133093", tvdb=1002)
    merged = cache.commit(movie(both), parts(ok("tvdb", both)), merge=merge)
    assert merged.id == by_tmdb.id and merged.movie.ids == Ids(tmdb=603, imdb="tt0133093")
    by_imdb = cache.commit(
        movie(Ids(imdb="tt0133093")), parts(ok("omdb", Ids(imdb="tt0133093"))), merge=merge
    )
    assert by_imdb.id == merged.id  # rows of one movie are one row
    assert [d.claimant_id for d in cache.id_disputes(heat.id)] == [merged.id]
    assert cache.forget(Ids(tmdb=603)) == 1
    assert cache.id_disputes(heat.id) == () and cache.stats().id_disputes == 0


def test_commit_rejects_unusable_input(cache: Cache) -> None:
    with pytest.raises(ValueError, match="without ids"):
        cache.commit(movie(Ids()), {})
    with pytest.raises(ValueError, match="says it is from"):
        cache.commit(movie(), {"omdb": ok("tmdb")})
    with pytest.raises(ValueError, match="needs the input key"):
        cache.commit(movie(), {}, confirmed_by="person")
    with pytest.raises(ValueError, match="needs its result"):
        ProviderPart(provider="tmdb", status="ok", fetched_at=T0)
    with pytest.raises(ValueError, match="part status"):
        ProviderPart(provider="tmdb", status="fine", fetched_at=T0)
    assert counts(cache)["provider_cache_movies"] == 0


def test_commit_with_key_records_identity_and_moves_key(cache: Cache) -> None:
    other = Ids(tmdb=604, imdb="tt0234215")
    cache.commit(movie(other), parts(ok("tmdb", other)), key="file.mkv", input={"path": "a"})
    cache.commit(movie(), parts(ok("tmdb")), key="file.mkv", confirmed_by="person")
    identity = cache.identity("file.mkv")
    assert identity is not None
    assert (identity.ids, identity.by) == (MATRIX, "person")
    assert cache.get("tmdb", 603).key == "file.mkv"  # type: ignore[union-attr]
    assert cache.get("tmdb", 604).key is None  # type: ignore[union-attr]
    # a refresh without a key keeps the key and input it had
    refreshed = cache.commit(movie(), parts(ok("tmdb")))
    assert refreshed.key == "file.mkv"


# -- TTL -----------------------------------------------------------------------------------------


def test_ttl_expiry_per_provider(cache: Cache, clock: Clock) -> None:
    cache.commit(movie(), parts(ok("tmdb"), ok("omdb")))
    cached = cache.get("tmdb", 603)
    assert cached is not None
    assert cache.stale_providers(cached) == []
    assert cached.is_fresh(cache.ttl_days, clock())
    assert cache.stale() == []

    clock.advance(days=1)  # omdb's TTL is one day
    assert cached.stale_providers(cache.ttl_days, clock()) == ["omdb"]
    assert [m.id for m in cache.stale()] == [cached.id]

    clock.advance(days=6)  # seven days: the default TTL
    assert cache.stale_providers(cached) == ["omdb", "tmdb"]
    assert not cached.is_fresh(cache.ttl_days, clock())
    assert cache.stats().stale == 1

    # a refresh of both makes it fresh again; a TTL of 0 forces every provider
    fresh = cache.commit(movie(), parts(ok("tmdb", at=clock()), ok("omdb", at=clock())))
    assert cache.stale_providers(fresh) == []
    assert cache.stale() == []
    assert fresh.stale_providers({}, clock(), default_ttl_days=0) == ["omdb", "tmdb"]


def test_unsettled_parts_are_stale_at_once(cache: Cache) -> None:
    cache.commit(movie(), parts(ok("tmdb"), failed("fanart"), failed("omdb", "missing")))
    cached = cache.get("tmdb", 603)
    assert cached is not None
    assert cached.missing_providers() == ["fanart", "omdb"]
    assert cached.missing_providers(expected={"tvdb"}) == ["fanart", "omdb", "tvdb"]
    assert cache.stale_providers(cached) == ["fanart", "omdb"]
    assert [m.id for m in cache.stale()] == [cached.id]
    assert [m.id for m in cache.incomplete()] == [cached.id]


# -- queues and provider state -------------------------------------------------------------------


def test_identification_queue_round_trip(cache: Cache, clock: Clock) -> None:
    candidate = Candidate(
        title="The Matrix", year=1999, ids=MATRIX, providers=("tmdb",), score=0.2, notes=("x",)
    )
    outcome = Outcome(status="ambiguous", candidates=(candidate,), reasons=("two close matches",))
    cache.queue_identification("b.mkv", {"title": "Matrix"}, outcome)
    clock.advance(minutes=1)
    cache.queue_identification("a.mkv", {"title": "Nope"}, Outcome(status="not_found"))
    clock.advance(minutes=1)
    cache.queue_identification("b.mkv", {"title": "Matrix", "year": 1999}, outcome)
    queue = cache.identification_queue()
    assert [item.key for item in queue] == ["b.mkv", "a.mkv"]
    assert queue[0].input == {"title": "Matrix", "year": 1999}
    assert queue[0].queued_at == T0
    assert queue[0].candidates == (candidate,)
    assert queue[0].reasons == ("two close matches",)
    assert queue[0].status == "ambiguous"
    with pytest.raises(ValueError, match="queued for a person"):
        cache.queue_identification("c", {}, Outcome(status="identified"))
    cache.dequeue_identification("a.mkv")
    cache.commit(movie(), parts(ok("tmdb")), key="b.mkv")
    assert cache.identification_queue() == []


def test_retry_queue_round_trip(cache: Cache, clock: Clock) -> None:
    cache.schedule_retry("a", {"title": "A"}, "omdb", T0 + timedelta(hours=2), "quota")
    cache.schedule_retry("b", {"title": "B"}, "tmdb", T0 + timedelta(hours=1), "503")
    assert cache.due_retries() == []
    pending = cache.pending_retry("a")
    assert pending is not None
    assert (pending.provider, pending.not_before, pending.reason) == (
        "omdb",
        T0 + timedelta(hours=2),
        "quota",
    )
    assert pending.input == {"title": "A"}
    assert [r.key for r in cache.due_retries(T0 + timedelta(hours=3))] == ["b", "a"]
    clock.advance(hours=1)
    assert [r.key for r in cache.due_retries()] == ["b"]
    cache.clear_retry("b")
    assert cache.pending_retry("b") is None
    cache.commit(movie(), parts(ok("tmdb")), key="a")
    assert cache.pending_retry("a") is None
    assert cache.stats().retry_queue == 0


def test_provider_pause_persists_and_expires(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    until = T0 + timedelta(days=1)
    with Cache(path, clock=Clock()) as first:
        first.pause_provider("omdb", until, "daily limit reached")
        first.pause_provider("omdb", T0 + timedelta(hours=1), "shorter pause")  # longer one kept
    with Cache(path, clock=Clock(T0 + timedelta(hours=2))) as second:
        paused = second.paused_providers()
        assert list(paused) == ["omdb"]
        assert paused["omdb"].until == until
        assert paused["omdb"].reason == "daily limit reached"
        assert second.paused_providers(until) == {}
        assert second.prune(until)["expired_pauses"] == 1
        second.pause_provider("tmdb", until, "429")
        second.resume_provider("tmdb")
        assert second.paused_providers() == {}


# -- identities ----------------------------------------------------------------------------------


def test_person_choice_is_not_replaced_by_lookup(cache: Cache, clock: Clock) -> None:
    cache.confirm_identity("k", Ids(tmdb=1), by="lookup")
    cache.confirm_identity("k", MATRIX, by="person")
    clock.advance(days=1)
    cache.confirm_identity("k", Ids(tmdb=2), by="search")
    identity = cache.identity("k")
    assert identity is not None
    assert (identity.ids, identity.by, identity.at) == (MATRIX, "person", T0)
    with pytest.raises(ValueError, match="identity source"):
        cache.confirm_identity("k", MATRIX, by="robot")
    with pytest.raises(ValueError, match="at least one id"):
        cache.confirm_identity("k", Ids(), by="person")


def test_identities_export_import_round_trip(cache: Cache, clock: Clock) -> None:
    cache.confirm_identity("a.mkv", MATRIX, by="person")
    cache.confirm_identity("b.mkv", Ids(imdb="tt0234215"), by="lookup")
    out = io.StringIO()
    assert cache.export_identities(out) == 2
    lines = out.getvalue().splitlines()
    assert json.loads(lines[0]) == {
        "key": "a.mkv",
        "ids": {"tmdb": 603, "imdb": "tt0133093", "tvdb": 169},
        "by": "person",
        "at": "2024-01-01T12:00:00.000000+00:00",
    }

    with Cache(":memory:", clock=Clock(T0 + timedelta(days=5))) as other:
        other.confirm_identity("a.mkv", Ids(tmdb=1), by="lookup")  # loses to the person
        other.confirm_identity("b.mkv", Ids(tmdb=2), by="person")  # beats the lookup
        assert other.import_identities(io.StringIO(out.getvalue() + "\n")) == 1
        assert other.identity("a.mkv") == cache.identity("a.mkv")
        assert other.identity("b.mkv").ids == Ids(tmdb=2)  # type: ignore[union-attr]
        again = io.StringIO()
        other.export_identities(again)
        assert other.import_identities(io.StringIO(again.getvalue())) == 0

    with Cache(":memory:") as fresh:
        assert fresh.import_identities(io.StringIO(out.getvalue())) == 2
        bad = out.getvalue() + '{"key": "c", "ids": {"imdb": "nope"}, "by": "person", "at": "x"}\n'
        with pytest.raises(StorageError, match="line 3"):
            fresh.import_identities(io.StringIO(bad))
        assert fresh.identity("c") is None


# -- maintenance ---------------------------------------------------------------------------------


def test_stats_incomplete_prune_and_export(cache: Cache, clock: Clock) -> None:
    cache.commit(movie(), parts(ok("tmdb"), failed("omdb")))
    other = Ids(tmdb=604, imdb="tt0234215")
    cache.commit(movie(other, "The Matrix Reloaded"), parts(ok("tmdb", other)), key="r.mkv")
    cache.queue_identification("q.mkv", {}, Outcome(status="conflict"))
    cache.schedule_retry("r.mkv", {}, "omdb", T0, "quota")
    stats = cache.stats(providers=["tmdb", "fanart"])
    assert (stats.movies, stats.incomplete, stats.stale) == (2, 2, 1)
    assert stats.missing_by_provider == {"fanart": 2, "omdb": 1}
    assert (stats.identification_queue, stats.retry_queue, stats.retries_due) == (1, 1, 1)
    assert stats.schema_version == LATEST_VERSION
    assert stats.db_bytes > 0
    assert [m.movie.title for m in cache.incomplete()] == ["The Matrix"]
    assert len(cache.incomplete(providers=["fanart"])) == 2

    conn = cache.db.conn
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(
        "INSERT INTO provider_parts (movie_id, provider, status, fetched_at) "
        "VALUES (99, 'x', 'ok', '2024-01-01T00:00:00.000000+00:00')"
    )
    conn.execute("PRAGMA foreign_keys = ON")
    assert cache.prune() == {
        "orphaned_rows": 1,
        "expired_pauses": 0,
        "retries_for_cached": 1,
        "queued_for_cached": 0,
        "void_disputes": 0,
    }

    out = io.StringIO()
    assert cache.export_movies(out) == 2
    exported = [from_json(Movie, json.loads(line)) for line in out.getvalue().splitlines()]
    assert exported == [movie(), movie(other, "The Matrix Reloaded")]
    assert cache.forget(MATRIX) == 1
    assert cache.stats().movies == 1


def test_redaction_never_rewrites_stored_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11 item 6: a secret that also occurs in data (a PIN of 1999, an option set to
    true) left stored JSON as ``"year":***`` and the movie unreadable for good."""
    monkeypatch.setattr(redaction, "_registered", set())
    redaction.register("19991231", "sekret-api-key-0123456789")
    flagged = ProviderResult(
        provider="omdb",
        ids=MATRIX,
        title="The Matrix",
        year=1999,
        raw={"Response": "True", "ok": True, "Released": 19991231},
    )
    with Cache(tmp_path / "c.db", clock=Clock()) as cache:
        cache.commit(
            movie(),
            parts(
                ProviderPart(provider="omdb", status="ok", fetched_at=T0, result=flagged),
                ProviderPart(
                    provider="tmdb",
                    status="error",
                    fetched_at=T0,
                    error="key sekret-api-key-0123456789",
                ),
            ),
            key="k",
            input={"title": "The Matrix", "year": 1999},
        )
        cache.pause_provider("omdb", T0 + timedelta(days=1), "quota for sekret-api-key-0123456789")
        cache.queue_identification("q", {"year": 1999}, Outcome(status="not_found"))
        found = cache.get("imdb", "tt0133093")
        assert found is not None
        assert found.movie == movie()
        assert found.movie.year == 1999
        assert found.input == {"title": "The Matrix", "year": 1999}
        assert found.parts["omdb"].result == flagged
        assert found.parts["omdb"].result.raw == {
            "Response": "True",
            "ok": True,
            "Released": 19991231,
        }
        assert cache.queued("q").input == {"year": 1999}  # type: ignore[union-attr]
        # error texts and pause reasons are messages: those are still redacted
        assert found.parts["tmdb"].error == "key ***"
        assert cache.paused_providers()["omdb"].reason == "quota for ***"
        dump = "\n".join(cache.db.conn.iterdump())
    assert "sekret-api-key-0123456789" not in dump
    assert '"year":1999' in dump


def test_an_unreadable_movie_is_named_skipped_and_mended(cache: Cache) -> None:
    """Issue 11 item 6: one movie that cannot be read must not take the others with it."""
    others = [Ids(tmdb=604, imdb="tt0234215"), Ids(tmdb=605, imdb="tt0242653")]
    for ids in (MATRIX, *others):
        cache.commit(movie(ids), parts(ok("tmdb", ids), failed("omdb")), merge=merge)
    broken = cache.ref(MATRIX)
    assert broken is not None
    cache.db.execute(
        "UPDATE provider_parts SET result = '{\"year\":***}' "
        "WHERE movie_id = ? AND provider = 'tmdb'",
        [broken.id],
    )
    with pytest.raises(UnreadableMovieError) as error:
        cache.get("imdb", "tt0133093")
    message = str(error.value)
    assert f"cached movie {broken.id} (tmdb:603 imdb:tt0133093)" in message
    assert "tmdb part" in message and "cache repair tmdb:603" in message
    assert error.value.movie_id == broken.id and error.value.ids == broken.ids
    with pytest.raises(UnreadableMovieError):
        list(cache.iter_movies())
    skipped: list[UnreadableMovieError] = []
    assert [m.ids for m in cache.iter_movies(on_unreadable=skipped.append)] == others
    assert [m.ids for m in cache.stale(on_unreadable=skipped.append)] == others
    out = io.StringIO()
    assert cache.export_movies(out, on_unreadable=skipped.append) == 3  # the record is fine
    assert [e.movie_id for e in skipped] == [broken.id] * 2
    assert [e.movie_id for e in cache.unreadable()] == [broken.id]
    assert cache.stats().movies == 3
    skipped.clear()
    assert cache.remerge(merge, on_unreadable=skipped.append) == 2
    assert [e.movie_id for e in skipped] == [broken.id]

    # An unreadable merged record is rebuilt by remerge; unreadable parts are dropped.
    cache.db.execute("UPDATE provider_cache_movies SET movie = 'x' WHERE id = ?", [broken.id + 1])
    with pytest.raises(UnreadableMovieError, match="its merged record"):
        cache.get("tmdb", 604)
    export = io.StringIO()
    assert cache.export_movies(export, on_unreadable=skipped.append) == 2
    assert cache.remerge(merge, [broken.id + 1]) == 1
    assert cache.get("tmdb", 604).movie.title == "The Matrix"  # type: ignore[union-attr]
    assert cache.drop_unreadable_parts(broken.id) == [
        "tmdb part: JSONDecodeError: Expecting value: line 1 column 9 (char 8)"
    ]
    mended = cache.get("tmdb", 603)
    assert mended is not None and sorted(mended.parts) == ["omdb"]
    assert list(cache.unreadable()) == []
    assert cache.drop(broken.id) and cache.get("tmdb", 603) is None


def test_database_failures_are_storage_errors_naming_the_file(tmp_path: Path) -> None:
    """Issue 11 item 12: reads included; a corrupt page leaked sqlite3.DatabaseError."""
    path = tmp_path / "broken.sqlite"
    with Cache(path) as cache:
        for tmdb in range(1, 40):
            ids = Ids(tmdb=tmdb)
            cache.commit(movie(ids, images=30), parts(ok("tmdb", ids)))
        root = cache.db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'provider_cache_movies'"
        ).fetchone()[0]
        page_size = cache.db.execute("PRAGMA page_size").fetchone()[0]
    with path.open("r+b") as raw:  # scribble over the movies table's root page
        raw.seek((root - 1) * page_size)
        raw.write(b"\xff" * page_size)
    with Cache(path) as cache:
        for read in (
            lambda: cache.get("tmdb", 7),
            lambda: cache.stale(T0 + timedelta(days=30)),
            lambda: list(cache.iter_movies()),
            lambda: cache.remerge(merge),
            lambda: cache.export_movies(io.StringIO()),
        ):
            with pytest.raises(StorageError, match=f"cache {path}: .*malformed"):
                read()

    full = tmp_path / "full.sqlite"
    with Cache(full) as cache:
        pages = cache.db.execute("PRAGMA page_count").fetchone()[0]
        cache.db.execute(f"PRAGMA max_page_count = {pages + 1}")  # the disk is full
        # stored compressed: random URLs (~200 kB packed) need more than the free pages hold
        images = tuple(
            Image(provider="tmdb", kind="poster", url=f"https://img.test/{os.urandom(64).hex()}")
            for _ in range(3000)
        )
        with pytest.raises(StorageError, match=f"cache {full}: .*full"):
            cache.commit(attrs.evolve(movie(), images=images), parts(ok("tmdb")))
        assert cache.stats().movies == 0


def test_get_uses_an_index(cache: Cache) -> None:
    for column in ("tmdb_id", "imdb_id", "tvdb_id"):
        plan = cache.db.execute(
            f"EXPLAIN QUERY PLAN SELECT * FROM provider_cache_movies WHERE {column} = ?", [1]
        ).fetchall()
        assert "USING INDEX" in str(plan), plan
    plan = cache.db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM provider_parts WHERE movie_id IN (?, ?)", [1, 2]
    ).fetchall()
    assert "USING INDEX" in str(plan) or "PRIMARY KEY" in str(plan), plan


# -- schema --------------------------------------------------------------------------------------


def test_new_database_has_every_migration(tmp_path: Path) -> None:
    with Cache(tmp_path / "new" / "cache.db") as cache:
        assert cache.schema_version == LATEST_VERSION == len(MIGRATIONS)
        names = [row["name"] for row in cache.db[MIGRATIONS_TABLE].rows]
        assert names == [fn.__name__ for fn in MIGRATIONS]
        assert cache.db.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
        assert cache.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cache.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert cache.db.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
        assert cache.db.execute("PRAGMA page_size").fetchone()[0] == 8192
    with Cache(tmp_path / "new" / "cache.db") as again:  # reopening changes nothing
        assert again.schema_version == LATEST_VERSION


def test_upgrade_from_the_first_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    db = Database(open_database(path))  # sqlite-utils: what maintenance scripts use
    assert migrate(db, upto=1) == 1
    assert "input_key" not in db["provider_cache_movies"].columns_dict
    db.table("provider_cache_movies").insert(
        {
            "id": 7,
            "tmdb_id": 603,
            "imdb_id": "tt0133093",
            "tvdb_id": 169,
            "title": "The Matrix",
            "year": 1999,
            "movie": json.dumps(to_json(movie())),
            "provenance": json.dumps({"title": "tmdb"}),
            "identified_at": "2024-01-01T12:00:00.000000+00:00",
            "refreshed_at": "2024-01-01T12:00:00.000000+00:00",
        }
    )
    db.table("provider_parts").insert(
        {
            "movie_id": 7,
            "provider": "tmdb",
            "status": "ok",
            "fetched_at": "2024-01-01T12:00:00.000000+00:00",
            "result": json.dumps(to_json(result("tmdb", MATRIX))),
        }
    )
    db.table("retry_queue").insert(
        {
            "key": "k",
            "input": "{}",
            "provider": "omdb",
            "not_before": "2024-01-02T00:00:00.000000+00:00",
            "reason": "quota",
            "scheduled_at": "2024-01-01T12:00:00.000000+00:00",
        }
    )
    db.close()

    with Cache(path, clock=Clock()) as cache:
        assert cache.schema_version == LATEST_VERSION
        found = cache.get("imdb", "tt0133093")
        assert found is not None
        assert (found.id, found.movie, found.key) == (7, movie(), None)
        assert found.parts == parts(ok("tmdb"))
        assert cache.pending_retry("k") is not None
        cache.confirm_identity("k", MATRIX, by="person")  # tables from later migrations work
        assert cache.commit(movie(), {}, key="k").id == 7


def _cache_as_schema_7_wrote_it(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache at schema version 7 with two movies, written by the store as it was then
    (every JSON document as plain text: `store.pack` was `store.dumps`)."""
    db = open_database(path)
    assert migrate(db, upto=7) == 7
    db.close()
    with monkeypatch.context() as patch:
        patch.setattr(metarr.cache.store, "pack", metarr.cache.store.dumps)
        patch.setattr(metarr.cache.schema, "LATEST_VERSION", 7)
        patch.setattr(metarr.cache.schema, "MIGRATIONS", MIGRATIONS[:7])
        with Cache(path, clock=Clock()) as old:
            old.commit(movie(), parts(ok("tmdb"), ok("omdb"), failed("fanart")), key="k")
            other = Ids(tmdb=949, imdb="tt0113277")
            old.commit(movie(other, "Heat"), parts(ok("tmdb", other, title="Heat")))
    conn = sqlite3.connect(path)
    kinds = conn.execute(
        "SELECT typeof(movie) FROM provider_cache_movies UNION ALL "
        "SELECT typeof(result) FROM provider_parts WHERE result IS NOT NULL"
    ).fetchall()
    conn.close()
    assert {kind for (kind,) in kinds} == {"text"}


def test_upgrade_compresses_stored_json_and_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v7.db"
    _cache_as_schema_7_wrote_it(path, monkeypatch)
    conn = sqlite3.connect(path)
    before = {
        "movies": conn.execute("SELECT id, movie FROM provider_cache_movies").fetchall(),
        "parts": conn.execute("SELECT movie_id, provider, result FROM provider_parts").fetchall(),
    }
    conn.close()
    with Cache(path, clock=Clock()) as cache:
        assert cache.schema_version == LATEST_VERSION
        kinds = cache.db.execute(
            "SELECT typeof(movie) FROM provider_cache_movies UNION ALL "
            "SELECT typeof(result) FROM provider_parts WHERE result IS NOT NULL"
        ).fetchall()
        assert {kind for (kind,) in kinds} == {"blob"}
        derived = {"movie_images", "movie_ratings", "movie_cast", "movie_crew"}
        assert derived & set(cache.db.table_names()) == set()  # a copy of the merged movie
        after_movies = cache.db.execute("SELECT id, movie FROM provider_cache_movies").fetchall()
        assert [(i, unpack(m)) for i, m in after_movies] == before["movies"]
        after_parts = cache.db.execute(
            "SELECT movie_id, provider, result FROM provider_parts"
        ).fetchall()
        assert [(i, p, r and unpack(r)) for i, p, r in after_parts] == before["parts"]
        found = cache.get("tmdb", 603)
        assert found is not None
        assert (found.movie, found.key) == (movie(), "k")
        assert found.parts == parts(ok("tmdb"), ok("omdb"), failed("fanart"))
        assert found.parts["tmdb"].result is not None
        assert found.parts["tmdb"].result.raw == result("tmdb", MATRIX).raw
        light = cache.find(MATRIX, parts=False)
        assert light is not None and light.movie == movie()
        out = io.StringIO()
        assert cache.export_movies(out) == 2
        assert [json.loads(line) for line in out.getvalue().splitlines()] == [
            to_json(movie()),
            to_json(movie(Ids(tmdb=949, imdb="tt0113277"), "Heat")),
        ]


def test_an_upgrade_that_fails_midway_leaves_the_old_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v7.db"
    _cache_as_schema_7_wrote_it(path, monkeypatch)
    packed_so_far = []
    real = metarr.cache.packed.pack_text

    def pack_then_die(text: str) -> bytes:
        if len(packed_so_far) == 2:  # a kill or a full disk in the middle of the conversion
            raise OSError("disk full")
        packed_so_far.append(text)
        return real(text)

    with monkeypatch.context() as patch:
        patch.setattr(metarr.cache.packed, "pack_text", pack_then_die)
        with pytest.raises((StorageError, sqlite3.Error)):
            Cache(path, clock=Clock())
    assert len(packed_so_far) == 2
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    kinds = conn.execute("SELECT typeof(result) FROM provider_parts WHERE result IS NOT NULL")
    assert {kind for (kind,) in kinds} == {"text"}
    conn.close()
    with Cache(path, clock=Clock()) as cache:  # the next open upgrades it
        assert cache.schema_version == LATEST_VERSION
        found = cache.get("tmdb", 603)
        assert found is not None and found.movie == movie()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with Cache(path) as cache:
        cache.db.table(MIGRATIONS_TABLE).insert(
            {"version": LATEST_VERSION + 1, "name": "m999_from_the_future", "applied_at": "x"}
        )
    with pytest.raises(StorageError) as error:
        Cache(path)
    message = str(error.value)
    assert f"version {LATEST_VERSION + 1}" in message
    assert f"version {LATEST_VERSION} " in message


def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StorageError, match="is not a SQLite database"):
        Cache(path)
    assert path.read_text().startswith("these are my notes")
    with pytest.raises(StorageError, match="is a directory"):
        Cache(tmp_path)


def test_someone_elses_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kodi.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE movie (idMovie INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="not a metarr cache"):
        Cache(path)


def test_cached_movie_is_a_plain_record(cache: Cache) -> None:
    committed = cache.commit(movie(), parts(ok("tmdb")))
    assert isinstance(committed, CachedMovie)
    assert committed == cache.get("tmdb", 603)
    assert committed.ids == MATRIX
