"""The parser: the real series sample for the shared blocks, hand-written movie fixtures."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from metarr import CastMember, CrewMember, Ids, InvalidResponseError
from metarr.convert import from_json, to_json
from metarr.models import ProviderResult
from metarr_tvdb.parse import (
    SERIES_ARTWORK_TYPES,
    artwork_url,
    parse_images,
    parse_movie,
    parse_people,
    remote_ids,
    unwrap,
)

SERIES = "tvdb_series_373426_extended.json"
MOVIE = "handwritten_movie_12345_extended.json"


def _data(kit: Any, name: str) -> dict[str, Any]:
    return unwrap("tvdb", kit.sample(name), dict, "test")


# -- the real series sample: shared blocks ----------------------------------------------------


def test_series_sample_envelope_unwraps(kit: Any) -> None:
    data = _data(kit, SERIES)
    assert data["id"] == 373426


def test_series_artworks_with_series_type_ids(kit: Any) -> None:
    record = _data(kit, SERIES)
    images = parse_images(record, "tvdb", SERIES_ARTWORK_TYPES)
    # 7 artworks: types 2 (poster), 3 x3 (backdrop), 5 x2 (icon) and 6 are not mapped.
    assert [image.kind for image in images] == ["poster", "backdrop", "backdrop", "backdrop"]
    poster = images[0]
    assert poster.url == record["image"]  # the record's own image, with its artwork's details
    assert (poster.width, poster.height, poster.score, poster.language) == (
        680,
        1000,
        100001,
        "eng",
    )
    assert all(image.provider == "tvdb" for image in images)
    assert all(image.url.startswith("https://artworks.thetvdb.com/banners/") for image in images)
    assert {image.language for image in images} == {"eng"}  # 3-letter codes kept
    backdrop = images[1]
    assert (backdrop.width, backdrop.height) == (1920, 1080)


def test_series_artworks_with_movie_type_ids_keep_only_the_record_image(kit: Any) -> None:
    record = _data(kit, SERIES)
    images = parse_images(record, "tvdb")
    assert len(images) == 1
    assert images[0].kind == "poster"
    assert images[0].url == record["image"]
    assert images[0].score is None


def test_series_remote_ids_have_no_imdb_or_tmdb(kit: Any) -> None:
    record = _data(kit, SERIES)
    assert [e["sourceName"] for e in record["remoteIds"]] == ["Official Website", "Youtube"]
    assert remote_ids(record["remoteIds"]) == {}


def test_series_characters(kit: Any) -> None:
    cast, crew = parse_people(_data(kit, SERIES)["characters"], "tvdb")
    assert cast == [
        CastMember(
            name="Adam Savage", provider="tvdb", character="Host", order=0, person_id="321343"
        )
    ]
    assert crew == []


def test_series_content_rating_with_lowercase_fullname(kit: Any) -> None:
    record = _data(kit, SERIES)
    assert "fullname" in record["contentRatings"][0]
    assert "fullName" not in record["contentRatings"][0]
    assert parse_movie(record, "tvdb").content_rating == "TV-G"
    record["contentRatings"][0]["name"] = None
    record["contentRatings"][0]["fullname"] = "TV-G (All Ages)"
    assert parse_movie(record, "tvdb").content_rating == "TV-G (All Ages)"


def test_series_record_parses_as_a_whole(kit: Any) -> None:
    record = _data(kit, SERIES)
    result = parse_movie(record, "tvdb", artwork_types=SERIES_ARTWORK_TYPES)
    assert result.title == "Adam Savage’s Tested"
    assert result.year == 2013
    assert result.ids == Ids(tvdb=373426)
    assert result.genres == ("Documentary",)
    assert result.plot is not None
    assert result.plot.startswith("Host of Discovery Channel")  # series records have `overview`
    assert "Adam Savage's One Day Builds" in result.alternative_titles
    assert from_json(ProviderResult, to_json(result)) == result


# -- the hand-written movie record ------------------------------------------------------------


@pytest.fixture
def matrix(kit: Any) -> ProviderResult:
    """The parsed hand-written Matrix record."""
    return parse_movie(_data(kit, MOVIE), "tvdb")


def test_movie_texts_prefer_english(matrix: ProviderResult) -> None:
    assert matrix.title == "The Matrix"
    assert matrix.original_title == "The Matrix"
    assert matrix.plot is not None
    assert matrix.plot.startswith("Set in the 22nd century")
    assert matrix.tagline == "Welcome to the Real World."
    assert matrix.language == "en"
    assert matrix.year == 1999
    assert matrix.runtime == 136
    assert matrix.genres == ("Action", "Science Fiction")
    assert matrix.content_rating == "R"
    assert matrix.release_date == date(1999, 3, 31)


def test_movie_alternative_titles(matrix: ProviderResult) -> None:
    assert matrix.alternative_titles == ("Matrix", "Matrix (1999)")


def test_movie_ids(matrix: ProviderResult) -> None:
    assert matrix.ids == Ids(tvdb=12345, imdb="tt0133093", tmdb=603)


def test_movie_images(matrix: ProviderResult) -> None:
    host = "https://artworks.thetvdb.com/banners/movies/12345"
    got = [(i.kind, i.url, i.language, i.score) for i in matrix.images]
    assert got == [
        ("poster", f"{host}/posters/12345.jpg", "eng", 100000),
        ("poster", f"{host}/posters/second.jpg", "deu", 200000),  # host added
        ("backdrop", f"{host}/backgrounds/bg.jpg", None, 50000),  # textless
        ("banner", f"{host}/banners/banner.jpg", "eng", 100),  # host added
        ("logo", f"{host}/clearlogo/logo.png", "eng", 20),
        ("clearart", f"{host}/clearart/art.png", "eng", 10),
    ]  # the cinemagraph (type 21) and the javascript: URL are skipped
    assert (matrix.images[2].width, matrix.images[2].height) == (1920, 1080)


def test_movie_people(matrix: ProviderResult) -> None:
    assert [(c.name, c.character, c.order, c.person_id) for c in matrix.cast] == [
        ("Keanu Reeves", "Neo", 0, "201"),
        ("Laurence Fishburne", "Morpheus", 1, "202"),
    ]  # sorted by `sort`; the actor without a personName is skipped
    assert matrix.crew == (
        CrewMember(
            name="Lana Wachowski",
            job="Director",
            provider="tvdb",
            department="Directing",
            person_id="203",
        ),
        CrewMember(
            name="Lana Wachowski",
            job="Writer",
            provider="tvdb",
            department="Writing",
            person_id="203",
        ),
        CrewMember(
            name="Joel Silver",
            job="Producer",
            provider="tvdb",
            department="Production",
            person_id="204",
        ),
    )


def test_movie_round_trips(matrix: ProviderResult) -> None:
    assert from_json(ProviderResult, to_json(matrix)) == matrix


def test_non_english_original_title_and_missing_english(kit: Any) -> None:
    record = _data(kit, MOVIE)
    record["name"] = "Das Boot"
    record["originalLanguage"] = "deu"
    record["translations"] = {
        "nameTranslations": [{"language": "deu", "name": "Das Boot", "isPrimary": True}],
        "overviewTranslations": [{"language": "deu", "overview": "Ein U-Boot."}],
    }
    result = parse_movie(record, "tvdb")
    assert result.title == "Das Boot"
    assert result.original_title == "Das Boot"
    assert result.plot is None  # no English overview, and the record's language is not English
    assert result.tagline is None
    assert result.language is None


def test_english_translation_title_with_foreign_original(kit: Any) -> None:
    record = _data(kit, MOVIE)
    record["name"] = "Le Fabuleux Destin d'Amélie Poulain"
    record["originalLanguage"] = "fra"
    record["translations"]["nameTranslations"] = [
        {"language": "fra", "name": "Le Fabuleux Destin d'Amélie Poulain"},
        {"language": "eng", "name": "Amélie"},
    ]
    result = parse_movie(record, "tvdb")
    assert result.title == "Amélie"
    assert result.original_title == "Le Fabuleux Destin d'Amélie Poulain"
    assert "Le Fabuleux Destin d'Amélie Poulain" in result.alternative_titles
    assert "Amélie" not in result.alternative_titles


# -- release dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("releases", "first", "expected"),
    [
        (
            [{"country": "usa", "date": "1999-03-31"}, {"country": "global", "date": "1999-03-30"}],
            None,
            date(1999, 3, 30),
        ),
        (
            [{"country": "aus", "date": "1999-04-08"}, {"country": "usa", "date": "1999-05-01"}],
            None,
            date(1999, 5, 1),
        ),
        (
            [{"country": "aus", "date": "1999-04-08"}, {"country": "deu", "date": "1999-06-17"}],
            None,
            date(1999, 4, 8),
        ),
        ([], {"country": "global", "date": "2001-02-03", "detail": None}, date(2001, 2, 3)),
        ([{"country": "global", "date": "not a date"}], None, None),
        ("not a list", "not an object", None),
    ],
)
def test_release_date_preference(kit: Any, releases: Any, first: Any, expected: Any) -> None:
    record = _data(kit, MOVIE)
    record["releases"] = releases
    record["first_release"] = first
    assert parse_movie(record, "tvdb").release_date == expected


def test_year_falls_back_to_the_release_date(kit: Any) -> None:
    record = _data(kit, MOVIE)
    record["year"] = None
    assert parse_movie(record, "tvdb").year == 1999


# -- building blocks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "https://artworks.thetvdb.com/banners/a.jpg",
            "https://artworks.thetvdb.com/banners/a.jpg",
        ),
        ("/banners/a.jpg", "https://artworks.thetvdb.com/banners/a.jpg"),
        ("banners/a.jpg", "https://artworks.thetvdb.com/banners/a.jpg"),
        ("//artworks.thetvdb.com/banners/a.jpg", "https://artworks.thetvdb.com/banners/a.jpg"),
        ("http://artworks.thetvdb.com/banners/a.jpg", "https://artworks.thetvdb.com/banners/a.jpg"),
        ("", None),
        (None, None),
        (42, None),
        ("javascript:alert(1)", None),
        ("ftp://example.com/a.jpg", None),
    ],
)
def test_artwork_url(value: Any, expected: str | None) -> None:
    assert artwork_url(value) == expected


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("IMDB", "imdb"),
        ("imdb", "imdb"),
        ("TheMovieDB.com", "tmdb"),
        ("TheMovieDB", "tmdb"),
        ("TheMovieDB.org", "tmdb"),
        ("TMDB", "tmdb"),
        ("EIDR", None),
        ("Wikidata", None),
        (None, None),
    ],
)
def test_remote_id_source_names(source: Any, kind: str | None) -> None:
    value = "tt0133093" if kind == "imdb" else "603"
    found = remote_ids([{"id": value, "type": 2, "sourceName": source}])
    assert found == ({kind: value} if kind else {})


def test_remote_ids_ignore_junk_and_keep_the_first() -> None:
    entries = [
        "junk",
        {"id": None, "sourceName": "IMDB"},
        {"id": True, "sourceName": "TheMovieDB.com"},
        {"id": "not-an-id", "sourceName": "IMDB"},
        {"id": "tt0133093", "sourceName": "IMDB"},
        {"id": "tt0234215", "sourceName": "IMDB"},
        {"id": 603, "sourceName": "TheMovieDB.com"},
    ]
    assert remote_ids(entries) == {"imdb": "tt0133093", "tmdb": "603"}
    assert remote_ids("not a list") == {}


def test_people_ignore_junk() -> None:
    cast, crew = parse_people(
        [
            None,
            "junk",
            {"personName": "No Type"},
            {"peopleType": "Actor"},
            {"personName": "Guest", "peopleType": "Guest Star", "name": "Cameo", "sort": -1},
            {"personName": "Crew Person", "peopleType": "Crew", "peopleId": True},
        ],
        "tvdb",
    )
    assert [(c.name, c.character, c.order) for c in cast] == [("Guest", "Cameo", None)]
    assert [(c.name, c.job, c.department, c.person_id) for c in crew] == [
        ("Crew Person", "Crew", None, None)
    ]
    assert parse_people({"not": "a list"}, "tvdb") == ([], [])


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"id": 1},
        {
            "id": "x",
            "name": 5,
            "year": "abcd",
            "runtime": -3,
            "artworks": "nope",
            "characters": {},
            "genres": [None, {"name": None}, {"name": "Drama"}],
            "translations": [],
            "aliases": "nope",
            "contentRatings": [{"country": "usa"}],
            "remoteIds": None,
        },
    ],
)
def test_movie_parser_tolerates_missing_and_wrong_fields(record: dict[str, Any]) -> None:
    result = parse_movie(record, "tvdb")
    assert result.provider == "tvdb"
    assert result.runtime is None
    assert from_json(ProviderResult, to_json(result)) == result


def test_unwrap_rejects_wrong_shapes() -> None:
    with pytest.raises(InvalidResponseError, match="expected list"):
        unwrap("tvdb", {"status": "success", "data": {}}, list, "search")
    with pytest.raises(InvalidResponseError, match=r"'failure'.*NotFoundException"):
        unwrap("tvdb", {"status": "failure", "message": "NotFoundException: x"}, dict, "movie")
    with pytest.raises(InvalidResponseError, match="object envelope"):
        unwrap("tvdb", [], dict, "movie")
