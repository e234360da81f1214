"""MovieLens title parsing and the search normalisation the simulated providers share.

MovieLens writes ``"City of Lost Children, The (Cité des enfants perdus, La) (1995)"``: the year
in trailing parentheses, alternative (original-language or *a.k.a.*) titles in further trailing
parentheses, and articles moved to the end. `split_title` undoes all three.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

__all__ = ["ARTICLES", "ParsedTitle", "move_article", "normalise", "split_title", "tokens"]

ARTICLES = [
    "The",
    "A",
    "An",
    "Les",
    "La",
    "Le",
    "L'",
    "Il",
    "Lo",
    "I",
    "Gli",
    "Das",
    "Der",
    "Die",
    "Den",
    "Det",
    "Des",
    "El",
    "Los",
    "Las",
    "Un",
    "Une",
    "Una",
    "Uno",
    "Ein",
    "Eine",
    "De",
    "Het",
    "Een",
    "En",
    "Et",
    "O",
    "Os",
    "As",
]
_YEAR = re.compile(r"\s*\((\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$")
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.*\S),\s+(?P<art>" + "|".join(re.escape(a) for a in ARTICLES) + r")$"
)
_AKA = re.compile(r"^a\.?k\.?a\.?\s+", re.IGNORECASE)
_APOSTROPHES = re.compile(r"['\u2019\u2018`´]")
_NON_WORD = re.compile(r"[^\w]+")


def move_article(title: str) -> str:
    """Move a trailing article to the front.

    ``"Usual Suspects, The"`` → ``"The Usual Suspects"``; ``"Atalante, L'"`` → ``"L'Atalante"``.
    """
    match = _TRAILING_ARTICLE.match(title.strip())
    if not match:
        return title.strip()
    body, article = match["body"], match["art"]
    return f"{article}{body}" if article.endswith("'") else f"{article} {body}"


def _peel_group(text: str) -> tuple[str, str] | None:
    """Split a trailing balanced ``(...)`` group off ``text``: (rest, inner), or None."""
    if not text.endswith(")"):
        return None
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        if text[index] == ")":
            depth += 1
        elif text[index] == "(":
            depth -= 1
            if depth == 0:
                rest = text[:index].rstrip()
                if not rest:
                    return None
                return rest, text[index + 1 : -1].strip()
    return None


class ParsedTitle(NamedTuple):
    """A MovieLens title taken apart."""

    title: str
    alternatives: tuple[str, ...]
    year: int | None
    original: str | None
    """The first alternative that is not an *a.k.a.* form: the original-language title."""


def split_title(raw: str) -> ParsedTitle:
    """Parse a MovieLens title into its main title, alternative titles, year and original."""
    text = raw.strip()
    year: int | None = None
    match = _YEAR.search(text)
    if match and match.start() > 0:
        year = int(match.group(1))
        text = text[: match.start()].rstrip()
    alternatives: list[str] = []
    while (peeled := _peel_group(text)) is not None:
        text, inner = peeled
        if inner:
            alternatives.insert(0, inner)
    main = move_article(text)
    alts: list[str] = []
    original: str | None = None
    for alt in alternatives:
        cleaned = move_article(_AKA.sub("", alt))
        if not cleaned or cleaned == main or cleaned in alts:
            continue
        alts.append(cleaned)
        if original is None and not _AKA.match(alt):
            original = cleaned
    return ParsedTitle(main, tuple(alts), year, original)


def normalise(text: str) -> str:
    """Search key: accents stripped, case folded, ``&`` → ``and``, punctuation → space."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = stripped.casefold().replace("&", " and ")
    folded = _APOSTROPHES.sub("", folded)
    return " ".join(_NON_WORD.sub(" ", folded).replace("_", " ").split())


def tokens(text: str) -> tuple[str, ...]:
    """The normalised words of ``text``."""
    return tuple(normalise(text).split())
