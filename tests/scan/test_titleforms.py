"""Title forms: every name one title string stands for."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from metarr.matching import normalize_title
from metarr.titleforms import MAX_FORMS, title_forms
from metarr_sim import World


@pytest.mark.parametrize(
    ("title", "forms"),
    [
        (
            "Princess of Montpensier, The (La princesse de Montpensier)",
            ("The Princess of Montpensier", "La princesse de Montpensier"),
        ),
        (
            "Look What's Happened to Rosemary's Baby (a.k.a. Rosemary's Baby II)",
            ("Look What's Happened to Rosemary's Baby", "Rosemary's Baby II"),
        ),
        (
            "Vitelloni, I (a.k.a. The Young and the Passionate)",
            ("I Vitelloni", "The Young and the Passionate"),
        ),
        ("Amores perros (aka Love's a Bitch)", ("Amores perros", "Love's a Bitch")),
        ("Matrix, The", ("The Matrix",)),
        ("Atalante, L'", ("L'Atalante",)),
        ("Face+Off", ("Face/Off",)),
        ("Mission - Impossible", ("Mission: Impossible",)),
        ("Romeo + Juliet", ("Romeo + Juliet",)),
        ("(500) Days of Summer", ("(500) Days of Summer",)),
        ("Heat", ("Heat",)),
    ],
)
def test_forms(title: str, forms: tuple[str, ...]) -> None:
    found = title_forms(title)
    for form in forms:
        assert form in found
    assert len({normalize_title(f) for f in found}) == len(found)  # one per normalized title


def test_a_title_ending_in_parentheses_is_also_tried_whole() -> None:
    found = title_forms("Birdman or (The Unexpected Virtue of Ignorance)")
    assert found[0] == "Birdman or (The Unexpected Virtue of Ignorance)"


@pytest.mark.parametrize("title", ["", "   ", "()", ")(", "((", "(a.k.a. )", "---"])
def test_text_without_a_name_gives_no_empty_form(title: str) -> None:
    assert all(normalize_title(form) for form in title_forms(title))


def test_every_movielens_title_holds_the_names_the_simulated_providers_know(
    sim_world: World,
) -> None:
    """MovieLens writes titles in library form; each of a film's names the simulator serves
    (title, original title, alternative titles) must be among the forms."""
    missing = []
    for movie in sim_world.movies:
        bare = re.sub(r"\s*\((?:\d{4})(?:[–-]\d{4})?\)\s*$", "", movie.ml_title)
        keys = {normalize_title(form) for form in title_forms(bare)}
        names = [movie.title, movie.original_title, *movie.alternatives]
        missing += [(movie.ml_title, n) for n in names if n and normalize_title(n) not in keys]
    assert missing == []


_plain = st.text(st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=40).filter(
    lambda t: normalize_title(t) != ""
)


@given(st.text(max_size=120))
def test_any_text_gives_few_nonempty_forms(title: str) -> None:
    forms = title_forms(title)
    assert len(forms) <= MAX_FORMS
    assert all(normalize_title(form) for form in forms)
    assert title_forms(title) == forms  # deterministic


@given(_plain, _plain)
def test_both_names_of_title_and_original_are_forms(main: str, other: str) -> None:
    keys = {normalize_title(f) for f in title_forms(f"{main} ({other})")}
    assert normalize_title(main) in keys or normalize_title(f"{main} ({other})") in keys
    assert normalize_title(other) in keys or normalize_title(f"{main} ({other})") in keys


@given(_plain)
def test_a_plain_title_is_its_only_form(title: str) -> None:
    assert [normalize_title(f) for f in title_forms(title)] == [normalize_title(title)]
