"""lookup_by_id and search over HTTP: the paths taken and every error path."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from metarr import (
    Ids,
    InvalidResponseError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    UnavailableError,
)
from metarr_tvdb import TvdbProvider

MATRIX = Ids(tvdb=12345, imdb="tt0133093", tmdb=603)


def _lookup(ids: Ids) -> Any:
    async def body(provider: TvdbProvider) -> Any:
        return await provider.lookup_by_id(ids=ids)

    return body


def _search(query: str, year: int | None = None) -> Any:
    async def body(provider: TvdbProvider) -> Any:
        return await provider.search(query=query, year=year)

    return body


# -- lookup paths -----------------------------------------------------------------------------


def test_lookup_by_tvdb_id(kit: Any) -> None:
    kit.add_login()
    kit.add_movie()
    result = kit.call(_lookup(Ids(tvdb=12345)))
    assert result.provider == "tvdb"
    assert result.ids == MATRIX
    assert result.title == "The Matrix"
    assert set(result.raw) == {"movie"}
    assert result.raw["movie"]["id"] == 12345
    (request,) = kit.data_requests()
    assert request.url.params["meta"] == "translations"


def test_tvdb_id_wins_over_imdb(kit: Any) -> None:
    kit.add_login()
    kit.add_movie()
    assert kit.call(_lookup(Ids(tvdb=12345, imdb="tt0133093"))) is not None
    assert [r.url.path for r in kit.data_requests()] == ["/v4/movies/12345/extended"]


def test_lookup_by_imdb_picks_the_movie_entry(kit: Any) -> None:
    """data[0] is a season, data[1] a series: only the ``movie`` entry counts."""
    kit.add_login()
    remote = kit.sample("handwritten_remoteid_tt0133093.json")
    kit.mock.add_response(method="GET", url=kit.remoteid_url(), json=remote)
    kit.add_movie()
    result = kit.call(_lookup(Ids(imdb="tt0133093")))
    assert result.ids == MATRIX
    assert result.raw["remoteid"] == remote["data"]
    assert result.raw["movie"]["id"] == 12345
    assert [r.url.path for r in kit.data_requests()] == [
        "/v4/search/remoteid/tt0133093",
        "/v4/movies/12345/extended",
    ]


def test_imdb_lookup_keeps_the_imdb_id_when_the_record_lacks_it(kit: Any) -> None:
    kit.add_login()
    kit.mock.add_response(
        method="GET", url=kit.remoteid_url(), json=kit.sample("handwritten_remoteid_tt0133093.json")
    )
    record = kit.sample("handwritten_movie_12345_extended.json")
    record["data"]["remoteIds"] = []
    kit.add_movie(record)
    result = kit.call(_lookup(Ids(imdb="tt0133093")))
    assert result.ids == Ids(tvdb=12345, imdb="tt0133093")


@pytest.mark.parametrize(
    "data",
    [
        [],
        [{"series": {"id": 70010, "name": "Unrelated"}}, {"people": {"id": 5}}],
        [{"movie": {"id": "not a number"}}, {"movie": None}, "junk", None],
    ],
)
def test_imdb_without_a_movie_entry_is_none(kit: Any, data: Any) -> None:
    kit.add_login()
    kit.mock.add_response(
        method="GET", url=kit.remoteid_url(), json={"status": "success", "data": data}
    )
    assert kit.call(_lookup(Ids(imdb="tt0133093"))) is None
    assert len(kit.data_requests()) == 1


def test_imdb_remoteid_404_is_none(kit: Any) -> None:
    kit.add_login()
    kit.mock.add_response(
        method="GET",
        url=kit.remoteid_url(),
        status_code=404,
        json=kit.sample("handwritten_not_found.json"),
    )
    assert kit.call(_lookup(Ids(imdb="tt0133093"))) is None


def test_movie_404_is_none(kit: Any) -> None:
    kit.add_login()
    kit.add_movie(kit.sample("handwritten_not_found.json"), status_code=404)
    assert kit.call(_lookup(Ids(tvdb=12345))) is None


def test_tmdb_only_is_none_without_a_request(kit: Any) -> None:
    assert kit.call(_lookup(Ids(tmdb=603))) is None
    assert kit.call(_lookup(Ids())) is None
    assert kit.mock.get_requests() == []


def test_record_without_id_keeps_the_requested_one(kit: Any) -> None:
    kit.add_login()
    record = kit.sample("handwritten_movie_12345_extended.json")
    del record["data"]["id"]
    kit.add_movie(record)
    assert kit.call(_lookup(Ids(tvdb=12345))).ids.tvdb == 12345


def test_base_url_setting_is_used(kit: Any) -> None:
    kit.mock.add_response(
        method="POST",
        url="https://tvdb.proxy.test/v4/login",
        json={"status": "success", "data": {"token": kit.TOKEN}},
    )
    kit.mock.add_response(
        method="GET",
        url="https://tvdb.proxy.test/v4/movies/12345/extended?meta=translations",
        json=kit.sample("handwritten_movie_12345_extended.json"),
    )
    result = kit.call(_lookup(Ids(tvdb=12345)), base_url="https://tvdb.proxy.test/v4")
    assert result is not None


# -- error paths on every data endpoint -------------------------------------------------------

ENDPOINTS = {
    "movie": (_lookup(Ids(tvdb=12345)), r"/movies/12345/extended\?meta=translations"),
    "remoteid": (_lookup(Ids(imdb="tt0133093")), r"/search/remoteid/tt0133093"),
    "search": (_search("The Matrix", 1999), r"/search\?.*"),
}


def _fail(kit: Any, endpoint: str, **response: Any) -> Any:
    body, pattern = ENDPOINTS[endpoint]
    kit.add_login()
    url = re.compile(re.escape(kit.BASE) + pattern)
    if "exception" in response:
        kit.mock.add_exception(response["exception"], method="GET", url=url)
    else:
        kit.mock.add_response(method="GET", url=url, **response)
    return body


@pytest.fixture(params=sorted(ENDPOINTS))
def endpoint(request: pytest.FixtureRequest) -> str:
    """Each data endpoint in turn."""
    return request.param


def _raises(kit: Any, body: Any, error: type[ProviderError], **settings: Any) -> ProviderError:
    with pytest.raises(error) as info:
        kit.call(body, pin=kit.PIN, **settings)
    assert info.value.provider == "tvdb"
    kit.assert_clean(info.value)
    return info.value


def test_429_with_retry_after(kit: Any, endpoint: str) -> None:
    body = _fail(kit, endpoint, status_code=429, headers={"Retry-After": "12"})
    error = _raises(kit, body, RateLimitedError)
    assert error.retry_after == 12


def test_429_without_retry_after(kit: Any, endpoint: str) -> None:
    body = _fail(kit, endpoint, status_code=429)
    error = _raises(kit, body, RateLimitedError)
    assert error.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable(kit: Any, endpoint: str, status: int) -> None:
    _raises(kit, _fail(kit, endpoint, status_code=status), UnavailableError)


@pytest.mark.parametrize(
    "exception", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")], ids=["timeout", "net"]
)
def test_timeout_and_network_errors_are_unavailable(
    kit: Any, endpoint: str, exception: Exception
) -> None:
    _raises(kit, _fail(kit, endpoint, exception=exception), UnavailableError)


def test_malformed_json_is_invalid(kit: Any, endpoint: str) -> None:
    body = _fail(kit, endpoint, content=b'{"status": "success", "data": [')
    _raises(kit, body, InvalidResponseError)


@pytest.mark.parametrize(
    "payload",
    [
        ["not", "an", "envelope"],
        {"status": "success"},
        {"status": "success", "data": None},
        {"status": "success", "data": "text"},
        {"data": {}},
        {"status": "failure", "message": "NotFoundException: not found", "data": None},
        {"status": "failure", "message": f"Oops: {'x' * 50}", "data": []},
    ],
)
def test_wrong_shape_or_failure_envelope_is_invalid(kit: Any, endpoint: str, payload: Any) -> None:
    _raises(kit, _fail(kit, endpoint, json=payload), InvalidResponseError)


def test_data_of_the_other_type_is_invalid(kit: Any, endpoint: str) -> None:
    """A record where a list is expected (remoteid, search) and a list where a record is."""
    data: Any = [] if endpoint == "movie" else {"movie": {"id": 12345}}
    body = _fail(kit, endpoint, json={"status": "success", "data": data})
    _raises(kit, body, InvalidResponseError)


def test_failure_envelope_names_only_the_error_type(kit: Any) -> None:
    body = _fail(
        kit,
        "movie",
        json={"status": "failure", "message": f"Leaky: echoed {kit.API_KEY}", "data": None},
    )
    error = _raises(kit, body, InvalidResponseError)
    assert "Leaky" in str(error)
    assert "echoed" not in str(error)


def test_other_4xx_is_invalid(kit: Any, endpoint: str) -> None:
    body = _fail(kit, endpoint, status_code=400, json={"status": "failure", "message": "x"})
    _raises(kit, body, InvalidResponseError)


def test_not_found_is_never_raised_from_hooks(kit: Any) -> None:
    kit.add_login(is_reusable=True)
    kit.mock.add_response(
        method="GET",
        status_code=404,
        json=kit.sample("handwritten_not_found.json"),
        is_reusable=True,
    )
    assert kit.call(_lookup(Ids(tvdb=12345))) is None
    try:
        assert kit.call(_search("Nothing")) == []
    except NotFoundError:  # pragma: no cover - the assertion is the point
        pytest.fail("search raised NotFoundError")


@pytest.mark.parametrize("body", [None, {"error": "no route"}, "<html>Not Found</html>"])
def test_404_without_the_envelope_is_a_bad_response(kit: Any, body: Any) -> None:
    """A base URL missing its version path answers 404 to everything: an error, never "no
    such movie" (which the cache would keep as settled)."""
    kit.add_login(is_reusable=True)
    kwargs: dict[str, Any] = {"text": body} if isinstance(body, str) else {"json": body}
    kit.mock.add_response(method="GET", status_code=404, is_reusable=True, **kwargs)
    with pytest.raises(InvalidResponseError, match="METARR_TVDB_BASE_URL"):
        kit.call(_lookup(Ids(tvdb=12345)))
