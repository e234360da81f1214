"""Models sanitise provider data on construction, and round-trip through the JSON converter."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from metarr import (
    Candidate,
    CastMember,
    CrewMember,
    Ids,
    Image,
    InvalidIdError,
    Movie,
    Outcome,
    ProviderResult,
    Rating,
    SearchHit,
    sanitize,
)
from metarr.convert import dumps, from_json, to_json
from metarr.models import IMAGE_KINDS, OUTCOME_STATUSES, PRIORITY_FIELDS, MovieData

TEN_MB = "x" * (10 * 1024 * 1024)


# -- sanitising converters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (136, 136),
        ("136 min", 136),
        ("136", 136),
        (136.7, 136),
        (1500, 1500),
        (-1, None),
        (0, None),
        ("0 min", None),
        (99999, None),
        ("-5 min", None),
        ("N/A", None),
        ("about two hours", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        (1e300, None),
    ],
)
def test_runtime(raw: object, expected: int | None) -> None:
    assert sanitize.runtime(raw) == expected
    assert ProviderResult(provider="p", runtime=raw).runtime == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1999, 1999),
        ("1999", 1999),
        ("1999-03-31", 1999),
        ("1999–2003", 1999),
        (1870, 1870),
        (2100, 2100),
        (1869, None),
        (2101, None),
        (99999, None),
        ("99999", None),
        ("19999-01-01", None),
        (-1999, None),
        ("N/A", None),
        ("", None),
        (False, None),
    ],
)
def test_year(raw: object, expected: int | None) -> None:
    assert sanitize.year(raw) == expected
    assert SearchHit(provider="p", ids=Ids(), title="t", year=raw).year == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  The Matrix  ", "The Matrix"),
        ("The\x00 Matrix\x1b\x7f", "The Matrix"),
        ("line one\nline two\ttab", "line one line two tab"),
        ("N/A", None),
        ("   ", None),
        ("\x00\x01", None),
        ("", None),
        (None, None),
        (True, None),
        (42, "42"),
        (b"bytes", None),
        (["list"], None),
        ("x" * 1000, "x" * 1000),
        ("x" * 1001, None),
        (TEN_MB, None),
    ],
)
def test_text(raw: object, expected: str | None) -> None:
    assert sanitize.text(raw) == expected
    assert ProviderResult(provider="p", title=raw).title == expected


def test_long_text_allows_a_plot_but_not_ten_megabytes() -> None:
    plot = "word " * 3000
    assert ProviderResult(provider="p", plot=plot).plot == plot.strip()
    assert ProviderResult(provider="p", plot=TEN_MB).plot is None
    assert ProviderResult(provider="p", awards="x" * 20_001).awards is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1999-03-31", date(1999, 3, 31)),
        ("1999-03-31T00:00:00.000Z", date(1999, 3, 31)),
        (date(1999, 3, 31), date(1999, 3, 31)),
        ("0000-00-00", None),
        ("1999-02-30", None),
        ("1800-01-01", None),
        ("31 Mar 1999", None),
        ("N/A", None),
        (None, None),
    ],
)
def test_release_date(raw: object, expected: date | None) -> None:
    assert ProviderResult(provider="p", release_date=raw).release_date == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://image.tmdb.org/t/p/original/a.jpg", "https://image.tmdb.org/t/p/original/a.jpg"),
        ("http://assets.fanart.tv/x.png", "https://assets.fanart.tv/x.png"),
        ("HTTP://assets.fanart.tv/x.png", "https://assets.fanart.tv/x.png"),
        ("https://image.tmdb.sim.invalid/t/p/a.jpg", "https://image.tmdb.sim.invalid/t/p/a.jpg"),
        (" https://x.org/a.jpg ", "https://x.org/a.jpg"),
        ("https://8.8.8.8/a.jpg", "https://8.8.8.8/a.jpg"),
        ("https://[2606:4700::1111]/a.jpg", "https://[2606:4700::1111]/a.jpg"),
        ("javascript:alert(1)", None),
        ("JavaScript:alert(document.cookie)", None),
        ("file:///etc/passwd", None),
        ("data:image/png;base64,iVBORw0KGgo=", None),
        ("ftp://example.org/x.png", None),
        ("//image.tmdb.org/x.jpg", None),
        ("/t/p/original/a.jpg", None),
        ("https://", None),
        ("https://exa mple.org/x.png", None),
        ("https://[::1", None),
        ("N/A", None),
        ("https://example.org/" + "a" * 2000, None),
        (None, None),
    ],
)
def test_url(raw: object, expected: str | None) -> None:
    assert sanitize.url(raw) == expected
    image = Image.safe(provider="p", kind="poster", url=raw)
    if expected is None:
        assert image is None
    else:
        assert image is not None and image.url == expected


@pytest.mark.parametrize(
    "raw",
    [
        "http://127.0.0.1:8080/x.png",
        "https://127.0.0.1/x.png",
        "http://localhost/x.png",
        "https://LOCALHOST./x.png",
        "https://img.localhost/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "https://user:pass@10.0.0.1/x.png",
        "https://user@images.example.org/x.png",
        "https://:token@images.example.org/x.png",
        "https://10.1.2.3/x.png",
        "https://172.16.0.1/x.png",
        "https://192.168.1.10/x.png",
        "https://100.64.0.1/x.png",
        "https://0.0.0.0/x.png",
        "https://224.0.0.1/x.png",
        "https://[::1]/x.png",
        "https://[::]/x.png",
        "https://[::ffff:127.0.0.1]/x.png",
        "https://[::ffff:7f00:1]/x.png",
        "https://[::ffff:a9fe:a9fe]/x.png",
        "https://[fe80::1]/x.png",
        "https://[fe80::1%25eth0]/x.png",
        "https://[fc00::1]/x.png",
        "https://[64:ff9b::a00:1]/x.png",
        "https://[2002:7f00:1::]/x.png",
        "https://2130706433/x.png",
        "https://0x7f000001/x.png",
        "https://0x7f.1/x.png",
        "https://0177.0.0.1/x.png",
        "https://127.1/x.png",
        "https://017700000001/x.png",
        "https://3232235777/x.png",
        "https://256.0.0.1/x.png",
        "https://1.2.3.4.5/x.png",
        "https://exa\u200bmple.org/x.png",
        "https://example.org/x\u202e.png",
    ],
)
def test_url_to_a_private_host_or_with_credentials_is_dropped(raw: str) -> None:
    assert sanitize.url(raw) is None
    assert Image.safe(provider="p", kind="poster", url=raw) is None
    assert SearchHit(provider="p", ids=Ids(tmdb=1), title="t", poster=raw).poster is None


HOSTILE_TITLES = [
    ("Fake Movie (2000)\r\nline 99  identified    Forged (2001)", "Fake Movie (2000) line 99"),
    ("Evil\u202eelif.exe", "Evilelif.exe"),
    ("Zero\u200bWidth\u200c\u200dJoin\ufeff", "ZeroWidthJoin"),
    ("C1\x85next\x9bline", "C1 nextline"),
    ("Tab\tand\u2028separator\u2029paragraph", "Tab and separator paragraph"),
    ("Isolates \u2066x\u2069 \u2067y\u2069 \u2068z\u2069", "Isolates x y z"),
    ("Marks \u200e\u200f\u061c", "Marks"),
    ("Bell\x07 and escape\x1b[2J", "Bell and escape[2J"),
]


@pytest.mark.parametrize(("raw", "expected"), HOSTILE_TITLES)
def test_single_line_fields_lose_breaks_controls_and_invisible_characters(
    raw: str, expected: str
) -> None:
    cleaned = sanitize.text(raw)
    assert cleaned is not None and cleaned.startswith(expected)
    assert cleaned.splitlines() == [cleaned]
    assert ProviderResult(provider="p", title=raw).title == cleaned
    member = CastMember(name=raw, provider="p", character=raw)
    assert member.name == member.character == cleaned


def test_plots_keep_their_paragraphs() -> None:
    raw = "First line.\r\nSame paragraph.\u2029Second\u202e paragraph.\n\n\n\n\x85Third\t end. "
    expected = "First line.\nSame paragraph.\n\nSecond paragraph.\n\nThird  end."
    assert sanitize.long_text(raw) == expected
    assert ProviderResult(provider="p", plot=raw, outline=raw, awards=raw).plot == expected
    one_line = "First line. Same paragraph. Second paragraph." + " " * 5 + "Third  end."
    assert ProviderResult(provider="p", tagline=raw).tagline == one_line


def _chars(keep: Callable[[str], bool]) -> str:
    return "".join(chr(cp) for cp in range(0x110000) if keep(chr(cp)))


def test_every_control_format_and_surrogate_character_is_removed() -> None:
    # Checked against this Python's Unicode database, so a new release cannot slip one in.
    removed = _chars(lambda ch: unicodedata.category(ch) in ("Cc", "Cf", "Cs"))
    assert len(removed) > 2000
    assert set(sanitize.one_line(f"a{removed}b")) == {"a", "b", " "}  # breaks and tab: spaces
    assert set(sanitize.paragraphs(f"a{removed}b")) <= {"a", "b", " ", "\n"}


def test_every_other_character_is_kept() -> None:
    kept = _chars(
        lambda ch: (
            unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp", "Cn")
            and not ch.isspace()
        )
    )
    assert sanitize.one_line(f"a{kept}b") == f"a{kept}b"


def test_image_safe_refuses_unknown_kinds_and_keeps_good_ones() -> None:
    assert Image.safe(provider="p", kind="cover", url="https://x.org/a.jpg") is None
    image = Image.safe(
        provider="fanart",
        kind="discart",
        url="http://assets.fanart.tv/d.png",
        language="EN",
        width="1000",
        height=-5,
        score="7.5",
        votes="1,234",
        disc_type="bluray",
    )
    assert image == Image(
        provider="fanart",
        kind="discart",
        url="https://assets.fanart.tv/d.png",
        language="en",
        width=1000,
        height=None,
        score=7.5,
        votes=1234,
        disc_type="bluray",
    )
    assert set(IMAGE_KINDS) == {
        "poster",
        "backdrop",
        "logo",
        "clearart",
        "discart",
        "thumb",
        "banner",
    }


def test_image_constructor_refuses_hostile_urls() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        Image(provider="p", kind="poster", url="javascript:alert(1)")


@pytest.mark.parametrize(
    ("value", "votes", "expected"),
    [
        ("7.1", "858,780", (7.1, 858780)),
        (10, None, (10.0, None)),
        (0, 3, (0.0, 3)),
        ("N/A", None, None),
        (11, None, None),
        (-0.5, None, None),
        (float("nan"), None, None),
        (True, None, None),
    ],
)
def test_rating_safe(
    value: object, votes: object, expected: tuple[float, int | None] | None
) -> None:
    rating = Rating.safe(source="imdb", value=value, max=10, provider="omdb", votes=votes)
    if expected is None:
        assert rating is None
    else:
        assert rating is not None
        assert (rating.value, rating.votes) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("EN", "en"), ("pt-BR", "pt-br"), ("deu", "deu"), ("00", None), ("english", None), ("", None)],
)
def test_language(raw: str, expected: str | None) -> None:
    assert ProviderResult(provider="p", language=raw).language == expected


def test_lists_are_cleaned_and_deduplicated() -> None:
    result = ProviderResult(
        provider="p",
        genres=["Action", " Action ", "N/A", "", None, "Sci-Fi", 7],
        alternative_titles="Matrix",
    )
    assert result.genres == ("Action", "Sci-Fi", "7")
    assert result.alternative_titles == ("Matrix",)
    assert ProviderResult(provider="p", genres=42).genres == ()


def test_images_keep_only_images() -> None:
    good = Image(provider="p", kind="poster", url="https://x.org/a.jpg")
    result = ProviderResult(provider="p", images=[good, None, "https://x.org/b.jpg"])
    assert result.images == (good,)


def test_people_need_a_name() -> None:
    with pytest.raises(ValueError, match="non-empty text"):
        CastMember(name=" ", provider="p")
    with pytest.raises(ValueError, match="non-empty text"):
        CrewMember(name="Lana Wachowski", job="N/A", provider="p")
    member = CastMember(name=" Keanu\x00 Reeves ", provider="p", character="N/A", order="-1")
    assert (member.name, member.character, member.order) == ("Keanu Reeves", None, None)


def test_search_hit_needs_a_title() -> None:
    with pytest.raises(ValueError, match="non-empty text"):
        SearchHit(provider="p", ids=Ids(), title="N/A")


def test_models_are_frozen() -> None:
    result = ProviderResult(provider="p", title="Heat")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.title = "Other"  # type: ignore[misc]
    assert attrs.evolve(result, runtime=-1).runtime is None  # evolve sanitises too


@given(st.text(max_size=300))
def test_text_output_is_always_clean(value: str) -> None:
    cleaned = sanitize.text(value, 200)
    if cleaned is not None:
        assert cleaned == cleaned.strip()
        assert 0 < len(cleaned) <= 200
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in cleaned)
        assert cleaned.splitlines() == [cleaned]
        assert cleaned != "N/A"


@given(st.one_of(st.integers(), st.floats(), st.text(max_size=12)))
def test_year_and_runtime_are_always_plausible(value: object) -> None:
    year = sanitize.year(value)
    runtime = sanitize.runtime(value)
    assert year is None or sanitize.MIN_YEAR <= year <= sanitize.MAX_YEAR
    assert runtime is None or 0 < runtime <= sanitize.MAX_RUNTIME


# -- JSON contract ----------------------------------------------------------------------------

IMAGE = Image(provider="tmdb", kind="poster", url="https://image.tmdb.org/p.jpg", width=1000)
RATING = Rating(source="imdb", value=8.7, max=10, provider="omdb", votes=2_000_000)
CAST = CastMember(name="Keanu Reeves", provider="tmdb", character="Neo", order=0, person_id="6384")
CREW = CrewMember(name="Lana Wachowski", job="Director", provider="tmdb", department="Directing")
IDS = Ids(tmdb=603, imdb="tt0133093", tvdb=169)
FULL: dict[str, Any] = {
    "ids": IDS,
    "title": "The Matrix",
    "original_title": "The Matrix",
    "year": 1999,
    "release_date": "1999-03-31",
    "runtime": 136,
    "plot": "A hacker learns the truth.",
    "outline": "Neo wakes up.",
    "tagline": "Welcome to the Real World.",
    "content_rating": "R",
    "genres": ["Action", "Science Fiction"],
    "collection": "The Matrix Collection",
    "awards": "Won 4 Oscars.",
    "ratings": [RATING],
    "images": [IMAGE],
    "cast": [CAST],
    "crew": [CREW],
}
MOVIE = Movie(**FULL, provenance={"title": "tmdb", "ids.imdb": "omdb"})
RESULT = ProviderResult(
    **FULL,
    provider="tmdb",
    alternative_titles=["Matrix"],
    language="en",
    raw={"movie": {"id": 603, "title": "The Matrix"}},
)
HIT = SearchHit(
    provider="tmdb",
    ids=Ids(tmdb=603),
    title="The Matrix",
    year=1999,
    original_title="The Matrix",
    alternative_titles=["Matrix"],
    poster="https://image.tmdb.org/p.jpg",
    popularity=88.5,
)
CANDIDATE = Candidate(
    title="The Matrix",
    year=1999,
    ids=IDS,
    providers=("tmdb", "omdb"),
    poster="https://image.tmdb.org/p.jpg",
    matches=True,
    score=0.05,
    components={"title": 0.0, "year": 0.05},
    notes=("title matches exactly",),
)
OUTCOMES = [
    Outcome(
        status="identified", movie=MOVIE, reasons=("found by tmdb id",), providers={"tmdb": "ok"}
    ),
    Outcome(
        status="ambiguous",
        candidates=(CANDIDATE, attrs.evolve(CANDIDATE, title="The Matrix Reloaded", score=None)),
        reasons=("two candidates match",),
        providers={"tmdb": "ok", "omdb": "rate_limited", "fanart": "disabled"},
    ),
    Outcome(status="not_found"),
]


@pytest.mark.parametrize(
    "obj",
    [IDS, Ids(), IMAGE, RATING, CAST, CREW, RESULT, HIT, MOVIE, Movie(), CANDIDATE, *OUTCOMES],
    ids=lambda obj: type(obj).__name__,
)
def test_round_trip_through_json_text(obj: Any) -> None:
    text = dumps(obj)
    data = json.loads(text)
    assert data == to_json(obj)
    assert from_json(type(obj), data) == obj


def test_provider_result_keeps_its_raw_bodies() -> None:
    back = from_json(ProviderResult, json.loads(dumps(RESULT)))
    assert back.raw == {"movie": {"id": 603, "title": "The Matrix"}}
    assert back.release_date == date(1999, 3, 31)


def test_movie_json_keys() -> None:
    assert list(to_json(MOVIE)) == [
        "ids",
        "title",
        "original_title",
        "year",
        "release_date",
        "runtime",
        "plot",
        "outline",
        "tagline",
        "content_rating",
        "genres",
        "collection",
        "awards",
        "ratings",
        "images",
        "cast",
        "crew",
        "provenance",
    ]


def test_outcome_json_keys() -> None:
    assert list(to_json(OUTCOMES[0])) == ["status", "movie", "candidates", "reasons", "providers"]


def test_candidate_json_keys() -> None:
    assert list(to_json(CANDIDATE)) == [
        "title",
        "year",
        "ids",
        "providers",
        "poster",
        "matches",
        "score",
        "components",
        "notes",
        "original_title",
        "release_date",
        "runtime",
        "directors",
        "cast",
        "outline",
        "imdb_rating",
        "imdb_votes",
        "popularity",
        "detailed",
    ]


def test_json_values_are_plain() -> None:
    data = to_json(MOVIE)
    assert data["ids"] == {"tmdb": 603, "imdb": "tt0133093", "tvdb": 169}
    assert to_json(Ids(imdb="tt0133093")) == {"tmdb": None, "imdb": "tt0133093", "tvdb": None}
    assert data["release_date"] == "1999-03-31"
    assert data["genres"] == ["Action", "Science Fiction"]
    assert data["ratings"] == [
        {"source": "imdb", "value": 8.7, "max": 10, "provider": "omdb", "votes": 2_000_000}
    ]
    assert data["provenance"] == {"title": "tmdb", "ids.imdb": "omdb"}
    assert to_json(OUTCOMES[2]) == {
        "status": "not_found",
        "movie": None,
        "candidates": [],
        "reasons": [],
        "providers": {},
    }


def test_dumps_keeps_non_ascii_text() -> None:
    text = dumps(Movie(title="Amélie"))
    assert '"title": "Amélie"' in text


def test_loading_sanitises_again() -> None:
    data = to_json(MOVIE) | {"runtime": -1, "year": 99999, "title": "N/A"}
    data["images"] = [to_json(IMAGE) | {"url": "http://image.tmdb.org/p.jpg"}]
    movie = from_json(Movie, data)
    assert (movie.runtime, movie.year, movie.title) == (None, None, None)
    assert movie.images[0].url == "https://image.tmdb.org/p.jpg"


def test_loading_rejects_invalid_ids() -> None:
    with pytest.raises(cattrs.ClassValidationError) as info:
        from_json(Movie, to_json(MOVIE) | {"ids": {"tmdb": -1}})
    assert info.group_contains(InvalidIdError, match="TMDB id -1 must be a positive integer")


def test_outcome_helpers() -> None:
    assert set(OUTCOME_STATUSES) >= {"identified", "ambiguous", "not_found", "conflict"}
    assert [Outcome(status=s).needs_person for s in ("ambiguous", "not_found", "conflict")] == [
        True,
        True,
        True,
    ]
    assert not Outcome(status="identified").needs_person
    assert not Outcome(status="rate_limited").needs_person


def test_priority_fields_are_the_merged_fields() -> None:
    data_fields = {f.name for f in attrs.fields(MovieData)} - {"ids"}
    assert set(PRIORITY_FIELDS) == data_fields | {"ids.tmdb", "ids.imdb", "ids.tvdb"}
