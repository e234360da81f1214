"""Turning OMDb response bodies into metarr models.

OMDb sends every scalar as a string and spells "absent" as the literal ``"N/A"``; these
functions treat ``"N/A"``, empty strings and values of the wrong type alike as missing, and
never raise on a field: only the caller decides whether a body has the right overall shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from metarr import CastMember, CrewMember, Ids, Image, ProviderResult, Rating, SearchHit

MISSING = "N/A"
MAX_OUTLINE = 300  # characters: a derived outline longer than this is no outline
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_RELEASED_RE = re.compile(r"^(\d{1,2}) ([A-Za-z]{3}) (\d{4})$")
_RUNTIME_RE = re.compile(r"^(?:(\d+)\s*h(?:ours?|r)?\s*)?(?:(\d+)\s*min)?$", re.IGNORECASE)
_YEAR_RE = re.compile(r"^(\d{4})(?!\d)")
_PARENTHETICAL_RE = re.compile(r"\s*\([^)]*\)")
_WORD_BREAK_RE = re.compile(r"[\s(\"'“‘]")
_DOTTED_RE = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # "U.S", "e.g"
_POSTER_WIDTH_RE = re.compile(r"_SX(\d{2,4})[._]")
# A sentence ends at . ! or ? (and any closing quotes or brackets) followed by white space and
# something that can start a sentence.
_SENTENCE_END_RE = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
# Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "rev", "gen", "col", "capt", "lt",
     "sgt", "mt", "ft", "vs", "no", "co", "inc", "ltd", "etc", "approx", "vol", "dept", "sen",
     "rep", "gov", "pres", "fr", "bros", "mme", "mlle", "messrs"}
)  # fmt: skip


def value(body: Mapping[str, Any], key: str) -> str | None:
    """The field as stripped text; None when absent, ``"N/A"``, empty or not a string."""
    raw = body.get(key)
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    return None if not text or text == MISSING else text


def comma_list(text: str | None) -> list[str]:
    """``"Action, Adventure"`` → ``["Action", "Adventure"]`` (empty and N/A items dropped)."""
    if not text:
        return []
    items = (item.strip() for item in text.split(","))
    return [item for item in items if item and item != MISSING]


def parse_year(text: str | None) -> int | None:
    """The leading four digits: ``"2013"`` → 2013; series ranges ``"2007–2019"`` → 2007."""
    match = _YEAR_RE.match(text or "")
    return int(match.group(1)) if match else None


def parse_released(text: str | None) -> date | None:
    """``"14 Jun 2013"`` → ``date(2013, 6, 14)``; None when unparseable (locale-independent)."""
    match = _RELEASED_RE.match(text or "")
    if not match:
        return None
    month = _MONTHS.get(match.group(2).lower())
    if month is None:
        return None
    try:
        return date(int(match.group(3)), month, int(match.group(1)))
    except ValueError:
        return None


def parse_runtime(text: str | None) -> int | None:
    """``"136 min"`` → 136 (also ``"2 h 16 min"``); None for anything else."""
    match = _RUNTIME_RE.match(text or "")
    if not match or not any(match.groups()):
        return None
    hours, minutes = (int(group) if group else 0 for group in match.groups())
    return hours * 60 + minutes or None


def first_sentence(plot: str | None) -> str | None:
    """The plot's first sentence when the plot has more than one and it is short enough.

    That is what OMDb's ``plot=short`` mostly is, without spending a second request of the
    daily quota. Periods after common abbreviations ("Dr.") and initials ("J. R. R.", "U.S.")
    do not end a sentence.
    """
    if not plot:
        return None
    for match in _SENTENCE_END_RE.finditer(plot):
        head = plot[: match.start() + 1]
        if head.endswith(".") and _is_abbreviation(head):
            continue
        sentence = plot[: match.end()].strip()
        return sentence if len(sentence) <= MAX_OUTLINE else None
    return None


def _is_abbreviation(head: str) -> bool:
    word = _WORD_BREAK_RE.split(head[:-1])[-1]
    if not word:
        return False
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True  # an initial: "J. R. R. Tolkien"
    if _DOTTED_RE.fullmatch(word):
        return True  # "U.S", "e.g"
    return word.lower() in _ABBREVIATIONS


def people(text: str | None) -> list[str]:
    """Names from a comma list, parenthetical notes removed, duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for item in comma_list(text):
        name = _PARENTHETICAL_RE.sub("", item).strip()
        if name and name != MISSING:
            seen.setdefault(name, None)
    return list(seen)


def _fraction(text: str | None) -> tuple[str, float] | None:
    """``"7.1/10"`` → ("7.1", 10.0); ``"57%"`` → ("57", 100.0)."""
    if not text:
        return None
    if text.endswith("%"):
        return text[:-1].strip(), 100.0
    numerator, slash, denominator = text.partition("/")
    if not slash:
        return None
    try:
        maximum = float(denominator.strip())
    except ValueError:
        return None
    return (numerator.strip(), maximum) if maximum > 0 else None


_RATING_SOURCES = {
    "Internet Movie Database": ("imdb", 10.0),
    "Rotten Tomatoes": ("rotten_tomatoes", 100.0),
    "Metacritic": ("metacritic", 100.0),
}


def parse_ratings(body: Mapping[str, Any], provider: str) -> list[Rating]:
    """IMDb, Rotten Tomatoes and Metacritic ratings from ``Ratings[]``.

    Falls back to ``imdbRating`` and ``Metascore`` when ``Ratings`` lacks them; IMDb's rating
    carries ``imdbVotes`` (thousands separators removed).
    """
    votes = value(body, "imdbVotes")
    found: dict[str, Rating] = {}
    entries = body.get("Ratings")
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, Mapping):
            continue
        known = _RATING_SOURCES.get(value(entry, "Source") or "")
        parsed = _fraction(value(entry, "Value"))
        if known is None or parsed is None:
            continue
        source, expected_max = known
        number, maximum = parsed
        if maximum != expected_max or source in found:
            continue
        rating = Rating.safe(
            source=source,
            value=number,
            max=maximum,
            provider=provider,
            votes=votes if source == "imdb" else None,
        )
        if rating is not None:
            found[source] = rating
    fallbacks = (("imdb", "imdbRating", 10.0), ("metacritic", "Metascore", 100.0))
    for source, key, maximum in fallbacks:
        if source not in found:
            rating = Rating.safe(
                source=source,
                value=value(body, key),
                max=maximum,
                provider=provider,
                votes=votes if source == "imdb" else None,
            )
            if rating is not None:
                found[source] = rating
    order = ("imdb", "rotten_tomatoes", "metacritic")
    return [found[source] for source in order if source in found]


def poster(url: str | None, provider: str) -> Image | None:
    """The poster image (OMDb's URLs are Amazon's ``…_SX300.jpg``: 300 px wide)."""
    if not url:
        return None
    width = _POSTER_WIDTH_RE.search(url)
    return Image.safe(
        provider=provider, kind="poster", url=url, width=int(width.group(1)) if width else None
    )


def is_movie(body: Mapping[str, Any]) -> bool:
    """Whether the record is a movie (one without ``Type`` counts: we only ask for movies)."""
    kind = value(body, "Type")
    return kind is None or kind.lower() == "movie"


def parse_movie(
    body: Mapping[str, Any],
    provider: str,
    *,
    requested: Ids,
    outline: str | None = None,
    raw: dict[str, Any] | None = None,
) -> ProviderResult:
    """A `ProviderResult` from a title body (``Response: "True"``).

    ``requested`` fills ``ids`` when the body has no usable ``imdbID``; ``outline`` overrides
    the outline derived from the plot (the ``plot=short`` text, when fetched).
    """
    plot = value(body, "Plot")
    ids = Ids.lenient(imdb=value(body, "imdbID"))
    if not ids:
        ids = requested.only({"imdb"})
    crew = [
        CrewMember(name=name, job="Director", department="Directing", provider=provider)
        for name in people(value(body, "Director"))
    ] + [
        CrewMember(name=name, job="Writer", department="Writing", provider=provider)
        for name in people(value(body, "Writer"))
    ]
    cast = [
        CastMember(name=name, order=position, provider=provider)
        for position, name in enumerate(people(value(body, "Actors")))
    ]
    image = poster(value(body, "Poster"), provider)
    return ProviderResult(
        provider=provider,
        ids=ids,
        title=value(body, "Title"),
        year=parse_year(value(body, "Year")),
        release_date=parse_released(value(body, "Released")),
        runtime=parse_runtime(value(body, "Runtime")),
        plot=plot,
        outline=outline if outline is not None else first_sentence(plot),
        content_rating=value(body, "Rated"),
        genres=comma_list(value(body, "Genre")),
        awards=value(body, "Awards"),
        ratings=parse_ratings(body, provider),
        images=[image] if image is not None else [],
        cast=cast,
        crew=crew,
        language="en",
        raw=raw if raw is not None else {"title": dict(body)},
    )


def parse_search(body: Mapping[str, Any], provider: str) -> list[SearchHit]:
    """The movie hits of a search body, in OMDb's order; other types and id-less items dropped."""
    items = body.get("Search")
    hits: list[SearchHit] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping) or not is_movie(item):
            continue
        ids = Ids.lenient(imdb=value(item, "imdbID"))
        title = value(item, "Title")
        if not ids or title is None:
            continue
        try:
            hit = SearchHit(
                provider=provider,
                ids=ids,
                title=title,
                year=parse_year(value(item, "Year")),
                poster=value(item, "Poster"),
            )
        except (ValueError, TypeError):
            continue
        hits.append(hit)
    return hits
