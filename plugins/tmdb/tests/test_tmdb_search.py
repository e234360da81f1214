"""search: request shape, hits from the recorded pages, empty and malformed answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from metarr import Ids, InvalidResponseError, SearchHit


def test_search_with_year_sends_exact_params(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any], creds: Any
) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/search/movie"), json=sample("tmdb_search_movie_man_of_steel_year_2013.json")
    )
    hits = tmdb.search("Man of Steel", 2013)
    [request] = httpx_mock.get_requests()
    assert request.url.path == "/3/search/movie"
    assert dict(request.url.params) == {
        "query": "Man of Steel",
        "year": "2013",
        "include_adult": "false",
        "language": "en",
        "page": "1",
        "api_key": creds["api_key"],
    }
    assert hits == [
        SearchHit(
            provider="tmdb",
            ids=Ids(tmdb=49521),
            title="Man of Steel",
            original_title="Man of Steel",
            year=2013,
            poster="https://image.tmdb.org/t/p/w342/dksTL9NXc3GqPBRHYHcy1aIwjS.jpg",
            popularity=50.299,
            release_date="2013-06-12",
            outline=(
                "A young boy learns that he has extraordinary powers and is not of this earth. "
                "As a young man, he journeys to discover where he came from and what he was "
                "sent here to do. But the hero in him must emerge if he is to save the world "
                "from annihilation and become the symbol of hope for all mankind."
            ),
        )
    ]


def test_search_without_year_keeps_tmdb_order(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    body = sample("tmdb_search_movie_man_of_steel.json")
    httpx_mock.add_response(url=tmdb_url("/search/movie"), json=body)
    hits = tmdb.search("  Man of Steel ")
    [request] = httpx_mock.get_requests()
    assert "year" not in request.url.params
    assert request.url.params["query"] == "Man of Steel"
    assert [hit.ids.tmdb for hit in hits] == [item["id"] for item in body["results"]]
    assert [(hit.title, hit.year) for hit in hits[:3]] == [
        ("Man of Steel", 2013),
        ("Man of Steel", 1967),
        ("Man of Steel", 1999),
    ]
    no_poster = next(hit for hit in hits if hit.ids.tmdb == 1276700)  # poster_path null
    assert no_poster.poster is None


def test_search_language_is_the_context_language(
    httpx_mock: Any, make_tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/search/movie"), json=sample("tmdb_search_movie_no_results.json")
    )
    assert make_tmdb(language="fr").search("Le Samouraï", 1967) == []
    [request] = httpx_mock.get_requests()
    assert request.url.params["language"] == "fr"


def test_no_results_gives_empty_list(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/search/movie"), json=sample("tmdb_search_movie_no_results.json")
    )
    assert tmdb.search("Meen of Stal") == []


@pytest.mark.parametrize("query", ["", "   "])
def test_blank_query_gives_empty_list_without_a_request(
    httpx_mock: Any, tmdb: Any, query: str
) -> None:
    assert tmdb.search(query) == []
    assert httpx_mock.get_requests() == []


def test_search_404_gives_empty_list(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/search/movie"), status_code=404, json=sample("tmdb_error_not_found.json")
    )
    assert tmdb.search("Heat") == []


def test_validation_error_is_invalid_response(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Callable[[str], Any]
) -> None:
    # Real body; its HTTP status was not recorded, 422 is our choice (TMDB's "invalid params").
    httpx_mock.add_response(
        url=tmdb_url("/search/movie"),
        status_code=422,
        json=sample("tmdb_error_search_without_query.json"),
    )
    with pytest.raises(InvalidResponseError, match=r"request refused \(HTTP 422\)"):
        tmdb.search("Heat")


@pytest.mark.parametrize(
    "body",
    # Hand-written wrong shapes.
    [[], {"page": 1}, {"results": {"id": 1}}, {"results": None}, "results"],
)
def test_wrong_shape_is_invalid_response(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, body: Any
) -> None:
    httpx_mock.add_response(url=tmdb_url("/search/movie"), json=body)
    with pytest.raises(InvalidResponseError):
        tmdb.search("Heat")


def test_unusable_hits_are_skipped(httpx_mock: Any, tmdb: Any, tmdb_url: Any) -> None:
    # Hand-written page: entries without an id or a title, junk, and one good hit.
    body = {
        "results": [
            {"title": "No id"},
            {"id": 1, "title": ""},
            {"id": 2},
            "junk",
            {"id": 949, "title": "Heat", "release_date": "1995-12-15", "poster_path": 5},
        ]
    }
    httpx_mock.add_response(url=tmdb_url("/search/movie"), json=body)
    hits = tmdb.search("Heat", 1995)
    assert [(hit.ids.tmdb, hit.title, hit.year, hit.poster) for hit in hits] == [
        (949, "Heat", 1995, None)
    ]
