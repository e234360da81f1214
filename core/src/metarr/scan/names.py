"""What folder and file names say: id tags, title and year, and what a name is not (extras,
samples, episodes, system folders).

Names are read as the walk gives them: `str` with undecodable bytes kept as surrogates
(``surrogateescape``). `text` turns such a name into readable text for parsing; `printable`
into the escaped form used for keys.
"""

from __future__ import annotations

import datetime
import os
import re
from typing import Any, Literal

import attrs

from metarr import sanitize
from metarr.errors import InvalidIdError
from metarr.ids import IdKind, parse_id

_EXTENSIONS = (
    "3gp asf avi divx flv img iso m2ts m4v mkv mov mp4 mpeg mpg mts ogm ogv rm rmvb strm ts "
    "webm wmv xvid"
)
# Not .vob: DVD title sets are read as a VIDEO_TS structure, never as separate movies.
VIDEO_EXTENSIONS = frozenset(f".{ext}" for ext in _EXTENSIONS.split())
# Extras folders as Plex, Jellyfin, Emby and Kodi name them (compared case-folded).
EXTRAS_FOLDERS = frozenset(
    {
        "extras",
        "extra",
        "featurettes",
        "behind the scenes",
        "deleted scenes",
        "interviews",
        "scenes",
        "shorts",
        "trailers",
        "other",
        "others",
        "samples",
        "sample",
        "clips",
        "backdrops",
        "theme-music",
        "specials",
    }
)
# Folders that belong to the movie beside them and never hold another movie.
COMPANION_FOLDERS = frozenset(
    {"subs", "subtitles", "extrafanart", "extrathumbs", "metadata", "artwork", "covers"}
)
SYSTEM_FOLDERS = frozenset(
    {
        "@eadir",
        "#recycle",
        "#snapshot",
        "@recycle",
        "@recently-snapshot",
        "lost+found",
        "$recycle.bin",
        "system volume information",
        "recycler",
    }
)
# Plex "-trailer" style suffixes, Jellyfin's ".trailer"/"_trailer"/" trailer" variants.
# Other extras only with "-" (Plex, Jellyfin): "The Interview.mkv" is a film.
_EXTRA_FILE = re.compile(
    r"([-._ ](trailer|sample)|-(behindthescenes|deleted|deletedscene|featurette|interview|"
    r"scene|short|clip|extra|other))$",
    re.IGNORECASE,
)
_SAMPLE_FILE = re.compile(r"^sample([-._]|$)", re.IGNORECASE)  # "sample-group-title.mkv"
_EPISODE = re.compile(
    r"(?<![A-Za-z0-9])(s\d{1,2}[ ._-]?e\d{1,3}|\d{1,2}x\d{2,3})(?![0-9])", re.IGNORECASE
)
_SEASON_FOLDER = re.compile(
    r"^(season|series|saison|staffel|temporada|stagione)[ ._-]*\d{1,3}$", re.IGNORECASE
)
# A part of a multi-part set: "Movie cd1", "Movie.part2", "Movie - Disc 1", "Movie-pt3", "CD1".
PART = re.compile(
    r"(?P<sep>^|[ ._-]+)(?P<label>cd|dvd|part|pt|disc|disk)[ ._-]*(?P<number>[1-9]|[a-d](?![a-z]))"
    r"(?=$|[ ._-])",
    re.IGNORECASE,
)

# Id tags: Plex {tmdb-603} {imdb-tt0133093} {tvdb-81189}; Jellyfin [tmdbid-603] [imdbid-…];
# Emby [tmdbid=603]; either bracket, with or without "id", "-" or "=".
_ID_TAG = re.compile(
    r"[\[{]\s*(?P<kind>tmdb|imdb|tvdb)(?:id)?\s*[-=:]\s*(?P<value>[A-Za-z0-9]+)\s*[\]}]",
    re.IGNORECASE,
)
_BARE_IMDB = re.compile(r"(?<![A-Za-z0-9])tt\d{7,10}(?![0-9])", re.IGNORECASE)
_CURLY = re.compile(r"\{[^{}]*\}")  # Plex's other tags, e.g. {edition-Director's Cut}
_YEAR_GROUP = re.compile(r"[(\[]\s*(?P<year>(?:18|19|20)\d\d)(?:\s*[-–]\s*\d{4})?\s*[)\]]")
_TRAILING_YEAR = re.compile(r"^(?P<title>.+?)[ ]+(?P<year>(?:18|19|20)\d\d)$")
_RELEASE_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])(480p|576p|720p|1080[pi]|2160p|4k|uhd|hdr|x26[45]|h\.?26[45]|hevc|avc|"
    r"xvid|divx|blu-?ray|bdrip|brrip|dvdrip|dvdscr|web-?dl|web-?rip|hdtv|hdrip|remux|proper|"
    r"repack|dts|ac3|aac|ddp?5\.1)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
HIDDEN = "hidden or system folder"
COMPANION = "a movie's companion folder"
QUIET = frozenset({HIDDEN, COMPANION, "hidden file"})
_DOTTED = re.compile(r"\w[._]\w+[._]\w")
_EDGES = " -_.,;"

Via = Literal["library", "release", "plain"]


@attrs.frozen(kw_only=True)
class TitleYear:
    """A title (and year) read from one name, and which reading found it."""

    title: str
    year: int | None
    via: Via


def text(name: str) -> str:
    """Readable text for a walked name: undecodable bytes read as Windows-1252 (the usual
    legacy encoding of such names), so ``b"Am\\xe9lie"`` reads ``"Amélie"``."""
    return re.sub(
        r"[\udc80-\udcff]", lambda m: bytes([ord(m[0]) - 0xDC00]).decode("cp1252", "replace"), name
    )


def printable(name: str) -> str:
    """A walked name (or relative path) as storable, printable, one-line text: undecodable
    bytes and control, line-break and bidi-override characters become ``\\xNN``/``\\uNNNN``
    escapes; everything else is kept."""
    decoded = os.fsencode(name).decode("utf-8", "backslashreplace")
    return _UNPRINTABLE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), decoded)


def _hidden(name: str) -> bool:
    """A dot file (".hidden", "._x.mkv"), but not a title with an ellipsis ("...And Justice
    for All (1979)")."""
    return name.startswith(".") and not name.startswith("..")


def is_video(name: str) -> bool:
    """Whether a file name has a video extension."""
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def ignored_folder(name: str) -> str | None:
    """Why a folder is not (or holds no) movie: hidden, system, a movie's companion (subtitles,
    artwork), extras or a TV season; else None. `QUIET` reasons are not worth reporting."""
    folded = name.casefold()
    if _hidden(name) or folded in SYSTEM_FOLDERS or folded.startswith(".trash-"):
        return HIDDEN
    if folded in COMPANION_FOLDERS:
        return COMPANION
    if folded in EXTRAS_FOLDERS:
        return "extras folder"
    if _SEASON_FOLDER.match(name):
        return "TV season folder"
    return None


def ignored_video(name: str) -> str | None:
    """Why a video file is not a movie's main file (sample, trailer or other extra, TV
    episode, hidden file); else None."""
    if _hidden(name):
        return "hidden file"
    stem = os.path.splitext(name)[0]
    extra = _EXTRA_FILE.search(stem)
    if extra:
        kind = (extra.group(2) or "").lower()
        return "sample" if kind == "sample" else "trailer" if kind == "trailer" else "extra"
    if _SAMPLE_FILE.search(stem):
        return "sample"
    if _EPISODE.search(stem):
        return "TV episode"
    return None


def part_of(stem: str) -> tuple[str, str] | None:
    """``(set name, part)`` when a file stem names one part of a multi-part set."""
    found = _last(PART, stem)
    if found is None:
        return None
    base = (stem[: found.start()] + stem[found.end() :]).strip(_EDGES)
    return base.casefold(), found.group("number").lower()


def without_part(stem: str) -> str:
    """The stem with its (last) part token removed."""
    found = _last(PART, stem)
    if found is None:
        return stem
    return (stem[: found.start()] + stem[found.end() :]).strip(_EDGES)


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - the last match is wanted
        pass
    return found


def id_tags(name: str) -> list[tuple[IdKind, int | str]]:
    """The ids a name carries as tags (Plex, Jellyfin, Emby) or as a bare ``tt`` IMDb id."""
    found: list[tuple[IdKind, int | str]] = []
    for match in _ID_TAG.finditer(name):
        kind: IdKind = match.group("kind").lower()  # type: ignore[assignment]
        _add(found, kind, match.group("value"))
    untagged = _ID_TAG.sub(" ", name)
    for match in _BARE_IMDB.finditer(untagged):
        _add(found, "imdb", match.group(0))
    return found


def _add(found: list[tuple[IdKind, int | str]], kind: IdKind, value: str) -> None:
    try:
        parsed = parse_id(kind, value)
    except InvalidIdError:
        return
    if (kind, parsed) not in found:
        found.append((kind, parsed))


def title_year(name: str) -> TitleYear | None:
    """The title and year a folder name or file stem gives, or None when it gives none.

    Library forms first ("Title (Year)", anything after the year ignored); then, when the name
    looks like a release ("The.Matrix.1999.1080p.BluRay.x264-GROUP"), guessit; else the name
    itself, with a trailing year if there is a plausible one ("Heat 1995").
    """
    clean = _CURLY.sub(" ", _BARE_IMDB.sub(" ", _ID_TAG.sub(" ", text(name))))
    clean = " ".join(clean.split())
    library = _last(_YEAR_GROUP, clean)
    if library is not None:
        title = clean_title(clean[: library.start()])
        if title is not None:
            return TitleYear(title=title, year=int(library.group("year")), via="library")
    if _RELEASE_TOKEN.search(clean) or _DOTTED.search(clean):
        return _guessed(clean)
    trailing = _TRAILING_YEAR.match(clean)
    if trailing and int(trailing.group("year")) <= _latest_year():
        title = clean_title(trailing.group("title"))
        if title is not None:
            return TitleYear(title=title, year=int(trailing.group("year")), via="plain")
    title = clean_title(clean)
    return TitleYear(title=title, year=None, via="plain") if title is not None else None


def clean_title(raw: str) -> str | None:
    """A title fit to search for and to show on one line: no control, line-break, zero-width
    or bidi-override characters, at most 500 characters, some letter or digit; else None."""
    # A trailing "." stays: it belongs to the title ("I.Q.").
    title = sanitize.text(_UNPRINTABLE.sub("", " ".join(raw.split())).strip(" -_,;"), 500)
    if title is None or not any(ch.isalnum() for ch in title):
        return None
    return title


def _latest_year() -> int:
    return datetime.date.today().year + 1


_guess: Any = None


def _guessed(name: str) -> TitleYear | None:
    """Parse a release name with guessit (imported on first use: it takes ~0.25 s)."""
    global _guess
    if _guess is None:
        from guessit import guessit

        _guess = guessit
    try:
        found = _guess(name, {"type": "movie"})
    except Exception:  # guessit is a heuristic library: a crash means "no reading"
        return None
    title = found.get("title")
    year = found.get("year")
    if not isinstance(title, str):
        return None
    cleaned = clean_title(title)
    if cleaned is None:
        return None
    plausible = isinstance(year, int) and sanitize.MIN_YEAR <= year <= _latest_year()
    return TitleYear(title=cleaned, year=year if plausible else None, via="release")
