"""Provider state that outlives the process: pauses (OMDb's daily quota, a long Retry-After)
and the requests refreshes spent per UTC day."""

from __future__ import annotations

from datetime import datetime

from metarr.cache.database import Connection, fetch
from metarr.cache.records import ProviderPause
from metarr.cache.times import from_text, to_text
from metarr.redaction import redact


def pause_provider(
    db: Connection, provider: str, until: datetime, reason: str, now: datetime
) -> None:
    """Pause ``provider`` until ``until``; a pause already in force and longer is kept."""
    db.execute(
        """INSERT INTO provider_state (provider, paused_until, reason, updated_at)
           VALUES (?, ?, ?, ?)
           ON CONFLICT(provider) DO UPDATE SET
               reason = CASE WHEN paused_until IS NULL OR excluded.paused_until >= paused_until
                             THEN excluded.reason ELSE reason END,
               paused_until = max(coalesce(paused_until, ''), excluded.paused_until),
               updated_at = excluded.updated_at""",
        [provider, to_text(until), redact(reason), to_text(now)],
    )


def resume_provider(db: Connection, provider: str, now: datetime) -> None:
    """Lift any pause on ``provider``."""
    db.execute(
        "UPDATE provider_state SET paused_until = NULL, reason = NULL, updated_at = ? "
        "WHERE provider = ?",
        [to_text(now), provider],
    )


def paused_providers(db: Connection, now: datetime) -> dict[str, ProviderPause]:
    """Pauses still in force at ``now``, by provider."""
    rows = fetch(
        db,
        "SELECT provider, paused_until, reason FROM provider_state "
        "WHERE paused_until > ? ORDER BY provider",
        [to_text(now)],
    )
    return {
        row["provider"]: ProviderPause(
            provider=row["provider"],
            until=from_text(row["paused_until"]),
            reason=row["reason"] or "",
        )
        for row in rows
    }


def expire_pauses(db: Connection, now: datetime) -> int:
    """Forget pauses that have ended; return how many."""
    cursor = db.execute(
        "DELETE FROM provider_state WHERE paused_until IS NULL OR paused_until <= ?",
        [to_text(now)],
    )
    return cursor.rowcount


def reserve_requests(db: Connection, provider: str, day: str, count: int, limit: int) -> bool:
    """Count ``count`` more of ``provider``'s requests on ``day`` if that keeps them within
    ``limit``; False (nothing counted) otherwise. Call it in a write transaction: the check
    and the count are then one step for every process sharing the cache."""
    row = db.execute(
        "SELECT requests FROM provider_usage WHERE provider = ? AND day = ?", [provider, day]
    ).fetchone()
    used = int(row[0]) if row else 0
    if used + count > limit:
        return False
    add_requests(db, provider, day, count)
    return True


def add_requests(db: Connection, provider: str, day: str, count: int) -> None:
    """Count ``count`` more (or, negative, fewer) of ``provider``'s requests on ``day``."""
    db.execute(
        "INSERT INTO provider_usage (provider, day, requests) VALUES (?, ?, max(0, ?)) "
        "ON CONFLICT(provider, day) DO UPDATE SET requests = max(0, requests + excluded.requests)"
        if count >= 0
        else "UPDATE provider_usage SET requests = max(0, requests + ?) WHERE provider = ? "
        "AND day = ?",
        [provider, day, count] if count >= 0 else [count, provider, day],
    )


def requests_on(db: Connection, provider: str, day: str) -> int:
    """``provider``'s requests counted on ``day``."""
    row = db.execute(
        "SELECT requests FROM provider_usage WHERE provider = ? AND day = ?", [provider, day]
    ).fetchone()
    return int(row[0]) if row else 0
