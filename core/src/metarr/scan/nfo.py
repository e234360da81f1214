"""Reading NFO files: the ids (and title, year) a Kodi/Jellyfin/Emby/tinyMediaManager NFO holds.

NFOs are untrusted input. They are read up to `MAX_BYTES`, parsed with defusedxml (no entity
expansion, no external resources), and when the XML is broken — or the file is only a URL, or
XML followed by a URL (Kodi's "combined" NFO) — the text is searched for ids instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import attrs
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from metarr import sanitize
from metarr.errors import InvalidIdError
from metarr.ids import IdKind, parse_id
from metarr.scan import names

MAX_BYTES = 1_048_576  # Kodi NFOs with full cast and stream details run to ~100 KB
MOVIE_ROOTS = frozenset({"movie"})
_KIND_NAMES: dict[str, IdKind] = {
    "tmdb": "tmdb",
    "themoviedb": "tmdb",
    "imdb": "imdb",
    "tvdb": "tvdb",
    "thetvdb": "tvdb",
}
# Elements older and other tools write: <imdbid>, <tmdbid>, <tvdbid>, <imdb>, <tmdb>.
_ID_ELEMENTS: dict[str, IdKind] = {
    "imdbid": "imdb",
    "imdb": "imdb",
    "tmdbid": "tmdb",
    "tmdb": "tmdb",
    "tvdbid": "tvdb",
    "tvdb": "tvdb",
}
_URL = "url"
_TEXT = "text"
# (kind, where, pattern): URLs anywhere, and the XML forms when the XML itself is broken.
_TEXT_PATTERNS: tuple[tuple[IdKind, str, re.Pattern[str]], ...] = (
    ("imdb", _URL, re.compile(r"imdb\.com/(?:[a-z]{2}/)?title/(tt\d{7,10})", re.I)),
    ("tmdb", _URL, re.compile(r"themoviedb\.org/movie/(\d{1,10})", re.I)),
    ("tvdb", _URL, re.compile(r"thetvdb\.com/(?:dereferrer/)?movies?/(\d{1,10})(?![\w-])", re.I)),
    ("tvdb", _URL, re.compile(r"thetvdb\.com/\?(?:[^\s\"'<>]*&)?id=(\d{1,10})", re.I)),
    (
        "tmdb",
        _TEXT,
        re.compile(r"<uniqueid[^>]*type=[\"'](?:tmdb|themoviedb)[\"'][^>]*>\s*(\d+)\s*<", re.I),
    ),
    (
        "tvdb",
        _TEXT,
        re.compile(r"<uniqueid[^>]*type=[\"'](?:tvdb|thetvdb)[\"'][^>]*>\s*(\d+)\s*<", re.I),
    ),
    ("tmdb", _TEXT, re.compile(r"<tmdb(?:id)?>\s*(\d+)\s*<", re.I)),
    ("tvdb", _TEXT, re.compile(r"<tvdb(?:id)?>\s*(\d+)\s*<", re.I)),
    ("imdb", _TEXT, re.compile(r"(?<![A-Za-z0-9])(tt\d{7,10})(?![0-9])", re.I)),
)


@attrs.frozen(kw_only=True)
class NfoFinding:
    """One thing an NFO said: an id, a title or a year, and where in the file."""

    kind: str  # "tmdb", "imdb", "tvdb", "title", "original_title" or "year"
    value: int | str
    where: str  # e.g. 'uniqueid type="tmdb"', "<imdbid>", "url", "text"


@attrs.frozen(kw_only=True)
class NfoReading:
    """What one NFO gave, and anything a person should know about how it was read."""

    findings: tuple[NfoFinding, ...] = ()
    notes: tuple[str, ...] = ()


def read(path: Path) -> NfoReading:
    """Read and parse the NFO at ``path`` (an unreadable file gives a note, not an error)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return NfoReading(notes=(f"cannot read: {exc.strerror or exc}",))
    return parse(data)


def parse(data: bytes) -> NfoReading:
    """Parse NFO bytes: XML where it is XML, ids in the text everywhere else."""
    notes: list[str] = []
    if len(data) > MAX_BYTES:
        notes.append(f"larger than {MAX_BYTES} bytes: only its start was searched for ids")
        return NfoReading(findings=tuple(_from_text(data[:MAX_BYTES])), notes=tuple(notes))
    xml, rest = _split_combined(data)
    findings: list[NfoFinding] = []
    if xml is not None:
        try:
            root = fromstring(xml)
        except (ParseError, DefusedXmlException, ValueError) as exc:
            notes.append(f"not well-formed XML ({_short(exc)}): searched its text for ids")
            return NfoReading(findings=tuple(_from_text(data)), notes=tuple(notes))
        if root.tag.lower() not in MOVIE_ROOTS:
            notes.append(f"describes a <{root.tag[:40]}>, not a movie: ignored")
            return NfoReading(notes=tuple(notes))
        findings.extend(_from_xml(root))
    if rest.strip():
        findings.extend(_from_text(rest))
    return NfoReading(findings=tuple(_distinct(findings)), notes=tuple(notes))


def _split_combined(data: bytes) -> tuple[bytes | None, bytes]:
    """(XML part, text after it). No XML part when the file holds no ``<`` at all."""
    start = data.find(b"<")
    if start < 0:
        return None, data
    end = data.rfind(b"</movie>")
    if end < 0:
        return data, b""
    end += len(b"</movie>")
    return data[:end], data[end:]


def _from_xml(root: Element) -> list[NfoFinding]:
    found: list[NfoFinding] = []
    for child in root:
        tag = child.tag.lower() if isinstance(child.tag, str) else ""
        value = (child.text or "").strip()
        if tag == "uniqueid":
            kind = _KIND_NAMES.get((child.get("type") or "").strip().lower())
            if kind is not None:
                _add_id(found, kind, value, f'uniqueid type="{child.get("type")}"')
        elif tag == "id":
            # Kodi's older default id: an IMDb id ("tt…") or the scraper's TMDB id (digits).
            _add_id(found, "imdb" if value.lower().startswith("tt") else "tmdb", value, "<id>")
        elif tag in _ID_ELEMENTS:
            _add_id(found, _ID_ELEMENTS[tag], value, f"<{tag}>")
        elif tag in ("title", "originaltitle"):
            title = names.clean_title(value)
            if title is not None:
                kind_name = "title" if tag == "title" else "original_title"
                found.append(NfoFinding(kind=kind_name, value=title, where=f"<{tag}>"))
        elif tag in ("year", "premiered"):
            year = sanitize.year(value)
            if year is not None and not any(f.kind == "year" for f in found):
                found.append(NfoFinding(kind="year", value=year, where=f"<{tag}>"))
        elif "://" in value:  # a link element (Kodi writes some): ids in its URL
            found.extend(f for f in _from_text(value.encode()) if f.where == _URL)
    return found


def _from_text(data: bytes) -> list[NfoFinding]:
    text = data.decode("utf-8", "replace")
    found: list[NfoFinding] = []
    for kind, where, pattern in _TEXT_PATTERNS:
        for match in pattern.finditer(text):
            _add_id(found, kind, match.group(1), where)
    return _distinct(found)


def _add_id(found: list[NfoFinding], kind: IdKind, value: str, where: str) -> None:
    if not value:
        return
    try:
        parsed = parse_id(kind, value)
    except InvalidIdError:
        return
    found.append(NfoFinding(kind=kind, value=parsed, where=where))


def _distinct(findings: list[NfoFinding]) -> list[NfoFinding]:
    """One finding per (kind, value), the first place it was seen."""
    seen: dict[tuple[str, int | str], NfoFinding] = {}
    for item in findings:
        seen.setdefault((item.kind, item.value), item)
    return list(seen.values())


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:80] or type(exc).__name__
