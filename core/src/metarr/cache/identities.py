"""Confirmed identities: the ids a person chose (or a lookup or search confirmed) for an input key.

A person's choice is never replaced by an automatic one; between equals the newer one wins.
Export and import are JSON Lines, one ``{"key", "ids", "by", "at"}`` object per line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TextIO

from metarr.cache.database import Connection, fetch
from metarr.cache.records import IDENTITY_SOURCES, ConfirmedIdentity
from metarr.cache.times import from_text, to_text
from metarr.errors import InvalidIdError, StorageError
from metarr.ids import Ids


def _checked(key: str, ids: Ids, by: str) -> None:
    if not key:
        raise ValueError("an identity needs a non-empty input key")
    if not ids:
        raise ValueError(f"identity for {key!r} needs at least one id")
    if by not in IDENTITY_SOURCES:
        raise ValueError(
            f"identity source must be one of {', '.join(IDENTITY_SOURCES)}, not {by!r}"
        )


def from_row(row: Mapping[str, Any]) -> ConfirmedIdentity:
    """The identity of an ``identities`` row."""
    return ConfirmedIdentity(
        key=row["key"],
        ids=Ids(tmdb=row["tmdb_id"], imdb=row["imdb_id"], tvdb=row["tvdb_id"]),
        by=row["by"],
        at=from_text(row["at"]),
    )


def identity(db: Connection, key: str) -> ConfirmedIdentity | None:
    """The identity confirmed for ``key``."""
    rows = list(fetch(db, "SELECT * FROM identities WHERE key = ?", [key]))
    return from_row(rows[0]) if rows else None


_RECORD = """
    INSERT INTO identities (key, tmdb_id, imdb_id, tvdb_id, by, at) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET
        tmdb_id = excluded.tmdb_id, imdb_id = excluded.imdb_id, tvdb_id = excluded.tvdb_id,
        by = excluded.by, at = excluded.at
    WHERE CASE WHEN (excluded.by = 'person') <> (identities.by = 'person')
               THEN excluded.by = 'person'
               ELSE excluded.at >= identities.at END
      AND NOT (identities.tmdb_id IS excluded.tmdb_id AND identities.imdb_id IS excluded.imdb_id
               AND identities.tvdb_id IS excluded.tvdb_id AND identities.by = excluded.by)"""
"""A person's choice beats an automatic one, and between equals the newer (or as new) wins;
an identity holding these ids from this source already is left as it is. One statement, not
a read and a write: `metarr.cache.times` stamps sort in time order as text."""


def record(db: Connection, new: ConfirmedIdentity) -> bool:
    """Store ``new`` unless a stronger identity is there already; True when written."""
    _checked(new.key, new.ids, new.by)
    values = [new.key, new.ids.tmdb, new.ids.imdb, new.ids.tvdb, new.by, to_text(new.at)]
    return db.execute(_RECORD, values).rowcount > 0


def confirm(db: Connection, key: str, ids: Ids, by: str, now: datetime) -> bool:
    """Record that ``key`` is the movie with ``ids``; True when written."""
    return record(db, ConfirmedIdentity(key=key, ids=ids, by=by, at=now))


def export(db: Connection, out: TextIO) -> int:
    """Write every identity as JSON Lines, sorted by key; return how many."""
    count = 0
    for row in fetch(db, "SELECT * FROM identities ORDER BY key"):
        item = from_row(row)
        line = {
            "key": item.key,
            "ids": {kind: value for kind, value in item.ids.items()},
            "by": item.by,
            "at": to_text(item.at),
        }
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += 1
    return count


def parse_line(line: str, number: int) -> ConfirmedIdentity:
    """One exported line back into an identity; `StorageError` naming the line if unusable."""
    try:
        data = json.loads(line)
        if not isinstance(data, dict) or not isinstance(data.get("ids"), dict):
            raise ValueError("expected an object with 'key', 'ids', 'by' and 'at'")
        key, by, at = data.get("key"), data.get("by"), data.get("at")
        if not isinstance(key, str) or not isinstance(by, str) or not isinstance(at, str):
            raise ValueError("'key', 'by' and 'at' must be strings")
        ids = Ids(**{k: v for k, v in data["ids"].items() if v is not None})
        item = ConfirmedIdentity(key=key, ids=ids, by=by, at=from_text(at))
        _checked(item.key, item.ids, item.by)
    except (ValueError, TypeError, InvalidIdError) as exc:
        raise StorageError(f"identities line {number}: {exc}") from exc
    return item
