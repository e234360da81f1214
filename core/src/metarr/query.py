"""What a caller asks metarr to identify: ids, a title and year, or both, plus a stable key."""

from __future__ import annotations

import json
from typing import Any

import attrs

from metarr import sanitize
from metarr.errors import InvalidIdError
from metarr.ids import Ids
from metarr.matching import normalize_title

MAX_TITLE = 500


def _title(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidIdError("title must be text")
    cleaned = sanitize.text(value, MAX_TITLE)
    if value.strip() and cleaned is None:
        raise InvalidIdError(f"title is too long (at most {MAX_TITLE} characters)")
    if cleaned is not None and not normalize_title(cleaned):
        raise InvalidIdError(f"title {cleaned!r} has no letters or digits to search for")
    return cleaned


def _year(value: object) -> int | None:
    if value in (None, ""):
        return None
    year = sanitize.year(value)
    if year is None or str(value).strip() != str(year):
        raise InvalidIdError(
            f"year {value!r} is not a year between {sanitize.MIN_YEAR} and {sanitize.MAX_YEAR}"
        )
    return year


def _key(value: object) -> str | None:
    return sanitize.text(value, MAX_TITLE)


def derived_key(ids: Ids, title: str | None = None, year: int | None = None) -> str:
    """The key of an input without a caller's key: every part of the input, as given.

    ``tmdb:603``, ``tmdb:949 imdb:tt0133093``, ``title:"The Heat" year:2013``,
    ``imdb:tt0133093 title:"The Matrix"``: ids in canonical order, then the title exactly as
    given (JSON-quoted, case and articles kept), then the year. Two inputs share a derived key
    only when they are the same input, so a recorded identity or queued outcome never answers
    another one ("The Heat" is not "Heat"; ``tmdb:949`` alone is not ``tmdb:949`` with an IMDb
    id that may name another movie).
    """
    parts = [f"{kind}:{value}" for kind, value in ids.items()]
    if title is not None:
        parts.append(f"title:{json.dumps(title, ensure_ascii=False)}")
    if year is not None:
        parts.append(f"year:{year}")
    return " ".join(parts)


@attrs.frozen(kw_only=True)
class Query:
    """One input to identify. ``key`` is the caller's handle for it (a file path, a row id);
    without one, the key is derived from the whole input as given (`derived_key`).

    Two queries are the same input when `same_input` says so (the key aside); equality (``==``)
    also compares the keys.
    """

    ids: Ids = attrs.field(factory=Ids)
    title: str | None = attrs.field(default=None, converter=_title)
    year: int | None = attrs.field(default=None, converter=_year)
    key: str | None = attrs.field(default=None, converter=_key)

    def __attrs_post_init__(self) -> None:
        if not self.ids and self.title is None:
            raise InvalidIdError("nothing to identify: give a tmdb, imdb or tvdb id, or a title")

    @property
    def input_key(self) -> str:
        """The key under which queues and confirmed identities remember this input: the
        caller's ``key``, else `derived_key` of the input as given."""
        return self.key or derived_key(self.ids, self.title, self.year)

    def same_input(self, other: Query) -> bool:
        """Whether both ask the same thing (ids, title and year; the keys are not compared)."""
        return (self.ids, self.title, self.year) == (other.ids, other.title, other.year)

    def to_input(self) -> dict[str, Any]:
        """The input as plain data, for the queues."""
        data: dict[str, Any] = {f"{kind}_id": value for kind, value in self.ids.items()}
        if self.title is not None:
            data["title"] = self.title
        if self.year is not None:
            data["year"] = self.year
        if self.key:
            data["key"] = self.key
        return data

    @classmethod
    def from_input(cls, data: dict[str, Any]) -> Query:
        """Rebuild from `to_input` data (or a batch row with the same column names)."""
        ids = Ids(**{kind: data.get(f"{kind}_id") or None for kind in ("tmdb", "imdb", "tvdb")})
        return cls(
            ids=ids,
            title=data.get("title") or None,
            year=data.get("year") or None,
            key=data.get("key") or None,
        )
