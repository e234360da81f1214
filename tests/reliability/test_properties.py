"""Property-based tests (hypothesis): id normalisation, title normalisation and the merge.

- Ids: whatever text goes in, what comes out is canonical (``tt`` + 7-10 ASCII digits; a
  positive int in range) or `InvalidIdError`; parsing is idempotent; spelling variants agree.
- Titles (`normalize_title`): idempotent, and blind to case, surrounding whitespace, a moved
  article ("Title, The"), "&" against "and", and roman against arabic numerals.
- Merge: deterministic; provenance names a provider that supplied exactly that value; the
  best-ranked provider with a value wins; nothing invented; collected lists hold only
  supplied items, once.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from metarr.errors import InvalidIdError
from metarr.ids import MAX_NUMERIC_ID, Ids, parse_id, parse_imdb, parse_numeric
from metarr.matching import normalize_title
from metarr.merge import merge, provider_order
from metarr.models import (
    LIST_FIELDS,
    SCALAR_FIELDS,
    CastMember,
    CrewMember,
    Image,
    ProviderResult,
    Rating,
)

EXAMPLES = 300
RUN: Counter[str] = Counter()
CANONICAL_IMDB = re.compile(r"^tt[0-9]{7,10}$")
fast = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- ids -------------------------------------------------------------------------------------

imdb_digits = st.from_regex(r"\A[0-9]{7,10}\Z").filter(lambda d: int(d) != 0)
id_like = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"\A\s*(tt|TT|tmdb:|tvdb-)?\s*[0-9٠-٩０-９]{0,12}\s*\Z"),
    imdb_digits.map(lambda d: f"https://www.imdb.com/title/tt{d}/"),
    st.integers(min_value=-(10**30), max_value=10**30),
)


@fast
@given(id_like)
def test_imdb_ids_come_out_canonical_or_not_at_all(value: Any) -> None:
    RUN["ids"] += 1
    try:
        parsed = parse_imdb(value)
    except InvalidIdError:
        return
    assert CANONICAL_IMDB.match(parsed), parsed
    assert parse_imdb(parsed) == parsed


@fast
@given(id_like, st.sampled_from(["tmdb", "tvdb"]))
def test_numeric_ids_come_out_canonical_or_not_at_all(value: Any, kind: str) -> None:
    RUN["ids"] += 1
    try:
        parsed = parse_numeric(value, kind)
    except InvalidIdError:
        return
    assert type(parsed) is int
    assert 0 < parsed <= MAX_NUMERIC_ID
    assert parse_numeric(parsed, kind) == parsed
    assert parse_numeric(str(parsed), kind) == parsed


@fast
@given(imdb_digits, st.sampled_from(["tt", "TT", "Tt"]), st.text(" \t", max_size=3))
def test_imdb_spellings_agree(digits: str, prefix: str, pad: str) -> None:
    RUN["ids"] += 1
    canonical = f"tt{digits}"
    for spelling in (
        f"{pad}{prefix}{digits}{pad}",
        f"https://www.imdb.com/title/tt{digits}/",
        f"imdb.com/title/tt{digits}?ref_=x",
    ):
        assert parse_imdb(spelling) == canonical
    if len(digits) >= 7:
        assert parse_imdb(digits) == canonical
    assert Ids(imdb=f" {prefix}{digits} ") == Ids(imdb=canonical)


@fast
@given(st.dictionaries(st.sampled_from(["tmdb", "imdb", "tvdb", "other"]), id_like))
def test_lenient_ids_never_raise_and_keep_only_canonical_values(values: dict[str, Any]) -> None:
    RUN["ids"] += 1
    ids = Ids.lenient(**values)
    for kind, value in ids.items():
        assert parse_id(kind, value) == value


# -- titles ----------------------------------------------------------------------------------

title_text = st.text(
    st.characters(codec="utf-8", max_codepoint=0x24F, categories=("L", "N", "P", "Zs")),
    max_size=40,
)
# Titles built from the pieces normalisation treats specially (articles, numerals, "&", years).
title_pieces = st.lists(
    st.sampled_from(
        ["The", "a", "An", "II", "iv", "Mix", "&", "and", ",", "'", "Matrix", "L'", "(1999)", "i"]
    ),
    max_size=6,
).map(" ".join)
titles = st.one_of(title_text, title_pieces)
words = st.lists(st.from_regex(r"\A[a-z0-9]{1,8}\Z"), min_size=1, max_size=5).filter(
    lambda ws: ws[0] not in ("the", "a", "an")
)


def _roman(number: int) -> str:
    table = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ]
    out = ""
    for value, letters in table:
        while number >= value:
            out += letters
            number -= value
    return out


@fast
@given(titles)
def test_title_normalisation_is_idempotent(title: str) -> None:
    RUN["titles"] += 1
    once = normalize_title(title)
    assert normalize_title(once) == once
    assert re.fullmatch(r"[a-z0-9 ]*", once)


@fast
@given(titles, st.text(" \t\n", max_size=3), st.text(" \t\n", max_size=3))
def test_title_normalisation_ignores_case_and_surrounding_space(
    title: str, left: str, right: str
) -> None:
    RUN["titles"] += 1
    # Case here means case within a script: 'µ' (micro sign) upper-cases to Greek 'Μ'.
    assume(title.upper().lower() == title.lower())
    key = normalize_title(title)
    assert normalize_title(f"{left}{title}{right}") == key
    assert normalize_title(title.upper()) == normalize_title(title.lower())


@fast
@given(words, st.sampled_from(["The", "the", "THE", "A", "An"]))
def test_moved_article_is_the_same_title(ws: list[str], article: str) -> None:
    RUN["titles"] += 1
    title = " ".join(ws)
    assert normalize_title(f"{title}, {article}") == normalize_title(f"{article} {title}")


@fast
@given(words, words)
def test_ampersand_is_and(left: list[str], right: list[str]) -> None:
    RUN["titles"] += 1
    a, b = " ".join(left), " ".join(right)
    assert normalize_title(f"{a} & {b}") == normalize_title(f"{a} and {b}")
    assert normalize_title(f"{a}&{b}") == normalize_title(f"{a} and {b}")


@fast
@given(words, st.integers(min_value=2, max_value=39))
def test_roman_numerals_are_numbers(ws: list[str], number: int) -> None:
    """Sequel numerals II..XXXIX read as numbers (larger ones are left alone: "M" is a letter)."""
    RUN["titles"] += 1
    title = " ".join(ws)
    roman = _roman(number)
    assert normalize_title(f"{title} {roman}") == normalize_title(f"{title} {number}")
    assert normalize_title(f"{title} {roman.lower()}") == normalize_title(f"{title} {number}")


# -- merge -----------------------------------------------------------------------------------

PROVIDER_NAMES = ("p1", "p2", "p3", "p4")
RANKED_FIELDS = (*SCALAR_FIELDS, *LIST_FIELDS, "ratings", "images", "cast", "crew")
ID_FIELDS = ("ids.tmdb", "ids.imdb", "ids.tvdb")


@st.composite
def provider_result(draw: st.DrawFn, name: str) -> ProviderResult:
    small = st.sampled_from(["Heat", "Alien", "Up", "Ran", "M"])
    maybe_text = st.one_of(st.none(), small)
    ids = Ids(
        tmdb=draw(st.one_of(st.none(), st.integers(1, 4))),
        imdb=draw(st.one_of(st.none(), st.sampled_from(["tt0000001", "tt0000002"]))),
        tvdb=draw(st.one_of(st.none(), st.integers(1, 4))),
    )
    urls = st.sampled_from([f"https://img.test/{i}.jpg" for i in range(5)])
    images = draw(
        st.lists(
            st.builds(
                Image, provider=st.just(name), kind=st.sampled_from(["poster", "logo"]), url=urls
            ),
            max_size=3,
        )
    )
    ratings = draw(
        st.lists(
            st.builds(
                Rating,
                source=st.sampled_from(["imdb", "tmdb", "metacritic"]),
                value=st.floats(0, 10),
                max=st.just(10.0),
                provider=st.just(name),
            ),
            max_size=3,
        )
    )
    cast = draw(st.lists(st.builds(CastMember, name=small, provider=st.just(name)), max_size=3))
    crew = draw(
        st.lists(
            st.builds(
                CrewMember, name=small, job=st.sampled_from(["Director"]), provider=st.just(name)
            ),
            max_size=2,
        )
    )
    return ProviderResult(
        provider=name,
        ids=ids,
        title=draw(maybe_text),
        original_title=draw(maybe_text),
        year=draw(st.one_of(st.none(), st.integers(1990, 1992))),
        runtime=draw(st.one_of(st.none(), st.integers(80, 82))),
        plot=draw(maybe_text),
        tagline=draw(maybe_text),
        genres=draw(st.lists(small, max_size=2)),
        ratings=ratings,
        images=images,
        cast=cast,
        crew=crew,
    )


@st.composite
def merge_inputs(draw: st.DrawFn) -> tuple[dict[str, ProviderResult], dict[str, dict[str, int]]]:
    names = draw(st.lists(st.sampled_from(PROVIDER_NAMES), min_size=1, max_size=4, unique=True))
    results = {name: draw(provider_result(name)) for name in names}
    ranks = {
        name: draw(
            st.dictionaries(
                st.sampled_from(RANKED_FIELDS + ID_FIELDS), st.integers(1, 4), max_size=12
            )
        )
        for name in draw(st.permutations(PROVIDER_NAMES))
    }
    return results, ranks


def _value(result: ProviderResult, field: str) -> Any:
    if field.startswith("ids."):
        return result.ids.get(field[4:])
    return getattr(result, field)


def _empty(value: Any) -> bool:
    return value is None or value == ()


@fast
@given(merge_inputs(), st.randoms(use_true_random=False))
def test_merge_properties(inputs: Any, rnd: Any) -> None:
    RUN["merge"] += 1
    results, ranks = inputs
    movie = merge(results, ranks)
    # Deterministic, whatever order the mappings come in.
    shuffled_results = dict(rnd.sample(list(results.items()), len(results)))
    shuffled_ranks = dict(rnd.sample(list(ranks.items()), len(ranks)))
    assert merge(shuffled_results, shuffled_ranks) == movie
    for field in (*SCALAR_FIELDS, *LIST_FIELDS, *ID_FIELDS):
        merged = movie.ids.get(field[4:]) if field.startswith("ids.") else getattr(movie, field)
        order = [n for n in provider_order(field, ranks) if n in results]
        suppliers = [n for n in order if not _empty(_value(results[n], field))]
        if not suppliers:
            assert _empty(merged), f"{field} invented: {merged!r}"
            assert field not in movie.provenance
            continue
        # The best-ranked provider with a value wins, and provenance names it.
        assert movie.provenance[field] == suppliers[0]
        assert _value(results[suppliers[0]], field) == merged
    for field in ("ratings", "images", "cast", "crew"):
        allowed = [n for n in provider_order(field, ranks) if n in results]
        supplied = [item for n in allowed for item in getattr(results[n], field)]
        merged_items = getattr(movie, field)
        assert all(item in supplied for item in merged_items), f"{field}: invented item"
        assert all(item.provider in allowed for item in merged_items)
        assert len(set(merged_items)) == len(merged_items) or field == "ratings"
    assert set(movie.provenance) <= {*SCALAR_FIELDS, *LIST_FIELDS, *ID_FIELDS}


def test_property_example_counts() -> None:
    """Not a check: prints how many examples each property group ran (in this session)."""
    print(f"property examples run: {dict(RUN)} (total {sum(RUN.values())})")
