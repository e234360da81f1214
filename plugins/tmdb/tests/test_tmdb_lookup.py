"""lookup_by_id: request shapes, the parsed record, not-found paths and defensive parsing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from metarr import CastMember, CrewMember, Ids, Image, InvalidResponseError, Rating

# -- request shapes ------------------------------------------------------------------------


def test_tmdb_id_lookup_is_one_request_with_exact_params(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, fight_club: dict[str, Any], creds: dict[str, str]
) -> None:
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=fight_club)
    result = tmdb.lookup(tmdb=550)
    assert result is not None
    [request] = httpx_mock.get_requests()
    assert request.method == "GET"
    assert request.url.path == "/3/movie/550"
    assert dict(request.url.params) == {
        "append_to_response": creds["append"],
        "include_image_language": "en,null",
        "language": "en",
        "api_key": creds["api_key"],
    }
    assert request.headers["Accept"] == "application/json"
    assert "Authorization" not in request.headers
    assert result.raw == {"movie": fight_club}


def test_imdb_only_lookup_finds_then_fetches(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any], creds: dict[str, str]
) -> None:
    found = sample("tmdb_find_tt0936501_imdb_id.json")  # real: tt0936501 → 8681 (Taken)
    # Hand-written minimal details body for 8681: there is no recording of that movie.
    movie = {"id": 8681, "imdb_id": "tt0936501", "title": "Taken", "release_date": "2008-02-18"}
    httpx_mock.add_response(url=tmdb_url("/find/tt0936501"), json=found)
    httpx_mock.add_response(url=tmdb_url("/movie/8681"), json=movie)
    result = tmdb.lookup(imdb="tt0936501")
    assert result is not None
    assert result.ids == Ids(tmdb=8681, imdb="tt0936501")
    assert result.title == "Taken"
    assert result.year == 2008
    find, details = httpx_mock.get_requests()
    assert find.url.path == "/3/find/tt0936501"
    assert dict(find.url.params) == {"external_source": "imdb_id", "api_key": creds["api_key"]}
    assert details.url.path == "/3/movie/8681"
    assert dict(details.url.params) == {
        "append_to_response": creds["append"],
        "include_image_language": "en,null",
        "language": "en",
        "api_key": creds["api_key"],
    }
    assert list(result.raw) == ["find", "movie"]
    assert result.raw == {"find": found, "movie": movie}


def test_tmdb_id_wins_when_both_are_given(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, fight_club: dict[str, Any]
) -> None:
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=fight_club)
    result = tmdb.lookup(tmdb=550, imdb="tt0137523")
    assert result is not None
    assert [r.url.path for r in httpx_mock.get_requests()] == ["/3/movie/550"]


def test_other_language_is_sent_and_images_keep_textless(
    httpx_mock: Any, make_tmdb: Any, tmdb_url: Any, fight_club: dict[str, Any]
) -> None:
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=fight_club)
    result = make_tmdb(language="de-DE").lookup(tmdb=550)
    [request] = httpx_mock.get_requests()
    assert request.url.params["language"] == "de-DE"
    assert request.url.params["include_image_language"] == "de,null"
    assert result is not None
    assert result.language == "de-de"


def test_only_a_tvdb_id_gives_none_without_a_request(httpx_mock: Any, tmdb: Any) -> None:
    assert tmdb.lookup(tvdb=81189) is None
    assert httpx_mock.get_requests() == []


# -- the parsed record ---------------------------------------------------------------------


def test_fight_club_record(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, fight_club: dict[str, Any]
) -> None:
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=fight_club)
    result = tmdb.lookup(tmdb=550)
    assert result is not None
    assert result.provider == "tmdb"
    assert result.ids == Ids(tmdb=550, imdb="tt0137523")
    assert result.title == "Fight Club"
    assert result.original_title == "Fight Club"
    assert result.year == 1999
    assert result.release_date == date(1999, 10, 15)
    assert result.runtime == 139
    assert result.plot is not None
    assert result.plot.startswith("A ticking-time-bomb insomniac")
    assert result.tagline == "Mischief. Mayhem. Soap."
    # US entries: two premieres without certification, type 3 "R", type 5 "R".
    assert result.content_rating == "R"
    assert result.genres == ("Drama",)
    assert result.collection is None
    assert result.language == "en"
    assert result.ratings == (
        Rating(source="tmdb", value=8.44, max=10, provider="tmdb", votes=27917),
    )
    # original_title equals title, so only the 18 recorded alternative titles (deduplicated).
    assert "Fight Club" not in result.alternative_titles
    assert "Boytsovskiy klub" in result.alternative_titles
    assert "Mo'adon Krav" in result.alternative_titles


def test_fight_club_images(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, fight_club: dict[str, Any]
) -> None:
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=fight_club)
    result = tmdb.lookup(tmdb=550)
    assert result is not None
    kinds = [image.kind for image in result.images]
    assert kinds.count("poster") == len(fight_club["images"]["posters"]) == 102
    assert kinds.count("backdrop") == len(fight_club["images"]["backdrops"]) == 55
    assert kinds.count("logo") == len(fight_club["images"]["logos"]) == 45
    assert result.images[0] == Image(
        provider="tmdb",
        kind="poster",
        url="https://image.tmdb.org/t/p/original/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg",
        language="en",
        width=2000,
        height=3000,
        score=5.35,
        votes=56,
    )
    backdrop = next(image for image in result.images if image.kind == "backdrop")
    assert backdrop.url == "https://image.tmdb.org/t/p/original/hZkgoQYus5vegHoetLkCJzb17zJ.jpg"
    assert backdrop.language is None  # iso_639_1 null = textless
    assert all(
        image.url.startswith("https://image.tmdb.org/t/p/original/") for image in result.images
    )


def test_image_size_and_base_url_settings(
    httpx_mock: Any, make_tmdb: Any, tmdb_url: Any, fight_club: dict[str, Any], creds: Any
) -> None:
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=fight_club)
    tmdb = make_tmdb(
        settings={
            "api_key": creds["api_key"],
            "image_size": "w780",
            "image_base_url": "https://cdn.example.test/tmdb",
        }
    )
    result = tmdb.lookup(tmdb=550)
    assert result is not None
    assert (
        result.images[0].url == "https://cdn.example.test/tmdb/w780/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"
    )


def test_fight_club_credits(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, fight_club: dict[str, Any]
) -> None:
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=fight_club)
    result = tmdb.lookup(tmdb=550)
    assert result is not None
    assert len(result.cast) == 76
    assert len(result.crew) == 187
    assert result.cast[0] == CastMember(
        name="Edward Norton", provider="tmdb", character="Narrator", order=0, person_id="819"
    )
    assert (
        CrewMember(
            name="David Fincher",
            job="Director",
            provider="tmdb",
            department="Directing",
            person_id="7467",
        )
        in result.crew
    )


def test_record_with_appended_external_ids_and_no_images_block(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    body = sample("tmdb_movie_49521_append_external_ids.json")  # real 2025 appended body
    httpx_mock.add_response(url=tmdb_url("/movie/49521"), json=body)
    result = tmdb.lookup(tmdb=49521)
    assert result is not None
    assert result.ids == Ids(tmdb=49521, imdb="tt0770828")
    assert result.collection == "Man of Steel Collection"
    assert result.genres == ("Action", "Adventure", "Science Fiction")
    assert result.content_rating is None  # no release_dates block
    assert result.cast == ()
    assert result.crew == ()
    # No images block: the record's own poster and backdrop, language unknown.
    assert [(i.kind, i.url, i.language) for i in result.images] == [
        ("poster", "https://image.tmdb.org/t/p/original/dksTL9NXc3GqPBRHYHcy1aIwjS.jpg", None),
        ("backdrop", "https://image.tmdb.org/t/p/original/69EFgWWPFWbRNHmQgYdSnyJ94Ge.jpg", None),
    ]


def test_imdb_id_from_external_ids_when_imdb_id_is_missing(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    body = sample("tmdb_movie_49521_append_external_ids.json")
    del body["imdb_id"]  # hand-edited: only the external_ids block states it
    httpx_mock.add_response(url=tmdb_url("/movie/49521"), json=body)
    result = tmdb.lookup(tmdb=49521)
    assert result is not None
    assert result.ids == Ids(tmdb=49521, imdb="tt0770828")


def test_alternative_titles_2017_shape(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    body = sample("tmdb_movie_603_append_alternative_titles_2017.json")  # titles lack "type"
    httpx_mock.add_response(url=tmdb_url("/movie/603"), json=body)
    result = tmdb.lookup(tmdb=603)
    assert result is not None
    assert result.alternative_titles == ("المتمرد", "The Matrix 1")
    assert result.collection == "The Matrix Collection"
    assert result.runtime == 136


def test_original_title_joins_alternative_titles(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    body = sample("tmdb_movie_603_append_alternative_titles_2017.json")
    body["title"] = "Matrix"  # hand-edited: a localised title differing from the original
    httpx_mock.add_response(url=tmdb_url("/movie/603"), json=body)
    result = tmdb.lookup(tmdb=603)
    assert result is not None
    assert result.alternative_titles[0] == "The Matrix"


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        # Hand-written release_dates blocks.
        (
            [
                {"certification": "PG", "type": 5},
                {"certification": "R", "type": 3},
            ],
            "R",
        ),
        ([{"certification": "", "type": 3}, {"certification": "NC-17", "type": 4}], "NC-17"),
        ([{"certification": "", "type": 3}], None),
        ([{"certification": 17, "type": 3}, "junk"], None),
    ],
)
def test_content_rating_prefers_us_theatrical(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, dates: list[Any], expected: str | None
) -> None:
    body = {
        "id": 1,
        "title": "Hand-written",
        "release_dates": {
            "results": [
                {"iso_3166_1": "DE", "release_dates": [{"certification": "16", "type": 3}]},
                {"iso_3166_1": "US", "release_dates": dates},
            ]
        },
    }
    httpx_mock.add_response(url=tmdb_url("/movie/1"), json=body)
    result = tmdb.lookup(tmdb=1)
    assert result is not None
    assert result.content_rating == expected


# -- not found -----------------------------------------------------------------------------


def test_movie_404_gives_none(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/movie/999999999"), status_code=404, json=sample("tmdb_error_not_found.json")
    )
    assert tmdb.lookup(tmdb=999999999) is None


def test_404_with_code_6_gives_none(httpx_mock: Any, tmdb: Any, tmdb_url: Any) -> None:
    # Hand-written envelope: TMDB code 6 "invalid id" (API.md §1.6).
    body = {"success": False, "status_code": 6, "status_message": "Invalid id."}
    httpx_mock.add_response(url=tmdb_url("/movie/5"), status_code=404, json=body)
    assert tmdb.lookup(tmdb=5) is None


def test_find_with_no_movie_results_gives_none(httpx_mock: Any, tmdb: Any, tmdb_url: Any) -> None:
    # Hand-written: API.md says no match is HTTP 200 with empty arrays (not recorded).
    empty = {
        "movie_results": [],
        "person_results": [],
        "tv_results": [],
        "tv_episode_results": [],
        "tv_season_results": [],
    }
    httpx_mock.add_response(url=tmdb_url("/find/tt9999999"), json=empty)
    assert tmdb.lookup(imdb="tt9999999") is None
    assert len(httpx_mock.get_requests()) == 1


def test_find_404_gives_none(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/find/tt9999999"), status_code=404, json=sample("tmdb_error_not_found.json")
    )
    assert tmdb.lookup(imdb="tt9999999") is None


def test_found_id_whose_details_are_gone_gives_none(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    found = sample("tmdb_find_imdb_id_movie_result.json")  # real 2025 answer → 1233413
    httpx_mock.add_response(url=tmdb_url("/find/tt31193180"), json=found)
    httpx_mock.add_response(
        url=tmdb_url("/movie/1233413"), status_code=404, json=sample("tmdb_error_not_found.json")
    )
    assert tmdb.lookup(imdb="tt31193180") is None
    assert [r.url.path for r in httpx_mock.get_requests()] == [
        "/3/find/tt31193180",
        "/3/movie/1233413",
    ]


# -- wrong shapes and hostile values -------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        # Hand-written wrong shapes.
        ["not", "an", "object"],
        "a string",
        None,
        {"title": "no id"},
        {"id": "550"},
        {"id": -1},
        {"id": True},
    ],
)
def test_movie_body_of_wrong_shape_is_invalid_response(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, body: Any
) -> None:
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=body)
    with pytest.raises(InvalidResponseError):
        tmdb.lookup(tmdb=550)


@pytest.mark.parametrize(
    "body",
    [
        # Hand-written wrong shapes.
        [],
        {"person_results": []},
        {"movie_results": {"id": 550}},
        {"movie_results": [{"title": "no id"}, "junk"]},
    ],
)
def test_find_body_of_wrong_shape_is_invalid_response(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, body: Any
) -> None:
    httpx_mock.add_response(url=tmdb_url("/find/tt0137523"), json=body)
    with pytest.raises(InvalidResponseError):
        tmdb.lookup(imdb="tt0137523")


def test_find_skips_entries_without_an_id(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, fight_club: dict[str, Any]
) -> None:
    # Hand-written /find answer whose first entry is unusable.
    found = {"movie_results": [{"id": None}, {"id": 550}]}
    httpx_mock.add_response(url=tmdb_url("/find/tt0137523"), json=found)
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=fight_club)
    result = tmdb.lookup(imdb="tt0137523")
    assert result is not None
    assert result.ids.tmdb == 550


def test_hostile_and_missing_fields_are_dropped(httpx_mock: Any, tmdb: Any, tmdb_url: Any) -> None:
    # Hand-written: every optional field missing, null or of the wrong type.
    body = {
        "id": 42,
        "imdb_id": "not-an-imdb-id",
        "title": "  Hand-written  ",
        "original_title": None,
        "release_date": "",
        "runtime": 0,
        "overview": 12,
        "tagline": "",
        "genres": "Drama",
        "belongs_to_collection": "nope",
        "vote_average": 7.5,
        "vote_count": 0,
        "poster_path": "javascript:alert(1)",
        "backdrop_path": None,
        "external_ids": [],
        "credits": {
            "cast": [{"name": ""}, {"name": "Real Person", "id": "x", "order": -3}, 7],
            "crew": [{"name": "No Job"}, {"name": "Jo", "job": "Editor", "id": 9}],
        },
        "images": {
            "posters": [
                {"file_path": "no-leading-slash.jpg"},
                {"file_path": "/has space.jpg"},
                {"file_path": "/ok.jpg", "width": "wide", "iso_639_1": "xx", "vote_count": -5},
            ],
            "backdrops": "junk",
            "logos": None,
        },
        "release_dates": {"results": "junk"},
        "alternative_titles": {"titles": [{"title": None}, {"title": "Alt"}, "junk"]},
    }
    httpx_mock.add_response(url=tmdb_url("/movie/42"), json=body)
    result = tmdb.lookup(tmdb=42)
    assert result is not None
    assert result.ids == Ids(tmdb=42)
    assert result.title == "Hand-written"
    assert result.original_title is None
    assert result.year is None
    assert result.release_date is None
    assert result.runtime is None
    assert result.plot == "12"  # numbers become text; sanitising is the models' job
    assert result.tagline is None
    assert result.genres == ()
    assert result.collection is None
    assert result.ratings == ()
    assert result.content_rating is None
    assert [c.name for c in result.cast] == ["Real Person"]
    assert result.cast[0].person_id is None
    assert result.cast[0].order is None
    assert [(c.name, c.person_id) for c in result.crew] == [("Jo", "9")]
    assert [(i.kind, i.url, i.width, i.language, i.votes) for i in result.images] == [
        ("poster", "https://image.tmdb.org/t/p/original/ok.jpg", None, None, None)
    ]
    assert result.alternative_titles == ("Alt",)


def test_null_runtime_and_votes(httpx_mock: Any, tmdb: Any, tmdb_url: Any) -> None:
    # Hand-written: nulls where numbers belong.
    body = {"id": 7, "title": "T", "runtime": None, "vote_average": None, "vote_count": 10}
    httpx_mock.add_response(url=tmdb_url("/movie/7"), json=body)
    result = tmdb.lookup(tmdb=7)
    assert result is not None
    assert result.runtime is None
    assert result.ratings == ()


@pytest.mark.parametrize(
    "body", [{"error": "not a route"}, {"status_code": 7, "status_message": "Invalid API key"}]
)
def test_404_without_tmdbs_not_found_code_is_a_bad_response(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, body: Any
) -> None:
    """A base URL missing ``/3`` answers 404 to everything: an error naming the setting to
    check, never "no such movie" (which the cache keeps as settled)."""
    from metarr import InvalidResponseError

    httpx_mock.add_response(url=tmdb_url("/movie/603"), status_code=404, json=body)
    with pytest.raises(InvalidResponseError, match="METARR_TMDB_BASE_URL"):
        tmdb.lookup(tmdb=603)
