"""The example plugin honours the provider contract and parses the service's answer."""

from __future__ import annotations

from typing import Any

import pytest
from metarr import Ids, ProviderResult
from metarr.testing import ProviderContract, run
from metarr_example import ExampleProvider, parse

BASE = "https://ratings.test/api/v1"
BODY = {
    "imdb_id": "tt0133093",
    "title": "The Matrix",
    "year": 1999,
    "average": 4.2,
    "scale": 5,
    "votes": 1234,
}


class TestExampleContract(ProviderContract):
    factory = ExampleProvider
    name = "example"
    settings = {"api_key": "example-secret-key"}
    base_url = BASE
    known_ids = Ids(imdb="tt0133093")

    def mock_found(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(
            url=f"{BASE}/ratings/tt0133093?key=example-secret-key", json=BODY, is_reusable=True
        )


def test_parse_gives_a_community_rating() -> None:
    result = parse("example", BODY)
    assert isinstance(result, ProviderResult)
    assert result.ids == Ids(imdb="tt0133093")
    [rating] = result.ratings
    assert (rating.source, rating.value, rating.max, rating.votes) == ("community", 4.2, 5.0, 1234)


@pytest.mark.parametrize("average", [None, "n/a", 7, -1])
def test_parse_drops_impossible_ratings(average: object) -> None:
    assert parse("example", {**BODY, "average": average}).ratings == ()


def test_lookup_sends_the_key_as_query(httpx_mock: Any) -> None:
    httpx_mock.add_response(json=BODY)

    async def call(client: Any) -> Any:
        from metarr.testing import make_provider

        provider = make_provider(
            ExampleProvider, "example", {"api_key": "k-123456"}, client=client, base_url=BASE
        )
        return await provider.lookup_by_id(ids=Ids(imdb="tt0133093", tmdb=603))

    result = run(call)
    assert result is not None and result.title == "The Matrix"
    [request] = httpx_mock.get_requests()
    assert request.url.path == "/api/v1/ratings/tt0133093"
    assert request.url.params["key"] == "k-123456"
