"""Id parsing and the `Ids` value object: what is accepted, normalised and refused, and why."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from metarr import InvalidIdError
from metarr.ids import MAX_NUMERIC_ID, Ids, parse_id, parse_imdb, parse_numeric

IMDB_SHAPE = re.compile(r"^tt[0-9]{7,10}$")  # ASCII digits: one spelling per id


# -- IMDb -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("tt0133093", "tt0133093"),
        ("TT0133093", "tt0133093"),
        ("Tt0133093", "tt0133093"),
        ("  tt0133093\n", "tt0133093"),
        ("tt10872600", "tt10872600"),
        ("tt1234567890", "tt1234567890"),
        ("https://www.imdb.com/title/tt0133093/", "tt0133093"),
        ("https://www.imdb.com/title/tt0133093", "tt0133093"),
        ("https://imdb.com/title/tt0133093/", "tt0133093"),
        ("http://www.imdb.com/title/tt0133093/?ref_=fn_al_tt_1", "tt0133093"),
        ("https://m.imdb.com/title/tt0133093/#cast", "tt0133093"),
        ("www.imdb.com/title/tt0133093/", "tt0133093"),
        ("https://www.imdb.com/title/TT0133093/", "tt0133093"),
        ("0133093", "tt0133093"),
        ("133093000", "tt133093000"),
        (1330930, "tt1330930"),
    ],
)
def test_imdb_accepted_forms(raw: object, expected: str) -> None:
    assert parse_imdb(raw) == expected
    assert Ids(imdb=raw).imdb == expected


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("133093", ["too short", "7"]),
        (133093, ["too short", "7"]),
        ("1", ["too short"]),
        ("tt", ["'tt'", "not 'tt' followed by 7 to 10 digits"]),
        ("tt12", ["'tt12'", "7 to 10 digits"]),
        ("tt012345", ["7 to 10 digits"]),
        ("tt12345678901", ["7 to 10 digits"]),
        ("tt0000000", ["all zeros"]),
        ("0000000", ["all zeros"]),
        ("abc", ["'abc'", "7 to 10 digits"]),
        ("nm0000206", ["7 to 10 digits"]),
        ("tt 0133093", ["7 to 10 digits"]),
        ("tt0133093 tt0133094", ["7 to 10 digits"]),
        ("see https://www.imdb.com/title/tt0133093/ here", ["7 to 10 digits"]),
        ("https://www.imdb.com/name/nm0000206/", ["7 to 10 digits"]),
        ("https://evil.example/title/tt0133093/", ["7 to 10 digits"]),
        ("https://www.imdb.com.evil.example/title/tt0133093/", ["7 to 10 digits"]),
        ("tt\u0660\u0661\u0663\u0663\u0660\u0669\u0663", ["7 to 10 digits"]),
        ("\uff10\uff11\uff13\uff13\uff10\uff19\uff13", ["7 to 10 digits"]),
        ("", ["empty"]),
        ("   ", ["empty"]),
        (None, ["missing"]),
        (1.5e6, ["text or a number", "float"]),
        (["tt0133093"], ["text or a number", "list"]),
    ],
)
def test_imdb_refused_with_a_reason(raw: object, words: list[str]) -> None:
    with pytest.raises(InvalidIdError) as info:
        parse_imdb(raw)
    message = str(info.value)
    assert message.startswith("IMDb id")
    for word in words:
        assert word in message


def test_imdb_bool_is_refused() -> None:
    # True is an int to Python; "1" is far too short to be an IMDb id either way.
    with pytest.raises(InvalidIdError, match="IMDb"):
        parse_imdb(True)


def test_long_garbage_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidIdError) as info:
        parse_imdb("x" * 500)
    assert len(str(info.value)) < 120
    assert "..." in str(info.value)


# -- TMDB / TVDB ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tmdb", "tvdb"])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (603, 603),
        ("603", 603),
        (" 603 ", 603),
        (1, 1),
        (MAX_NUMERIC_ID, MAX_NUMERIC_ID),
        (str(MAX_NUMERIC_ID), MAX_NUMERIC_ID),
    ],
)
def test_numeric_accepted_forms(kind: str, raw: object, expected: int) -> None:
    assert parse_numeric(raw, kind) == expected
    assert Ids(**{kind: raw}).get(kind) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("tmdb", "tmdb:603"), ("tmdb", "TMDB:603"), ("tmdb", "tmdb-603"), ("tvdb", "tvdb:603")],
)
def test_numeric_prefixed_forms(kind: str, raw: str) -> None:
    assert parse_id(kind, raw) == 603


def test_a_prefix_of_the_other_kind_is_refused() -> None:
    with pytest.raises(InvalidIdError, match="TMDB id 'tvdb:603' is not a positive integer"):
        parse_numeric("tvdb:603", "tmdb")


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("0", ["'0'", "must be a positive integer"]),
        (0, ["must be a positive integer"]),
        ("-5", ["'-5'", "not a positive integer"]),
        (-5, ["-5", "must be a positive integer"]),
        ("abc", ["'abc'", "not a positive integer"]),
        ("6 03", ["not a positive integer"]),
        ("603 https://www.themoviedb.org/movie/603", ["not a positive integer"]),
        ("https://www.themoviedb.org/movie/603", ["not a positive integer"]),
        ("6.5", ["not a positive integer"]),
        (str(10**30), ["too large"]),
        (10**30, ["too large"]),
        (MAX_NUMERIC_ID + 1, ["too large"]),
        (str(MAX_NUMERIC_ID + 1), ["too large"]),
        ("", ["empty"]),
        (None, ["missing"]),
        (True, ["positive integer", "True"]),
        (False, ["positive integer", "False"]),
        (603.0, ["text or a number", "float"]),
        (b"603", ["text or a number", "bytes"]),
    ],
)
def test_tmdb_refused_with_a_reason(raw: object, words: list[str]) -> None:
    with pytest.raises(InvalidIdError) as info:
        parse_numeric(raw, "tmdb")
    message = str(info.value)
    assert message.startswith("TMDB id")
    for word in words:
        assert word in message


def test_tvdb_errors_name_tvdb() -> None:
    with pytest.raises(InvalidIdError, match=r"^TVDB id '-5' is not a positive integer"):
        Ids(tvdb="-5")


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(InvalidIdError, match="unknown id type 'mal': use one of tmdb, imdb, tvdb"):
        parse_id("mal", "1")


def test_invalid_id_error_is_a_value_error() -> None:
    # attrs converters and callers that catch ValueError both keep working.
    with pytest.raises(ValueError, match="IMDb"):
        Ids(imdb="tt1")


# -- Ids --------------------------------------------------------------------------------------


def test_ids_normalise_on_construction() -> None:
    ids = Ids(tmdb="603", imdb="TT0133093", tvdb="tvdb:169")
    assert (ids.tmdb, ids.imdb, ids.tvdb) == (603, "tt0133093", 169)
    assert ids == Ids(tmdb=603, imdb="tt0133093", tvdb=169)


def test_ids_are_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        Ids(603)  # type: ignore[misc]
    ids = Ids(tmdb=603)
    with pytest.raises(AttributeError):
        ids.tmdb = 604  # type: ignore[misc]


def test_lenient_drops_bad_values_and_keeps_good_ones() -> None:
    ids = Ids.lenient(tmdb="abc", imdb="tt0133093", tvdb=-1)
    assert ids == Ids(imdb="tt0133093")
    assert Ids.lenient(tmdb=603, imdb="N/A", tvdb="") == Ids(tmdb=603)
    assert Ids.lenient(tmdb=None, imdb=None) == Ids()


def test_lenient_ignores_unknown_kinds() -> None:
    assert Ids.lenient(mal=5, tmdb=603) == Ids(tmdb=603)


def test_lenient_normalises_what_it_keeps() -> None:
    assert Ids.lenient(imdb="https://www.imdb.com/title/tt0133093/", tvdb="169") == Ids(
        imdb="tt0133093", tvdb=169
    )


def test_kinds_items_and_get() -> None:
    ids = Ids(tvdb=169, tmdb=603)
    assert ids.kinds() == frozenset({"tmdb", "tvdb"})
    assert ids.items() == [("tmdb", 603), ("tvdb", 169)]  # canonical order, not argument order
    assert ids.get("tmdb") == 603
    assert ids.get("imdb") is None
    assert ids.get("mal") is None
    assert ids.get("__class__") is None


def test_only_keeps_the_given_kinds() -> None:
    ids = Ids(tmdb=603, imdb="tt0133093", tvdb=169)
    assert ids.only({"imdb"}) == Ids(imdb="tt0133093")
    assert ids.only(frozenset({"tmdb", "tvdb"})) == Ids(tmdb=603, tvdb=169)
    assert ids.only(set()) == Ids()


def test_union_prefers_self() -> None:
    ours = Ids(tmdb=603, imdb="tt0133093")
    theirs = Ids(tmdb=604, tvdb=169)
    assert ours.union(theirs) == Ids(tmdb=603, imdb="tt0133093", tvdb=169)
    assert theirs.union(ours) == Ids(tmdb=604, imdb="tt0133093", tvdb=169)
    assert Ids().union(theirs) == theirs


def test_truthiness_and_str() -> None:
    assert not Ids()
    assert Ids(tvdb=1)
    assert str(Ids()) == "(no ids)"
    assert str(Ids(tvdb=169, imdb="tt0133093", tmdb=603)) == "tmdb:603 imdb:tt0133093 tvdb:169"


def test_ids_are_hashable() -> None:
    assert len({Ids(tmdb="603"), Ids(tmdb=603), Ids(imdb="tt0133093")}) == 2


# -- properties -------------------------------------------------------------------------------

imdb_inputs = st.one_of(
    st.integers(min_value=1, max_value=9_999_999_999).map(lambda n: f"tt{n:07d}"),
    st.integers(min_value=1_000_000, max_value=9_999_999_999),
    st.integers(min_value=1, max_value=9_999_999_999).map(
        lambda n: f"https://www.imdb.com/title/tt{n:07d}/"
    ),
    st.text(max_size=20),
    st.integers(),
)


def _parse_or_none(value: object) -> str | None:
    try:
        return parse_imdb(value)
    except InvalidIdError:
        return None


@given(imdb_inputs)
def test_imdb_parse_is_idempotent_and_well_shaped(value: object) -> None:
    parsed = _parse_or_none(value)
    if parsed is not None:
        assert IMDB_SHAPE.fullmatch(parsed)
        assert parse_imdb(parsed) == parsed
        assert parse_imdb(parsed.upper()) == parsed


@given(st.integers(min_value=1, max_value=9_999_999_999))
def test_every_tt_number_parses(number: int) -> None:
    parsed = parse_imdb(f"tt{number:07d}")
    assert IMDB_SHAPE.fullmatch(parsed)
    assert int(parsed[2:]) == number


@given(
    st.sampled_from(["tmdb", "tvdb"]),
    st.one_of(st.integers(), st.text(max_size=15), st.integers().map(str)),
)
def test_numeric_parse_is_idempotent_and_positive(kind: str, value: object) -> None:
    try:
        parsed = parse_numeric(value, kind)
    except InvalidIdError:
        return
    assert isinstance(parsed, int)
    assert 0 < parsed <= MAX_NUMERIC_ID
    assert parse_numeric(parsed, kind) == parsed
    assert parse_numeric(str(parsed), kind) == parsed


@given(st.integers(min_value=1, max_value=MAX_NUMERIC_ID))
def test_every_positive_number_in_range_parses(number: int) -> None:
    assert parse_numeric(number, "tmdb") == number
    assert parse_numeric(f"tmdb:{number}", "tmdb") == number


@given(st.integers(max_value=0))
def test_no_non_positive_number_parses(number: int) -> None:
    with pytest.raises(InvalidIdError, match="positive integer"):
        parse_numeric(number, "tvdb")


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "tmdb": st.one_of(st.integers(), st.text(max_size=12)),
            "imdb": st.one_of(st.integers(), st.text(max_size=14)),
            "tvdb": st.one_of(st.integers(), st.text(max_size=12)),
        },
    )
)
def test_lenient_never_raises_and_round_trips(values: dict[str, object]) -> None:
    ids = Ids.lenient(**values)
    assert Ids(**dict(ids.items())) == ids
    if ids.imdb is not None:
        assert IMDB_SHAPE.fullmatch(ids.imdb)


def _lenient_general(values: dict[str, object]) -> Ids:
    """`Ids.lenient` by the constructor: every kept value through its converter again."""
    kept: dict[str, object] = {}
    for kind, value in values.items():
        if value in (None, ""):
            continue
        with contextlib.suppress(InvalidIdError):
            kept[kind] = parse_id(kind, value)
    return Ids(**kept)


ID_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "tmdb": st.one_of(st.integers(), st.text(max_size=12), st.integers(1, 99).map(str)),
        "imdb": imdb_inputs,
        "tvdb": st.one_of(st.integers(), st.text(max_size=12), st.none()),
    },
)


@given(ID_VALUES, ID_VALUES, st.sets(st.sampled_from(["tmdb", "imdb", "tvdb"])))
def test_lenient_only_and_union_build_what_the_constructor_builds(
    values: dict[str, object], others: dict[str, object], kinds: set[str]
) -> None:
    # they skip the converters for values already parsed: the result must not tell
    ids, other = Ids.lenient(**values), Ids.lenient(**others)
    assert _same(ids, _lenient_general(values))
    assert _same(ids.only(kinds), Ids(**{k: v for k, v in ids.items() if k in kinds}))
    assert _same(ids.union(other), Ids(**{**dict(other.items()), **dict(ids.items())}))


def _same(a: Ids, b: Ids) -> bool:
    fields = ("tmdb", "imdb", "tvdb")
    return (
        a == b
        and hash(a) == hash(b)
        and repr(a) == repr(b)
        and [type(getattr(a, f)) for f in fields] == [type(getattr(b, f)) for f in fields]
    )
