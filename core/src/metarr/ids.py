"""Movie ids: parsing, validation and the `Ids` value object.

Every id that enters metarr goes through here, from user input and from provider payloads alike,
so an invalid id is rejected once, with a message that says what is wrong.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

import attrs

from metarr.errors import InvalidIdError

IdKind = Literal["tmdb", "imdb", "tvdb"]
ID_KINDS: tuple[IdKind, ...] = get_args(IdKind)

# Largest id accepted: SQLite integers are 64-bit, and no provider is anywhere near this.
MAX_NUMERIC_ID = 2**31 - 1
_IMDB_RE = re.compile(r"^tt([0-9]{7,10})$")  # ASCII digits only: one spelling per id
_IMDB_URL_RE = re.compile(
    r"^(?:https?://)?(?:(?:www|m)\.)?imdb\.com/title/(tt\d+)/?(?:[?#].*)?$", re.IGNORECASE
)
_DIGITS_RE = re.compile(r"^\d+$")
_CANONICAL_IMDB_RE = re.compile(r"tt(?!0+\Z)[0-9]{7,10}")  # `parse_imdb`'s own answer


def parse_imdb(value: object) -> str:
    """Normalize an IMDb id: ``tt`` + at least 7 digits.

    Accepts ``tt0133093``, ``TT0133093``, an imdb.com title URL, and bare digits of 7 or more
    (the form MovieLens and library exports use). Shorter bare numbers are refused: they are
    more likely a TMDB id than a truncated IMDb one.
    """
    if isinstance(value, str) and _CANONICAL_IMDB_RE.fullmatch(value):
        return value  # already normalized (what providers send): nothing to strip or lower
    text = _clean(value, "IMDb")
    url = _IMDB_URL_RE.match(text)
    if url:
        text = url.group(1)
    text = text.lower()
    if _DIGITS_RE.match(text):
        if len(text) < 7:
            raise InvalidIdError(
                f"IMDb id {text!r} is too short: bare digits need at least 7 (tt0133093)"
            )
        text = "tt" + text
    match = _IMDB_RE.match(text)
    if not match:
        raise InvalidIdError(f"IMDb id {_show(value)} is not 'tt' followed by 7 to 10 digits")
    if int(match.group(1)) == 0:
        raise InvalidIdError(f"IMDb id {_show(value)} is all zeros")
    return text


def parse_numeric(value: object, kind: str) -> int:
    """Normalize a TMDB or TVDB id: a positive integer (``"603"``, ``603`` or ``"tmdb:603"``)."""
    if type(value) is int and 0 < value <= MAX_NUMERIC_ID:
        return value  # already normalized (not a bool: its type is not int)
    if type(value) is str and len(value) <= 12 and value.isascii() and value.isdigit():
        number = int(value)  # ASCII digits (what providers send): nothing to strip or check
        if 0 < number <= MAX_NUMERIC_ID:
            return number
    label = "TMDB" if kind == "tmdb" else "TVDB" if kind == "tvdb" else kind
    if isinstance(value, bool):
        raise InvalidIdError(f"{label} id must be a positive integer, not {value!r}")
    if isinstance(value, int):
        number = value
    else:
        text = _clean(value, label)
        text = re.sub(rf"^{kind}[:\s-]*", "", text, flags=re.IGNORECASE)
        if not _DIGITS_RE.match(text):
            raise InvalidIdError(f"{label} id {_show(value)} is not a positive integer")
        if len(text) > 12:
            raise InvalidIdError(f"{label} id {_show(value)} is too large")
        number = int(text)
    if number <= 0:
        raise InvalidIdError(f"{label} id {_show(value)} must be a positive integer")
    if number > MAX_NUMERIC_ID:
        raise InvalidIdError(f"{label} id {_show(value)} is too large")
    return number


def parse_id(kind: str, value: object) -> int | str:
    """Parse an id of the given kind (``tmdb``, ``imdb`` or ``tvdb``)."""
    if kind == "imdb":
        return parse_imdb(value)
    if kind in ("tmdb", "tvdb"):
        return parse_numeric(value, kind)
    raise InvalidIdError(f"unknown id type {kind!r}: use one of {', '.join(ID_KINDS)}")


def _clean(value: object, label: str) -> str:
    if value is None:
        raise InvalidIdError(f"{label} id is missing")
    if not isinstance(value, str | int):
        raise InvalidIdError(f"{label} id must be text or a number, not {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise InvalidIdError(f"{label} id is empty")
    return text


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


def _tmdb(value: object) -> int | None:
    return None if value is None else parse_numeric(value, "tmdb")


def _imdb(value: object) -> str | None:
    return None if value is None else parse_imdb(value)


def _tvdb(value: object) -> int | None:
    return None if value is None else parse_numeric(value, "tvdb")


@attrs.frozen(kw_only=True)
class Ids:
    """The ids known for one movie; each is normalized and validated on construction."""

    tmdb: int | None = attrs.field(default=None, converter=_tmdb)
    imdb: str | None = attrs.field(default=None, converter=_imdb)
    tvdb: int | None = attrs.field(default=None, converter=_tvdb)

    @classmethod
    def lenient(cls, **values: object) -> Ids:
        """Build from untrusted provider data: values that do not parse are dropped."""
        kept: dict[str, object] = {}
        for kind, value in values.items():
            if kind not in ID_KINDS or value in (None, ""):
                continue
            try:
                kept[kind] = parse_id(kind, value)
            except InvalidIdError:
                continue
        return cls._parsed(**kept) if cls is Ids else cls(**kept)

    @classmethod
    def _parsed(cls, tmdb: object = None, imdb: object = None, tvdb: object = None) -> Ids:
        """Ids of values `parse_id` made (or None): the converters would give each back as it
        is, so they are not run again."""
        ids = object.__new__(cls)
        _set_tmdb(ids, tmdb)
        _set_imdb(ids, imdb)
        _set_tvdb(ids, tvdb)
        return ids

    def get(self, kind: str) -> int | str | None:
        """The id of the given kind, or None."""
        return getattr(self, kind) if kind in ID_KINDS else None

    def kinds(self) -> frozenset[IdKind]:
        """The id kinds present."""
        return frozenset(kind for kind in ID_KINDS if getattr(self, kind) is not None)

    def items(self) -> list[tuple[IdKind, int | str]]:
        """The present ids as (kind, value) pairs, in canonical order."""
        found: list[tuple[IdKind, int | str]] = []
        if self.tmdb is not None:
            found.append(("tmdb", self.tmdb))
        if self.imdb is not None:
            found.append(("imdb", self.imdb))
        if self.tvdb is not None:
            found.append(("tvdb", self.tvdb))
        return found

    def only(self, kinds: frozenset[str] | set[str]) -> Ids:
        """A copy keeping only the given kinds."""
        return Ids._parsed(
            self.tmdb if "tmdb" in kinds else None,
            self.imdb if "imdb" in kinds else None,
            self.tvdb if "tvdb" in kinds else None,
        )

    def union(self, other: Ids) -> Ids:
        """Ids from both; where both have a kind, ours wins."""
        return Ids._parsed(**{**dict(other.items()), **dict(self.items())})

    def __bool__(self) -> bool:
        return self.tmdb is not None or self.imdb is not None or self.tvdb is not None

    def __str__(self) -> str:
        return " ".join(f"{kind}:{value}" for kind, value in self.items()) or "(no ids)"


# The slots' own setters: what `object.__setattr__` ends at, without looking the name up (an
# `Ids` is immutable once built; only `Ids._parsed` fills one).
_set_tmdb, _set_imdb, _set_tvdb = (Ids.__dict__[kind].__set__ for kind in ID_KINDS)
