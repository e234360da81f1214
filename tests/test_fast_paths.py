"""The fast paths of the per-movie hot spots give exactly what the general path gives.

`sanitize.visible`, `sanitize.paragraphs` and `sanitize.text` return printable text as it is
(stripped), `sanitize.url` reads a plain ``http(s)://host/…`` without `urlsplit`, the id
parsers return an id already in its normal form as it is (ASCII digits read directly), `Ids`
answers `only`, `items` and truth field by field, and TMDB's id reader takes a JSON int as it
is; these tests hold each shortcut to the general rule it skips.
"""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from metarr import Ids, InvalidIdError, sanitize
from metarr.ids import ID_KINDS, parse_imdb, parse_numeric


def test_nothing_hidden_is_printable() -> None:
    """The shortcut's premise, on this interpreter's Unicode tables: every character the
    sanitisers remove or replace makes a text non-printable."""
    found = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if chr(code).isprintable()
        and (sanitize.HIDDEN.fullmatch(chr(code)) or re.fullmatch(r"\s", chr(code)))
        and chr(code) != " "
    ]
    assert found == []


def _visible_general(value: str) -> str:
    return sanitize.HIDDEN.sub(lambda m: "" if sanitize._INVISIBLE.fullmatch(m[0]) else " ", value)


def _paragraphs_general(value: str) -> str:
    unified = sanitize._LINE_BREAK.sub(lambda m: "\n\n" if m.group() == "\u2029" else "\n", value)
    unified = sanitize._INVISIBLE.sub("", unified.replace("\t", " "))
    lines = (line.strip() for line in unified.split("\n"))
    return sanitize._EMPTY_LINES.sub("\n\n", "\n".join(lines)).strip()


HOSTILE = st.sampled_from(
    ["\u202e", "\u200b", "\ufeff", "\x00", "\x1b", "\x85", "\u2028", "\u2029", "\t", "\r\n", "\n"]
)
TEXTS = st.lists(st.one_of(st.text(max_size=8), HOSTILE), max_size=6).map("".join)


@given(TEXTS)
@settings(max_examples=400)
@example("Amélie ")
@example(" a\u202eb ")
def test_visible_and_paragraphs_match_the_general_rule(value: str) -> None:
    assert sanitize.visible(value) == _visible_general(value)
    assert sanitize.paragraphs(value) == _paragraphs_general(value)
    one = _visible_general(value).strip()
    assert sanitize.text(value) == (None if one in ("", "N/A") or len(one) > 1000 else one)
    many = _paragraphs_general(value)
    expected = None if many in ("", "N/A") else many
    assert sanitize.text(value, multiline=True) == expected


def test_backslash_s_is_isspace() -> None:
    """Plugins find whitespace with the regex ``\\s``: the same characters as str.isspace."""
    space = re.compile(r"\s")
    assert [
        c for c in range(sys.maxunicode + 1) if bool(space.match(chr(c))) != chr(c).isspace()
    ] == []


HOSTS = st.sampled_from(
    [
        "image.tmdb.org",
        "IMAGE.TMDB.ORG",
        "assets.fanart.tv.",
        "localhost",
        "a.localhost",
        "127.0.0.1",
        "127.1",
        "0x7f.1",
        "2130706433",
        "10.0.0.1",
        "8.8.8.8",
        "[::1]",
        "user:pw@example.com",
        "example.com:8080",
        "example.com\\@127.0.0.1",
        "ex\u212aample.com",  # KELVIN SIGN: not a plain host
        "ſtuff.org",
        "",
    ]
)
URLS = st.builds(
    lambda scheme, host, rest: f"{scheme}://{host}{rest}",
    st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "javascript", "http:", ""]),
    HOSTS,
    st.one_of(
        st.sampled_from(["", "/", "/p/a.jpg", "?x=1", "#f", "/a b", "/a\u200b", "/@x", "\\x"]),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12),
    ),
)


@given(URLS)
@settings(max_examples=600)
@example("https://image.tmdb.org/t/p/original/x.jpg")
@example("http://assets.fanart.tv/fanart/movies/1/a.png")
@example("https://localhost./a")
@example("https://image.tmdb.org?x=/a")
@example("https://image.tmdb.org#/a")
@example("http://image.tmdb.org")
@example("https://image.tmdb.org/")
@example("https://image.tmdb.org/a\x7f")
@example("https://image.tmdb.org:443/a")
@example("https:///a")
def test_url_matches_the_general_rule(value: str) -> None:
    assert sanitize.url(value) == sanitize._checked_url(value)


@pytest.mark.parametrize(
    "value",
    ["https://ex\u212aample.com/a.jpg", "https://127.0.0.1/a.jpg", "https://a@b.org/", "http://x"],
)
def test_url_shortcut_refuses_what_the_rule_refuses(value: str) -> None:
    assert sanitize.url(value) == sanitize._checked_url(value)


def _general_imdb(value: object) -> str | None:
    """`parse_imdb` without its shortcut: strip, lower, the pattern, not all zeros."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip().lower()
    match = re.fullmatch(r"tt([0-9]{7,10})", text)
    return text if match and int(match.group(1)) else None


@given(
    st.one_of(
        st.from_regex(r"\A(tt|TT|Tt)?[0-9]{5,11}\s?\Z"),
        st.sampled_from(
            ["tt0000000", "tt0133093", "tt0133093\n", "tt１２３４５６７", "tt01330930000"]
        ),
    )
)
@settings(max_examples=300)
def test_parse_imdb_shortcut(value: str) -> None:
    try:
        parsed: str | None = parse_imdb(value)
    except InvalidIdError:
        parsed = None
    if value.strip().isdigit() and value.strip().isascii():
        return  # bare digits: the general path's own rule (7 or more) decides, no shortcut
    assert parsed == _general_imdb(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(603, 603), (2**31 - 1, 2**31 - 1), (2**31, None), (0, None), (-5, None), (True, None)],
)
def test_parse_numeric_shortcut(value: object, expected: int | None) -> None:
    try:
        parsed: int | None = parse_numeric(value, "tmdb")
    except InvalidIdError:
        parsed = None
    assert parsed == expected


def _general_numeric(value: str, kind: str) -> int | None:
    """`parse_numeric` of text without its shortcuts: strip, drop a ``tmdb:`` prefix, digits
    (any script, at most 12), positive and in range."""
    text = re.sub(rf"^{kind}[:\s-]*", "", value.strip(), flags=re.IGNORECASE)
    if not re.match(r"^\d+$", text) or len(text) > 12:
        return None
    number = int(text)
    return number if 0 < number <= 2**31 - 1 else None


@given(
    st.one_of(
        st.from_regex(r"\A(tmdb:|TVDB-)?\s?[0-9]{0,13}\s?\Z"),
        st.sampled_from(["0", "0603", "2147483647", "2147483648", "١٢٣", "603\n", "", "tmdb:"]),
    ),
    st.sampled_from(["tmdb", "tvdb"]),
)
@settings(max_examples=300)
def test_parse_numeric_text_shortcut(value: str, kind: str) -> None:
    try:
        parsed: int | None = parse_numeric(value, kind)
    except InvalidIdError:
        parsed = None
    assert parsed == _general_numeric(value, kind)


BOUNDS = st.sampled_from([(0.0, 1e12), (0.0, 10.0), (0.0, 100.0), (-5.0, 5.0), (0.0, 2.0**53)])


@given(
    st.one_of(
        st.integers(-(2**60), 2**60),
        st.sampled_from([0, 10, 10**12, 10**12 + 1, 2**53, 2**53 + 1, -1, True, False, None]),
        st.floats(),
        st.text(max_size=6),
    ),
    BOUNDS,
)
def test_number_and_count_match_the_general_rule(
    value: object, bounds: tuple[float, float]
) -> None:
    got, expected = sanitize.number(value, *bounds), sanitize._number(value, *bounds)
    assert repr(got) == repr(expected)  # 3.0, not 3
    general = sanitize._number(value, 0, 1e12)
    assert repr(sanitize.count(value)) == repr(None if general is None else int(general))


def _language_general(value: object) -> str | None:
    raw = sanitize.text(value, 12)
    if raw is None or raw in ("00", "xx", "null"):
        return None
    return raw.lower() if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z]{2})?", raw) else None


@given(
    st.one_of(
        st.sampled_from(["en", "EN", " de ", "pt-BR", "00", "xx", "null", "", "N/A", "eng"]),
        st.text(max_size=14),
        st.text(min_size=40, max_size=60),
        st.integers(),
        st.floats(),
        st.none(),
        st.booleans(),
    )
)
@settings(max_examples=400)
def test_language_matches_the_general_rule(value: object) -> None:
    assert sanitize.language(value) == _language_general(value)
    assert sanitize.language(value) == _language_general(value)  # remembered alike


@given(st.one_of(st.integers(-(2**40), 2**40), st.booleans()))
@example(2**31 - 1)
@example(2**31)
@example(0)
@example(1)
def test_tmdb_positive_id_shortcut(value: int) -> None:
    """TMDB's id reader takes a JSON int as it is, with `Ids`' own bounds."""
    from metarr_tmdb.parse import positive_id

    expected = None if isinstance(value, bool) else Ids.lenient(tmdb=value).tmdb
    assert positive_id(value) == expected


IDS = st.builds(
    Ids,
    tmdb=st.one_of(st.none(), st.integers(1, 2**31 - 1)),
    imdb=st.one_of(st.none(), st.integers(1, 10**8).map(lambda n: f"tt{n:07d}")),
    tvdb=st.one_of(st.none(), st.integers(1, 2**31 - 1)),
)


@given(IDS, st.sets(st.sampled_from(["tmdb", "imdb", "tvdb", "other"])))
def test_ids_only_and_truth_match_the_general_rule(ids: Ids, kinds: set[str]) -> None:
    kept = ids.only(kinds)
    assert kept == Ids(**{kind: value for kind, value in ids.items() if kind in kinds})
    assert hash(kept) == hash(Ids(**dict(kept.items())))
    assert bool(ids) is bool(ids.kinds())
    assert ids.items() == [(k, getattr(ids, k)) for k in ID_KINDS if getattr(ids, k) is not None]
