"""Whole-cache questions and chores: what is stale or incomplete, counts, pruning, export."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, TextIO

from sqlite_utils import Database

from metarr.cache import provider_state
from metarr.cache.packed import unpack
from metarr.cache.records import SETTLED_STATUSES, ttl_for
from metarr.cache.schema import MOVIES
from metarr.cache.store import CHILD_TABLES, OnUnreadable, iter_rows, unreadable, why
from metarr.cache.times import to_text
from metarr.convert import dumps, from_json
from metarr.models import Movie

_SETTLED = ", ".join(f"'{status}'" for status in sorted(SETTLED_STATUSES))


def stale_movie_ids(
    db: Database, ttl_days: Mapping[str, float], default_ttl_days: float, now: datetime
) -> list[int]:
    """Ids of movies with a part past its provider's TTL or not settled (one indexed scan)."""
    cases = " ".join("WHEN ? THEN ?" for _ in ttl_days)
    params: list[Any] = []
    for provider in ttl_days:
        params += [provider, to_text(now - ttl_for(provider, ttl_days, default_ttl_days))]
    default_cutoff = to_text(now - ttl_for("", None, default_ttl_days))
    cutoff = f"CASE provider {cases} ELSE ? END" if ttl_days else "?"
    rows = db.query(
        f"SELECT DISTINCT movie_id FROM provider_parts "
        f"WHERE status NOT IN ({_SETTLED}) OR fetched_at <= {cutoff} ORDER BY movie_id",
        [*params, default_cutoff],
    )
    return [row["movie_id"] for row in rows]


def missing_by_provider(db: Database, expected: Collection[str] = ()) -> dict[str, set[int]]:
    """For each provider, the movies whose part needs a fill-in (or is absent, if expected)."""
    found: dict[str, set[int]] = {}
    rows = db.query(
        f"SELECT movie_id, provider FROM provider_parts WHERE status NOT IN ({_SETTLED})"
    )
    for row in rows:
        found.setdefault(row["provider"], set()).add(row["movie_id"])
    for provider in expected:
        absent = db.query(
            f"SELECT id FROM {MOVIES} WHERE id NOT IN "
            "(SELECT movie_id FROM provider_parts WHERE provider = ?)",
            [provider],
        )
        found.setdefault(provider, set()).update(row["id"] for row in absent)
    return {provider: ids for provider, ids in sorted(found.items()) if ids}


def prune(db: Database, now: datetime) -> dict[str, int]:
    """Delete what no longer serves a purpose; return counts by kind of row."""
    orphaned = 0
    for table in CHILD_TABLES:
        cursor = db.execute(f"DELETE FROM {table} WHERE movie_id NOT IN (SELECT id FROM {MOVIES})")
        orphaned += cursor.rowcount
    cached_keys = f"""
        SELECT input_key FROM {MOVIES} WHERE input_key IS NOT NULL
        UNION
        SELECT i.key FROM identities i JOIN {MOVIES} m
            ON m.tmdb_id = i.tmdb_id OR m.imdb_id = i.imdb_id OR m.tvdb_id = i.tvdb_id"""
    retries = db.execute(f"DELETE FROM retry_queue WHERE key IN ({cached_keys})").rowcount
    queued = db.execute(f"DELETE FROM identification_queue WHERE key IN ({cached_keys})").rowcount
    return {
        "orphaned_rows": orphaned,
        "expired_pauses": provider_state.expire_pauses(db, now),
        "retries_for_cached": retries,
        "queued_for_cached": queued,
    }


def export_movies(db: Database, out: TextIO, on_unreadable: OnUnreadable | None = None) -> int:
    """Write each cached movie's JSON (the JSON contract) as one line; return how many.

    A movie whose record cannot be read raises `UnreadableMovieError`, or is handed to
    ``on_unreadable`` and left out.
    """
    count = 0
    for row in iter_rows(db):
        try:
            movie = from_json(Movie, json.loads(unpack(row["movie"])))
        except Exception as exc:
            error = unreadable(row, f"its merged record: {why(exc)}")
            if on_unreadable is None:
                raise error from exc
            on_unreadable(error)
            continue
        out.write(dumps(movie) + "\n")
        count += 1
    return count


def db_bytes(db: Database) -> int:
    """Size of the database in bytes (pages in use, WAL included once checkpointed)."""
    page_count = db.execute("PRAGMA page_count").fetchone()[0]
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    return int(page_count) * int(page_size)
