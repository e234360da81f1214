"""The names one title string holds: library forms that pack two titles, or one in disguise.

Library tools write a film's other name beside its title — ``"Princess of Montpensier, The
(La princesse de Montpensier)"``, ``"Look What's Happened to Rosemary's Baby (a.k.a. Rosemary's
Baby II)"`` — move a leading article to the end, and replace characters that file systems refuse
(Radarr: ``:`` as `` - ``, ``/`` as ``+``). `title_forms` gives every name such a string stands for,
so a search can try each; deciding between them (identify only when exactly one movie matches
across all forms) is the engine's job.
"""

from __future__ import annotations

import re

from metarr.matching import normalize_title

# Articles library exports move to the end ("Matrix, The", "Bambini ci guardano, I", "Passion,
# En"), in the languages whose films MovieLens and IMDb list this way.
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+?),\s*(?P<article>the|a|an|l'|le|la|les|il|lo|i|gli|el|los|las|un|une|una|uno|"
    r"o|os|as|um|uma|der|die|das|den|det|de|het|een|ein|eine|en|ett|et)\s*$",
    re.IGNORECASE,
)

# "(a.k.a. Other)", "(aka Other)", "(also known as Other)".
_AKA = re.compile(
    r"^\s*(?:a\.?\s?k\.?\s?a\.?|a/k/a|also\s+known\s+as)\s*[:.]?\s+(?P<name>.+)$", re.I
)
# Radarr's file-system replacements, undone: "Face+Off" -> "Face/Off", "Mission - Impossible" ->
# "Mission: Impossible". A "+" with spaces around it is a real one ("Romeo + Juliet").
_PLUS = re.compile(r"(?<=\w)\+(?=\w)")
_SPACED_DASH = re.compile(r"(?<=\w) - (?=\w)")
MAX_FORMS = 8


def title_forms(title: str) -> tuple[str, ...]:
    """Every name ``title`` stands for, most literal first, one per normalized title.

    The whole string comes first (``"Birdman or (The Unexpected Virtue of Ignorance)"`` is one
    title), then the main title with its article in front, then each name in trailing
    parentheses. Text without letters or digits gives no form.
    """
    forms: dict[str, str] = {}

    def add(text: str) -> None:
        text = _restored(_article_in_front(" ".join(text.split())))
        key = normalize_title(text) if text else ""
        if key and key not in forms and len(forms) < MAX_FORMS:
            forms[key] = text

    add(title)
    main, others = _split_parentheses(title)
    add(main)
    for other in others:
        aka = _AKA.match(other)
        add(aka.group("name") if aka else other)
    return tuple(forms.values())


def _split_parentheses(title: str) -> tuple[str, list[str]]:
    """``"Main (A) (B)"`` as ``("Main", ["A", "B"])``: balanced groups at the end, outermost."""
    rest = title.rstrip()
    groups: list[str] = []
    while rest.endswith(")"):
        depth = 0
        for index in range(len(rest) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(rest[index], 0)
            if depth == 0:
                break
        else:
            break  # unbalanced: leave the text alone
        inner, before = rest[index + 1 : -1].strip(), rest[:index].rstrip()
        if not before:
            break  # "(500) Days of Summer" style: the parenthesis is the title itself
        groups.insert(0, inner)
        rest = before
    return rest, groups


def _article_in_front(text: str) -> str:
    moved = _TRAILING_ARTICLE.match(text)
    if not moved:
        return text
    article = moved.group("article")
    joiner = "" if article.endswith("'") else " "
    return f"{article[:1].upper()}{article[1:]}{joiner}{moved.group('body')}"


def _restored(text: str) -> str:
    return _SPACED_DASH.sub(": ", _PLUS.sub("/", text))
