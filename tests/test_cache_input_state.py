"""`Cache.input_state`: a key's identity, queue entry and pending retry in one read, each
the same as its own read gives (`identity`, `queued`, `pending_retry`)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from metarr.cache import Cache
from metarr.ids import Ids
from metarr.models import Outcome

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "c.db", clock=lambda: T0)


def same(cache: Cache, key: str) -> None:
    state = cache.input_state(key)
    assert state.identity() == cache.identity(key)
    assert state.queued() == cache.queued(key)
    assert state.pending_retry() == cache.pending_retry(key)


def test_a_key_the_cache_does_not_know(cache: Cache) -> None:
    state = cache.input_state("nobody")
    assert (state.identity(), state.queued(), state.pending_retry()) == (None, None, None)


def test_each_alone_and_all_together(cache: Cache) -> None:
    cache.confirm_identity("identified", Ids(tmdb=603, imdb="tt0133093"), by="person")
    cache.queue_identification("queued", {"title": "Heat"}, Outcome(status="ambiguous"))
    cache.mark_reviewed("queued")
    later = T0 + timedelta(hours=1)
    cache.schedule_retry("retried", {"imdb_id": "tt0113277"}, "tmdb", later, "429")
    for key in ("all", "queued-and-retried"):
        cache.queue_identification(key, {"title": "X"}, Outcome(status="not_found"))
        cache.schedule_retry(key, {"title": "X"}, "omdb", later, "quota")
    cache.confirm_identity("all", Ids(tvdb=169), by="lookup")
    for key in ("identified", "queued", "retried", "all", "queued-and-retried", "none"):
        same(cache, key)
    assert cache.input_state("all").identity() is not None


def test_an_unreadable_entry_fails_only_when_read(cache: Cache) -> None:
    cache.confirm_identity("k", Ids(tmdb=603), by="lookup")
    cache.queue_identification("k", {"title": "Matrix"}, Outcome(status="ambiguous"))
    with sqlite3.connect(cache.path) as conn:
        conn.execute("UPDATE identification_queue SET candidates = 'not json'")
    state = cache.input_state("k")
    assert state.identity() == cache.identity("k")  # the identity reads as before
    with pytest.raises(ValueError, match="Expecting value"):
        state.queued()
    with pytest.raises(ValueError, match="Expecting value"):
        cache.queued("k")
