"""search(): the request sent and the hits read from ``/search``."""

from __future__ import annotations

from typing import Any

import pytest
from metarr import Ids, SearchHit
from metarr.convert import from_json, to_json
from metarr_tvdb import TvdbProvider
from metarr_tvdb.parse import parse_search_hit


def _search(query: str, year: int | None = None) -> Any:
    async def body(provider: TvdbProvider) -> Any:
        return await provider.search(query=query, year=year)

    return body


def _serve(kit: Any, body: Any = None) -> None:
    kit.add_login()
    kit.mock.add_response(
        method="GET",
        json=body if body is not None else kit.sample("handwritten_search_the_matrix.json"),
    )


def test_search_request_parameters(kit: Any) -> None:
    _serve(kit)
    kit.call(_search("  The Matrix ", 1999))
    (request,) = kit.data_requests()
    assert request.url.path == "/v4/search"
    assert dict(request.url.params) == {
        "query": "The Matrix",
        "type": "movie",
        "year": "1999",
        "limit": "20",
    }
    assert request.headers["Authorization"] == f"Bearer {kit.TOKEN}"


def test_search_without_year_sends_none(kit: Any) -> None:
    _serve(kit)
    kit.call(_search("The Matrix"))
    (request,) = kit.data_requests()
    assert "year" not in request.url.params


def test_search_hits(kit: Any) -> None:
    _serve(kit)
    hits = kit.call(_search("The Matrix", 1999))
    assert all(isinstance(hit, SearchHit) and hit.provider == "tvdb" for hit in hits)
    assert [hit.title for hit in hits] == ["The Matrix", "Matrix", "The Matrix Reloaded"]
    matrix, german, reloaded = hits  # the series hit is dropped
    assert matrix.ids == Ids(tvdb=12345, imdb="tt0133093", tmdb=603)
    assert matrix.year == 1999
    assert matrix.original_title is None  # same as the title
    assert matrix.alternative_titles == ("Matrix",)
    assert matrix.poster == "https://artworks.thetvdb.com/banners/movies/12345/posters/12345.jpg"
    # no tvdb_id: the id comes from "movie-23456"; the poster from a host-less thumbnail
    assert german.ids == Ids(tvdb=23456, imdb="tt9999999")
    assert german.alternative_titles == ("Matrix (1998 film)",)
    assert german.poster == "https://artworks.thetvdb.com/banners/movies/23456/posters/23456_t.jpg"
    assert reloaded.ids == Ids(tvdb=34567, tmdb=604)  # "TheMovieDB" spelling
    assert reloaded.poster is None
    for hit in hits:
        assert from_json(SearchHit, to_json(hit)) == hit


def test_empty_query_sends_nothing(kit: Any) -> None:
    assert kit.call(_search("   ")) == []
    assert kit.mock.get_requests() == []


def test_no_results(kit: Any) -> None:
    _serve(kit, {"status": "success", "data": [], "links": {"total_items": 0}})
    assert kit.call(_search("Meen of Stal")) == []


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (None, None),
        ("junk", None),
        ({"type": "series", "tvdb_id": "1", "name": "A Series"}, None),
        ({"tvdb_id": "1", "name": "No Type"}, None),
        ({"type": "movie", "name": "No Id"}, None),
        ({"type": "movie", "tvdb_id": "0", "name": "Bad Id"}, None),
        ({"type": "movie", "tvdb_id": "5"}, None),
        ({"type": "movie", "tvdb_id": "5", "name": "", "translations": {"eng": "Eng"}}, "Eng"),
        ({"type": "movie", "objectID": "movie-7", "name": "By Object Id"}, "By Object Id"),
        (
            {
                "type": "movie",
                "remote_ids": [{"id": "tt0133093", "sourceName": "IMDB"}],
                "name": "X",
            },
            "X",
        ),
    ],
)
def test_search_hit_edge_cases(item: Any, expected: str | None) -> None:
    hit = parse_search_hit(item, "tvdb")
    assert (hit.title if hit else None) == expected


def test_search_hit_original_title_from_primary_language() -> None:
    hit = parse_search_hit(
        {
            "type": "movie",
            "tvdb_id": "9",
            "name": "Amélie",
            "primary_language": "fra",
            "translations": {"fra": "Le Fabuleux Destin d'Amélie Poulain", "eng": "Amélie"},
            "aliases": [{"name": "Amelie"}, 5, None],
            "year": "2001",
        },
        "tvdb",
    )
    assert hit is not None
    assert hit.original_title == "Le Fabuleux Destin d'Amélie Poulain"
    assert hit.alternative_titles == ("Amelie",)
    assert hit.year == 2001
