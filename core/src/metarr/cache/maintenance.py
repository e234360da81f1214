"""Whole-cache questions and chores: what is stale or incomplete, counts, pruning, export."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, TextIO

from metarr.cache import provider_state
from metarr.cache.database import Connection, fetch
from metarr.cache.packed import unpack
from metarr.cache.records import SETTLED_STATUSES
from metarr.cache.schema import MOVIES
from metarr.cache.store import CHILD_TABLES, OnUnreadable, iter_rows, unreadable, why
from metarr.cache.times import from_text, to_text
from metarr.convert import dumps, from_json
from metarr.freshness import RefreshRules
from metarr.ids import ID_KINDS
from metarr.models import Movie

_SETTLED = ", ".join(f"'{status}'" for status in sorted(SETTLED_STATUSES))


_PARTS = (
    f"provider_parts p JOIN {MOVIES} m ON m.id = p.movie_id "
    "LEFT JOIN part_checks c ON c.movie_id = p.movie_id AND c.provider = p.provider"
)
_SINCE = "max(p.fetched_at, coalesce(c.checked_at, ''))"  # fetched, or last confirmed current
_CHANGED = "coalesce(c.changed_at > p.fetched_at, 0)"  # a feed listed it since its fetch


def _cutoff(
    ttl_days: Mapping[str, float], default_ttl_days: float, rules: RefreshRules, now: datetime
) -> tuple[str, list[Any]]:
    """SQL for the time a part of ``p`` (of the movie ``m``) must be newer than to be fresh:
    now minus its provider's TTL stretched by the film's age."""
    bands = rules.year_bands(now)

    def by_age(days: float) -> tuple[str, list[Any]]:
        cases, params = [], []
        for earliest, factor in bands[:-1]:
            cases.append("WHEN m.year IS NULL OR m.year >= ? THEN ?")
            params += [earliest, to_text(now - timedelta(days=max(0.0, days) * factor))]
        params.append(to_text(now - timedelta(days=max(0.0, days) * bands[-1][1])))
        return (f"CASE {' '.join(cases)} ELSE ? END" if cases else "?"), params

    whens, params = [], []
    for provider, days in ttl_days.items():
        sql, values = by_age(days)
        whens.append(f"WHEN ? THEN {sql}")
        params += [provider, *values]
    default_sql, default_params = by_age(default_ttl_days)
    if not whens:
        return default_sql, default_params
    return f"CASE p.provider {' '.join(whens)} ELSE {default_sql} END", [*params, *default_params]


def stale_movie_ids(
    db: Connection,
    ttl_days: Mapping[str, float],
    default_ttl_days: float,
    now: datetime,
    rules: RefreshRules | None = None,
) -> list[int]:
    """Ids of movies with a part not settled, or past its provider's TTL (stretched by the
    film's age, counted from its fetch or its last confirmation), in id order."""
    cutoff, params = _cutoff(ttl_days, default_ttl_days, rules or RefreshRules(), now)
    rows = fetch(
        db,
        f"SELECT DISTINCT p.movie_id FROM {_PARTS} "
        f"WHERE p.status NOT IN ({_SETTLED}) OR {_SINCE} <= {cutoff} ORDER BY p.movie_id",
        params,
    )
    return [row["movie_id"] for row in rows]


def feed_since(db: Connection, provider: str, after: datetime) -> datetime | None:
    """Where a change feed must start to vouch for every part of ``provider`` it can: the
    oldest fetch or confirmation later than ``after`` among its answered parts not already
    known to have changed. None when there is no such part."""
    row = db.execute(
        f"SELECT min({_SINCE}) FROM {_PARTS} WHERE p.provider = ? AND p.status = 'ok' "
        f"AND NOT {_CHANGED} AND {_SINCE} > ?",
        [provider, to_text(after)],
    ).fetchone()
    return from_text(row[0]) if row and row[0] else None


def record_feed(
    db: Connection,
    provider: str,
    kinds: Collection[str],
    since: datetime,
    changed: Collection[str],
    at: datetime,
    note: str,
) -> set[int]:
    """Apply a change feed's answer for ``since`` to ``at``: ``provider``'s answered parts
    current at ``since`` (not already known to have changed) whose movie has none of its
    ``kinds`` of id in ``changed`` are confirmed current at ``at``; the others are marked
    changed. A movie with no id of those kinds is left alone. Returns the confirmed movies."""
    columns = [f"m.{kind}_id" for kind in ID_KINDS if kind in kinds]
    if not columns:
        return set()
    rows = db.execute(
        f"SELECT p.movie_id, {', '.join(columns)} FROM {_PARTS} WHERE p.provider = ? "
        f"AND p.status = 'ok' AND NOT {_CHANGED} AND {_SINCE} >= ?",
        [provider, to_text(since)],
    ).fetchall()
    listed = set(changed)
    confirmed: list[int] = []
    flagged: list[int] = []
    for movie_id, *ids in rows:
        known = [str(value) for value in ids if value is not None]
        if known:
            (flagged if listed.intersection(known) else confirmed).append(movie_id)
    when = to_text(at)
    db.executemany(
        "INSERT INTO part_checks (movie_id, provider, checked_at, note) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(movie_id, provider) DO UPDATE SET "
        "checked_at = excluded.checked_at, note = excluded.note",
        [(movie_id, provider, when, note) for movie_id in confirmed],
    )
    db.executemany(
        "INSERT INTO part_checks (movie_id, provider, changed_at) VALUES (?, ?, ?) "
        "ON CONFLICT(movie_id, provider) DO UPDATE SET changed_at = excluded.changed_at",
        [(movie_id, provider, when) for movie_id in flagged],
    )
    return set(confirmed)


def part_checks(db: Connection, movie_id: int) -> dict[str, tuple[datetime, str]]:
    """When and how each of a movie's parts was last confirmed current, by provider."""
    rows = fetch(
        db,
        "SELECT provider, checked_at, note FROM part_checks "
        "WHERE movie_id = ? AND checked_at IS NOT NULL",
        [movie_id],
    )
    return {row["provider"]: (from_text(row["checked_at"]), row["note"] or "") for row in rows}


def missing_by_provider(db: Connection, expected: Collection[str] = ()) -> dict[str, set[int]]:
    """For each provider, the movies whose part needs a fill-in (or is absent, if expected)."""
    found: dict[str, set[int]] = {}
    rows = fetch(
        db, f"SELECT movie_id, provider FROM provider_parts WHERE status NOT IN ({_SETTLED})"
    )
    for row in rows:
        found.setdefault(row["provider"], set()).add(row["movie_id"])
    for provider in expected:
        absent = fetch(
            db,
            f"SELECT id FROM {MOVIES} WHERE id NOT IN "
            "(SELECT movie_id FROM provider_parts WHERE provider = ?)",
            [provider],
        )
        found.setdefault(provider, set()).update(row["id"] for row in absent)
    return {provider: ids for provider, ids in sorted(found.items()) if ids}


def prune(db: Connection, now: datetime) -> dict[str, int]:
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


def export_movies(db: Connection, out: TextIO, on_unreadable: OnUnreadable | None = None) -> int:
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


def db_bytes(db: Connection) -> int:
    """Size of the database in bytes (pages in use, WAL included once checkpointed)."""
    page_count = db.execute("PRAGMA page_count").fetchone()[0]
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    return int(page_count) * int(page_size)
