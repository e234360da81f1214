"""Converters that keep provider data sane: absurd values become ``None``, never stored as truth.

Every model field that holds provider data runs through one of these, so a hostile or broken
response (runtime -1, year 99999, a 10 MB title, a ``javascript:`` image URL) cannot reach the
cache, whichever plugin parsed it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from urllib.parse import urlsplit

MIN_YEAR = 1870  # the oldest surviving motion pictures
MAX_YEAR = 2100
MAX_RUNTIME = 1500  # minutes; the longest released films run about 14 hours
SHORT_TEXT = 1_000  # titles, taglines, ratings, names
LONG_TEXT = 20_000  # plots and awards
MAX_URL = 2_000
# Control characters, and lone surrogates (a JSON "\ud800" escape): not text, not storable.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def text(value: object, limit: int = SHORT_TEXT) -> str | None:
    """Stripped text without control characters or lone surrogates; ``None`` for empty,
    ``"N/A"`` or too long."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, str):
        value = str(value) if isinstance(value, int | float) else None
        if value is None:
            return None
    if len(value) > limit * 4:
        return None
    cleaned = _CONTROL.sub("", value).strip()
    if not cleaned or cleaned == "N/A" or len(cleaned) > limit:
        return None
    return cleaned


def long_text(value: object) -> str | None:
    """Like `text`, with room for a plot."""
    return text(value, LONG_TEXT)


def year(value: object) -> int | None:
    """A plausible release year, from an int or a string starting with one (``"1999-03-31"``)."""
    number = _leading_int(value, digits=4)
    return number if number is not None and MIN_YEAR <= number <= MAX_YEAR else None


def runtime(value: object) -> int | None:
    """A positive runtime in minutes (``136`` or ``"136 min"``)."""
    number = _leading_int(value)
    return number if number is not None and 0 < number <= MAX_RUNTIME else None


def release_date(value: object) -> date | None:
    """An ISO date (or the date part of an ISO timestamp) within the plausible years."""
    if isinstance(value, date):
        parsed = value
    else:
        raw = text(value, 40)
        if raw is None:
            return None
        try:
            parsed = date.fromisoformat(raw[:10])
        except ValueError:
            return None
    return parsed if MIN_YEAR <= parsed.year <= MAX_YEAR else None


def url(value: object) -> str | None:
    """An absolute http(s) URL with a host (``http`` upgraded to ``https``); otherwise None."""
    raw = text(value, MAX_URL)
    if raw is None or any(ch.isspace() for ch in raw):
        return None
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.scheme.lower() == "http" and parts.hostname not in ("127.0.0.1", "localhost"):
        raw = "https" + raw[len(parts.scheme) :]
    return raw


def number(value: object, low: float = 0.0, high: float = 1e12) -> float | None:
    """A finite number within bounds (``"7.1"``, ``"858,780"``, ``7``)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.replace(",", "").strip()
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if result != result or not low <= result <= high:  # NaN or out of bounds
        return None
    return result


def count(value: object) -> int | None:
    """A non-negative integer count (votes, likes, order)."""
    result = number(value, 0, 1e12)
    return None if result is None else int(result)


def texts(values: object, limit: int = SHORT_TEXT) -> tuple[str, ...]:
    """A tuple of distinct clean strings, order kept."""
    if values is None or isinstance(values, str | bytes):
        values = [] if values is None else [values]
    if not isinstance(values, Iterable):
        return ()
    seen: dict[str, None] = {}
    for item in values:
        cleaned = text(item, limit)
        if cleaned is not None and cleaned not in seen:
            seen[cleaned] = None
    return tuple(seen)


def language(value: object) -> str | None:
    """A lower-case language code, or ``None`` for textless (``"00"``, ``""``, ``null``)."""
    raw = text(value, 12)
    if raw is None or raw in ("00", "xx", "null"):
        return None
    return raw.lower() if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z]{2})?", raw) else None


def _leading_int(value: object, digits: int | None = None) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 1e9 else None
    raw = text(value, 40)
    if raw is None:
        return None
    match = re.match(r"^(-?\d+)" if digits is None else rf"^(\d{{{digits}}})(?!\d)", raw)
    return int(match.group(1)) if match else None
