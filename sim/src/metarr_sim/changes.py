"""When simulated TMDB records changed: the facts behind TMDB's change feed (``/movie/changes``).

Tests and benchmarks mark movies changed at given times (`ChangeLog.mark`, or
``SimServer(changes=…)`` / `SimServer.mark_changed`); the simulated TMDB lists them the way the
real feed does: ids changed within a window of at most `MAX_DAYS` days, newest change first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

__all__ = ["MAX_DAYS", "ChangeLog", "window"]

MAX_DAYS = 14
"""The longest window one feed request may cover (TMDB answers status_code 20 beyond it)."""


class ChangeLog:
    """Change times per TMDB id; thread-safe (the simulator serves from many threads)."""

    def __init__(
        self,
        changes: Mapping[int, Iterable[datetime]] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._times: dict[int, list[datetime]] = {}
        for tmdb_id, times in (changes or {}).items():
            for when in times:
                self.mark(tmdb_id, at=when)

    def now(self) -> datetime:
        """The simulator's current time (UTC)."""
        return _utc(self._clock())

    def mark(self, *tmdb_ids: int, at: datetime | None = None) -> None:
        """Record that these movies changed at ``at`` (default: now)."""
        when = _utc(at) if at is not None else self.now()
        with self._lock:
            for tmdb_id in tmdb_ids:
                self._times.setdefault(int(tmdb_id), []).append(when)

    def between(self, start: datetime, end: datetime) -> list[int]:
        """Ids changed at ``start`` ≤ t < ``end``, the most recently changed first."""
        start, end = _utc(start), _utc(end)
        latest: dict[int, datetime] = {}
        with self._lock:
            for tmdb_id, times in self._times.items():
                inside = [t for t in times if start <= t < end]
                if inside:
                    latest[tmdb_id] = max(inside)
        return sorted(latest, key=lambda tmdb_id: (-latest[tmdb_id].timestamp(), tmdb_id))

    def clear(self) -> None:
        """Forget every change."""
        with self._lock:
            self._times.clear()


def window(start: str | None, end: str | None, today: datetime) -> tuple[datetime, datetime]:
    """The feed's window as half-open UTC datetimes from its ``YYYY-MM-DD`` parameters.

    Both dates are whole days and included; without ``end_date`` the window ends now, without
    ``start_date`` it starts one day before its end (TMDB's default: the last 24 hours).
    Raises ValueError for a date that is not ``YYYY-MM-DD``.
    """
    end_at = _day(end) + timedelta(days=1) if end else today
    start_at = _day(start) if start else end_at - timedelta(days=1)
    return start_at, end_at


def _day(text: str) -> datetime:
    parsed = datetime.strptime(text.strip(), "%Y-%m-%d")
    return parsed.replace(tzinfo=UTC)


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
