"""UTC timestamps as the cache stores them: fixed-width ISO 8601 text that sorts in time order."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_text(value: datetime) -> str:
    """``2024-05-01T12:00:00.000000+00:00``: fixed width, so text order is time order in SQL."""
    return utc(value).isoformat(timespec="microseconds")


def from_text(value: str) -> datetime:
    """Parse `to_text` output (or any ISO 8601 timestamp) into an aware UTC datetime."""
    return utc(datetime.fromisoformat(value))


def system_clock() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)
