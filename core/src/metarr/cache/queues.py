"""The two work queues: identifications a person must settle, and retries waiting for a provider.

Queues hold only the input, the candidates and the reasons — never movie rows: a movie exists in
the cache only once it is committed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from metarr.cache import identities
from metarr.cache.database import Connection, fetch
from metarr.cache.records import ConfirmedIdentity, PendingRetry, QueuedIdentification
from metarr.cache.store import dumps
from metarr.cache.times import from_text, to_text
from metarr.convert import from_json, to_json
from metarr.models import NEEDS_PERSON, Candidate, Outcome


def queue_identification(
    db: Connection,
    key: str,
    input: Mapping[str, Any],
    outcome: Outcome,
    now: datetime,
    *,
    reviewed: bool = False,
) -> None:
    """Add or update the entry for ``key``; the first ``queued_at`` is kept, and so is its
    review mark (``reviewed``: mark it reviewed now)."""
    if outcome.status not in NEEDS_PERSON:
        raise ValueError(
            f"only {', '.join(sorted(NEEDS_PERSON))} outcomes are queued for a person, "
            f"not {outcome.status!r}"
        )
    stamp = to_text(now)
    db.execute(
        """INSERT INTO identification_queue
               (key, input, status, candidates, reasons, queued_at, updated_at, reviewed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(key) DO UPDATE SET input = excluded.input, status = excluded.status,
               candidates = excluded.candidates, reasons = excluded.reasons,
               updated_at = excluded.updated_at,
               reviewed_at = coalesce(excluded.reviewed_at, reviewed_at)""",
        [
            key,
            dumps(dict(input)),
            outcome.status,
            dumps(to_json(list(outcome.candidates))),
            dumps(list(outcome.reasons)),
            stamp,
            stamp,
            stamp if reviewed else None,
        ],
    )


def mark_reviewed(db: Connection, key: str, now: datetime) -> bool:
    """Mark the entry for ``key`` reviewed now; False when ``key`` is not queued."""
    cursor = db.execute(
        "UPDATE identification_queue SET reviewed_at = ? WHERE key = ?", [to_text(now), key]
    )
    return cursor.rowcount > 0


def identification_queue(db: Connection) -> list[QueuedIdentification]:
    """Every queued identification, oldest first."""
    rows = fetch(db, "SELECT * FROM identification_queue ORDER BY queued_at, key")
    return [_queued(row) for row in rows]


def queued(db: Connection, key: str) -> QueuedIdentification | None:
    """The queued identification for ``key``, if any."""
    rows = list(fetch(db, "SELECT * FROM identification_queue WHERE key = ?", [key]))
    return _queued(rows[0]) if rows else None


def _queued(row: Mapping[str, Any]) -> QueuedIdentification:
    return QueuedIdentification(
        key=row["key"],
        input=json.loads(row["input"]),
        status=row["status"],
        candidates=tuple(from_json(list[Candidate], json.loads(row["candidates"]))),
        reasons=tuple(json.loads(row["reasons"])),
        queued_at=from_text(row["queued_at"]),
        reviewed_at=from_text(row["reviewed_at"]) if row.get("reviewed_at") else None,
    )


def schedule_retry(
    db: Connection,
    key: str,
    input: Mapping[str, Any],
    provider: str,
    not_before: datetime,
    reason: str,
    now: datetime,
) -> None:
    """Set the (single) pending retry for ``key``; a later call replaces an earlier one."""
    db.execute(
        """INSERT OR REPLACE INTO retry_queue
               (key, input, provider, not_before, reason, scheduled_at)
           VALUES (?, ?, ?, ?, ?, ?)""",
        [key, dumps(dict(input)), provider, to_text(not_before), reason, to_text(now)],
    )


def _retry(row: Mapping[str, Any]) -> PendingRetry:
    return PendingRetry(
        key=row["key"],
        input=json.loads(row["input"]),
        provider=row["provider"],
        not_before=from_text(row["not_before"]),
        reason=row["reason"],
    )


def due_retries(db: Connection, now: datetime) -> list[PendingRetry]:
    """Retries whose ``not_before`` has passed, earliest first."""
    rows = fetch(
        db,
        "SELECT * FROM retry_queue WHERE not_before <= ? ORDER BY not_before, key",
        [to_text(now)],
    )
    return [_retry(row) for row in rows]


def pending_retry(db: Connection, key: str) -> PendingRetry | None:
    """The retry scheduled for ``key``, due or not."""
    rows = list(fetch(db, "SELECT * FROM retry_queue WHERE key = ?", [key]))
    return _retry(rows[0]) if rows else None


def remove(db: Connection, table: str, key: str) -> None:
    """Drop ``key`` from one queue table."""
    if table not in ("identification_queue", "retry_queue"):
        raise ValueError(f"not a queue: {table!r}")
    db.execute(f"DELETE FROM {table} WHERE key = ?", [key])


_IDENTITY = ("key", "tmdb_id", "imdb_id", "tvdb_id", "by", "at")
_QUEUED = ("key", "input", "status", "candidates", "reasons", "queued_at", "reviewed_at")
_RETRY = ("key", "input", "provider", "not_before", "reason")
_INPUT_STATE = f"""
    SELECT {", ".join(f"i.{c}" for c in _IDENTITY)}, {", ".join(f"q.{c}" for c in _QUEUED)},
           {", ".join(f"r.{c}" for c in _RETRY)}
    FROM (SELECT ? AS key) AS given
    LEFT JOIN identities AS i ON i.key = given.key
    LEFT JOIN identification_queue AS q ON q.key = given.key
    LEFT JOIN retry_queue AS r ON r.key = given.key"""


class InputState:
    """What the cache holds about an input key, read in one query (a plan needs all three):
    its identity, its entry waiting for a person, its pending retry. Each is parsed when asked
    for, as the query of its own would have been."""

    __slots__ = ("_identity", "_queued", "_retry")

    def __init__(self, row: tuple[Any, ...]) -> None:
        ends = (len(_IDENTITY), len(_IDENTITY) + len(_QUEUED), len(row))
        self._identity = _part(_IDENTITY, row[: ends[0]])
        self._queued = _part(_QUEUED, row[ends[0] : ends[1]])
        self._retry = _part(_RETRY, row[ends[1] :])

    def identity(self) -> ConfirmedIdentity | None:
        """`identities.identity` of the key."""
        return None if self._identity is None else identities.from_row(self._identity)

    def queued(self) -> QueuedIdentification | None:
        """`queued` of the key."""
        return None if self._queued is None else _queued(self._queued)

    def pending_retry(self) -> PendingRetry | None:
        """`pending_retry` of the key."""
        return None if self._retry is None else _retry(self._retry)


def _part(columns: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any] | None:
    """One table's row of the joined row (None when the key has none: its key is NULL)."""
    return None if values[0] is None else dict(zip(columns, values, strict=True))


def input_state(db: Connection, key: str) -> InputState:
    """The key's identity, queue entry and pending retry, in one query."""
    return InputState(db.execute(_INPUT_STATE, [key]).fetchone())
