"""What library scans remember per item: evidence, fingerprint, identified ids, last seen.

Rows are keyed by the scanned root (its absolute path, printable) and the item's key (its
printable path relative to the root); ``path`` keeps the exact relative path bytes. Ids are
recorded with the fingerprint they were identified under and count only while the item's
fingerprint is still that one: a changed NFO or name makes them stale without erasing them.
Nothing here is ever deleted by a scan; items gone from disk are only reported.

Write functions take the database inside a write transaction (`write_transaction`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import attrs
from sqlite_utils import Database

from metarr.cache import store
from metarr.cache.packed import unpack
from metarr.cache.times import from_text, to_text
from metarr.ids import Ids

TABLE = "scan_items"


@attrs.frozen(kw_only=True)
class ScanRecord:
    """One remembered library item."""

    root: str
    key: str
    path: bytes
    layout: str
    fingerprint: str
    evidence: dict[str, Any]
    ids: Ids
    identified_fingerprint: str | None
    identified_at: datetime | None
    first_seen: datetime
    last_seen: datetime

    @property
    def identified(self) -> Ids | None:
        """The ids this item was identified as, if that was under its current fingerprint."""
        if self.ids and self.identified_fingerprint == self.fingerprint:
            return self.ids
        return None


def _record(row: Mapping[str, Any]) -> ScanRecord:
    return ScanRecord(
        root=row["root"],
        key=row["key"],
        path=bytes(row["path"]),
        layout=row["layout"],
        fingerprint=row["fingerprint"],
        evidence=json.loads(row["evidence"]),
        ids=Ids.lenient(tmdb=row["tmdb_id"], imdb=row["imdb_id"], tvdb=row["tvdb_id"]),
        identified_fingerprint=row["identified_fingerprint"],
        identified_at=from_text(row["identified_at"]) if row["identified_at"] else None,
        first_seen=from_text(row["first_seen"]),
        last_seen=from_text(row["last_seen"]),
    )


def get(db: Database, root: str, key: str) -> ScanRecord | None:
    """The item remembered under ``key`` in ``root`` (one indexed read: a rescan does this for
    every item, so it skips sqlite-utils' query wrapper)."""
    cursor = db.conn.execute(f"SELECT * FROM {TABLE} WHERE root = ? AND key = ?", [root, key])
    row = cursor.fetchone()
    if row is None:
        return None
    return _record(dict(zip((c[0] for c in cursor.description), row, strict=True)))


def with_fingerprint(db: Database, root: str, fingerprint: str) -> list[ScanRecord]:
    """Items of ``root`` remembered with this fingerprint (a moved folder keeps its own)."""
    # No ORDER BY: SQLite would walk the primary key (every item of the root) to avoid a sort.
    rows = db.query(
        f"SELECT * FROM {TABLE} INDEXED BY {TABLE}_fingerprint WHERE root = ? AND fingerprint = ?",
        [root, fingerprint],
    )
    return sorted((_record(row) for row in rows), key=lambda record: record.key)


def remember(
    db: Database,
    *,
    root: str,
    key: str,
    path: bytes,
    layout: str,
    fingerprint: str,
    evidence: Mapping[str, Any],
    now: datetime,
) -> None:
    """Store an item's (new or re-read) evidence; recorded ids stay, tied to their fingerprint."""
    stamp = to_text(now)
    db.execute(
        f"""INSERT INTO {TABLE}
               (root, key, path, layout, fingerprint, evidence, first_seen, last_seen)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(root, key) DO UPDATE SET path = excluded.path,
               layout = excluded.layout, fingerprint = excluded.fingerprint,
               evidence = excluded.evidence, last_seen = excluded.last_seen""",
        [root, key, path, layout, fingerprint, json.dumps(dict(evidence)), stamp, stamp],
    )


def seen(db: Database, root: str, keys: Iterable[str], now: datetime) -> None:
    """Mark unchanged items as seen now."""
    stamp = to_text(now)
    db.conn.executemany(
        f"UPDATE {TABLE} SET last_seen = ? WHERE root = ? AND key = ?",
        [(stamp, root, key) for key in keys],
    )


def move(
    db: Database,
    *,
    root: str,
    old_key: str,
    new_key: str,
    path: bytes,
    fingerprint: str,
    now: datetime,
) -> bool:
    """Re-key a moved item (evidence and ids go with it); False, changing nothing, when the old
    row no longer has that fingerprint or the new key is taken."""
    cursor = db.execute(
        f"""UPDATE {TABLE} SET key = ?, path = ?, last_seen = ?
            WHERE root = ? AND key = ? AND fingerprint = ?
              AND NOT EXISTS (SELECT 1 FROM {TABLE} WHERE root = ? AND key = ?)""",
        [new_key, path, to_text(now), root, old_key, fingerprint, root, new_key],
    )
    return cursor.rowcount == 1


def record_ids(
    db: Database, *, root: str, key: str, fingerprint: str, ids: Ids, now: datetime
) -> bool:
    """Record that the item, as read under ``fingerprint``, is the movie with ``ids``.

    False, changing nothing, when the item is unknown or its evidence has changed since.
    """
    if not ids:
        raise ValueError(f"an identified scan item needs at least one id ({key!r})")
    cursor = db.execute(
        f"""UPDATE {TABLE} SET tmdb_id = ?, imdb_id = ?, tvdb_id = ?,
               identified_fingerprint = ?, identified_at = ?
            WHERE root = ? AND key = ? AND fingerprint = ?""",
        [ids.tmdb, ids.imdb, ids.tvdb, fingerprint, to_text(now), root, key, fingerprint],
    )
    return cursor.rowcount == 1


def not_seen_since(db: Database, root: str, since: datetime) -> Iterator[ScanRecord]:
    """Items of ``root`` not seen since ``since`` (gone from disk when a full scan began then)."""
    rows = db.query(
        f"SELECT * FROM {TABLE} WHERE root = ? AND last_seen < ? ORDER BY key",
        [root, to_text(since)],
    )
    return (_record(row) for row in rows)


def items(db: Database, root: str) -> Iterator[ScanRecord]:
    """Every remembered item of ``root``, by key, streamed."""
    return (
        _record(row)
        for row in db.query(f"SELECT * FROM {TABLE} WHERE root = ? ORDER BY key", [root])
    )


def part_statuses(db: Database, movie_id: int) -> dict[str, str]:
    """Each provider part's status for a cached movie (``ok``, ``not_found``, …), read from
    the part rows alone: a remembered item's outcome without loading the providers' records."""
    cursor = db.conn.execute(
        "SELECT provider, status FROM provider_parts WHERE movie_id = ?", [movie_id]
    )
    return {str(provider): str(status) for provider, status in cursor.fetchall()}


@attrs.frozen(kw_only=True)
class StoredMovie:
    """A committed movie as stored: its row id, ids, title, year, when it was refreshed, and
    its merged record as JSON text (decoded only by whoever needs the `metarr.Movie`)."""

    id: int
    ids: Ids
    title: str | None
    year: int | None
    refreshed_at: datetime
    record: str


def stored_movie(db: Database, ids: Ids) -> StoredMovie | None:
    """The committed movie for the first of ``ids`` (tmdb, imdb, tvdb) the cache holds, read
    without decoding its record: what a rescan needs for an item it remembers."""
    for kind, value in ids.items():
        row = store.light_row(db.conn, kind, value)
        if row is not None:
            return StoredMovie(
                id=int(row["id"]),
                ids=Ids.lenient(tmdb=row["tmdb_id"], imdb=row["imdb_id"], tvdb=row["tvdb_id"]),
                title=row["title"],
                year=row["year"],
                refreshed_at=from_text(row["refreshed_at"]),
                record=unpack(row["movie"]),
            )
    return None
