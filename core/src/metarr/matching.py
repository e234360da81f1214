"""Title and year matching: when is a search hit the movie a scan asked for?

A confident answer must never be wrong, so matching is strict and explainable:

- **Title**: the query and each of the candidate's titles (title, original title, alternative
  titles) are normalized (`normalize_title`) and must be *equal*. Similar-but-different titles
  ("Heat" vs "Heat Wave") are near misses: shown to a person, never automated.
- **Year** (when the query has one): the candidate's years are every year its providers state
  (sources disagree by one year for about 3 % of films). ``exact`` if the query year is among
  them, ``adjacent`` if one is a year off, otherwise ``mismatch``. A candidate with no year at
  all does not match a query with a year.
- **Decision**: exactly one matching candidate → identified; none → not found; several →
  ambiguous, except that a single exact-year match beats matches that are only a year off
  (Titanic 1997 vs the 1996 TV film). Everything else is left to a person.

Distances follow beets: 0 is a perfect match, each named component adds to it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

import attrs

LEADING_ARTICLES = ("the", "a", "an")
# Articles that library exports move to the end: "Matrix, The", "Atalante, L'", "Boum, La".
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+?),\s*(?P<article>the|a|an|l'|le|la|les|il|lo|gli|el|los|las|der|die|das|"
    r"den|det|de|het|un|une|ein|eine|o|os|as)\s*$",
    re.IGNORECASE,
)
_YEAR_SUFFIX = re.compile(r"\s*\((?:19|20)\d\d\)\s*$")
# Sequel-style numerals only (II..XXXIX): "M" stays a letter and "Mix" a word.
_ROMAN = re.compile(r"^(?=[xvi]+$)x{0,3}(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"x": 10, "v": 5, "i": 1}

TITLE_EXACT = 0.0
TITLE_ALTERNATIVE = 0.05
YEAR_EXACT = 0.0
YEAR_ADJACENT = 0.1
YEAR_UNKNOWN = 0.0  # query without a year


def normalize_title(title: str) -> str:
    """A comparison key: transliterated, case-folded, articles and punctuation normalized.

    ``"The Matrix"``, ``"Matrix, The"`` and ``"MATRIX"`` give ``"matrix"``; ``"Amélie"`` gives
    ``"amelie"``; ``"Rocky II"`` and ``"Rocky 2"`` give ``"rocky 2"``; ``"Fast & Furious"`` and
    ``"Fast and Furious"`` agree. Only English articles are dropped; others are moved to the
    front ("Boum, La" → "la boum") and kept, since "Die Hard" is not "Hard".
    """
    text = _YEAR_SUFFIX.sub("", title).strip()
    moved = _TRAILING_ARTICLE.match(text)
    if moved:
        article = moved.group("article")
        joiner = "" if article.endswith("'") else " "
        text = f"{article}{joiner}{moved.group('body')}"
    if not text.isascii():  # anyascii keeps ASCII as it is; a lookup by id never gets here
        from anyascii import anyascii

        text = anyascii(text)
    text = text.casefold()
    text = text.replace("&", " and ")
    text = re.sub(r"['`´’]", "", text)
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    tokens = text.split()
    while len(tokens) > 1 and tokens[0] in LEADING_ARTICLES:  # all of them: idempotent
        tokens = tokens[1:]
    return " ".join(_arabic(token) for token in tokens)


def _arabic(token: str) -> str:
    """Roman numerals II..XXXIX as digits; a lone ``i`` stays (it is usually the pronoun)."""
    if token == "i" or not _ROMAN.match(token):
        return token
    total = 0
    for current, following in zip(token, [*token[1:], ""], strict=True):
        value = _ROMAN_VALUES[current]
        total += -value if following and _ROMAN_VALUES[following] > value else value
    return str(total)


@attrs.frozen(kw_only=True)
class TitleMatch:
    """How a query title compares with a candidate's titles."""

    matched: bool
    distance: float
    via: str | None  # "title", "original_title" or "alternative_title" when matched
    closest: str | None  # the candidate title compared (for explanations)


def match_title(
    query: str,
    title: str | None,
    original_title: str | None = None,
    alternative_titles: Iterable[str] = (),
) -> TitleMatch:
    """Compare a query with a candidate's titles: equal normalized forms match, nothing else."""
    key = normalize_title(query)
    named = [("title", title), ("original_title", original_title)]
    named += [("alternative_title", alt) for alt in alternative_titles]
    best: tuple[float, str | None] = (1.0, None)
    for via, candidate in named:
        if not candidate:
            continue
        candidate_key = normalize_title(candidate)
        if candidate_key == key:
            distance = TITLE_EXACT if via == "title" else TITLE_ALTERNATIVE
            return TitleMatch(matched=True, distance=distance, via=via, closest=candidate)
        similarity = difflib.SequenceMatcher(None, key, candidate_key).ratio()
        if 1.0 - similarity < best[0]:
            best = (1.0 - similarity, candidate)
    return TitleMatch(
        matched=False, distance=round(0.3 + 0.7 * best[0], 3), via=None, closest=best[1]
    )


def match_year(query_year: int | None, years: Iterable[int]) -> tuple[str, float]:
    """(verdict, distance): ``exact``, ``adjacent``, ``mismatch``, ``unknown`` (candidate has
    no year) or ``any`` (the query has no year)."""
    known = {year for year in years if year}
    if query_year is None:
        return "any", YEAR_UNKNOWN
    if not known:
        return "unknown", 1.0
    if query_year in known:
        return "exact", YEAR_EXACT
    if any(abs(year - query_year) == 1 for year in known):
        return "adjacent", YEAR_ADJACENT
    return "mismatch", min(1.0, 0.2 + 0.1 * min(abs(y - query_year) for y in known))


def same_movie(
    a_titles: Iterable[str | None],
    a_year: int | None,
    b_titles: Iterable[str | None],
    b_year: int | None,
) -> bool:
    """Whether two records describe the same film: a shared normalized title and years at most
    one apart (a missing year does not disagree). Used to check id claims against evidence."""
    a_keys = {normalize_title(t) for t in a_titles if t}
    b_keys = {normalize_title(t) for t in b_titles if t}
    if not a_keys & b_keys:
        return False
    return a_year is None or b_year is None or abs(a_year - b_year) <= 1


def titles_of(record: object) -> list[str | None]:
    """A record's titles for matching: title, original title and any alternative titles
    (provider results have them; merged movies and search hits may not)."""
    alternatives: Iterable[str] = getattr(record, "alternative_titles", ())
    return [getattr(record, "title", None), getattr(record, "original_title", None), *alternatives]


def fits_name(
    title: str, year: int | None, titles: Iterable[str | None], years: Iterable[int | None]
) -> bool:
    """Whether a movie fits the name an input gives with its ids: one of the names the title
    stands for (`metarr.titleforms.title_forms`: "Title (Original Title)" is two) normalizes
    to one of the movie's titles (title, original or alternative titles, from any provider)
    and, when the input has a year, one of the movie's years is at most one off (no year at
    all: it fits)."""
    from metarr.titleforms import title_forms  # (imported here: titleforms builds on this module)

    keys = {normalize_title(form) for form in title_forms(title)} or {normalize_title(title)}
    if not keys & {normalize_title(t) for t in titles if t}:
        return False
    known = [y for y in years if y]
    return year is None or not known or any(abs(y - year) <= 1 for y in known)
