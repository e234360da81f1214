"""The Fanart.tv provider against mocked HTTP: request shape, ids, and every error path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from metarr import (
    AuthError,
    Ids,
    InvalidResponseError,
    ProviderError,
    ProviderResult,
    RateLimitedError,
    UnavailableError,
)
from metarr.models import PRIORITY_FIELDS
from metarr.testing import ProviderContract, make_provider, run
from metarr_fanart import FanartProvider
from pytest_httpx import HTTPXMock

SAMPLES = Path(__file__).parent / "samples"
BASE = "https://fanart.test/v3"
API_KEY = "project-key-0123456789abcdef"
CLIENT_KEY = "personal-key-fedcba9876543210"
SECRETS = (API_KEY, CLIENT_KEY)


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def lookup(ids: Ids, settings: dict[str, Any] | None = None) -> ProviderResult | None:
    settings = {"api_key": API_KEY, "client_key": CLIENT_KEY} if settings is None else settings

    async def go(client: httpx.AsyncClient) -> ProviderResult | None:
        provider = make_provider(FanartProvider, "fanart", settings, client=client, base_url=BASE)
        return await provider.lookup_by_id(ids=ids)

    return run(go)


def provider() -> FanartProvider:
    return make_provider(FanartProvider, "fanart", {"api_key": API_KEY}, client=httpx.AsyncClient())


def assert_no_secret(exc: BaseException) -> None:
    for secret in SECRETS:
        assert secret not in str(exc)
        assert secret not in repr(exc)
        assert secret not in str(getattr(exc, "detail", ""))


@pytest.fixture(autouse=True)
def _no_retry_sleep(no_retry_wait: None) -> None:
    """Every test without retry waits (the ``no_retry_wait`` fixture of metarr[testing])."""


class TestFanartContract(ProviderContract):
    """The shared provider contract, run against Fanart.tv."""

    factory = FanartProvider
    name = "fanart"
    settings: ClassVar[dict[str, Any]] = {"api_key": API_KEY, "client_key": CLIENT_KEY}
    base_url = BASE
    known_ids = Ids(tmdb=70160, imdb="tt1392170")

    def mock_found(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(json=sample("fanart_movie_70160.json"), is_reusable=True)

    def mock_not_found(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(
            status_code=404,
            json={"status": "error", "error message": "Not found"},
            is_reusable=True,
        )

    def mock_failure(self, httpx_mock: Any, status: int, headers: dict[str, str]) -> None:
        httpx_mock.add_response(
            status_code=status,
            headers=headers,
            json={"status": "error", "error message": f"failure {status}"},
            is_reusable=True,
        )


# -- class attributes and pure hooks -------------------------------------------------------


def test_class_attributes() -> None:
    assert FanartProvider.id_types == {"tmdb", "imdb"}
    assert FanartProvider.requires == (("api_key",),)
    assert FanartProvider.default_base_url == "https://webservice.fanart.tv/v3"
    assert FanartProvider.default_ttl_days == 1
    assert FanartProvider.languages is None


def test_no_search_hook() -> None:
    assert not hasattr(FanartProvider, "search")


def test_field_priority_is_the_fanart_column() -> None:
    ranks = provider().field_priority()
    assert ranks == {"images": 20, "ids.tmdb": 30, "ids.imdb": 40}
    assert set(ranks) <= set(PRIORITY_FIELDS)
    ranks["images"] = 1  # a copy: callers cannot change the provider's table
    assert provider().field_priority()["images"] == 20


# -- request shape ---------------------------------------------------------------------------


def test_tmdb_id_is_preferred_in_the_path(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=sample("fanart_movie_70160.json"))
    result = lookup(Ids(tmdb=70160, imdb="tt1392170"))
    assert result is not None
    [request] = httpx_mock.get_requests()
    assert request.method == "GET"
    assert request.url.scheme == "https"
    assert request.url.host == "fanart.test"
    assert request.url.path == "/v3/movies/70160"
    assert dict(request.url.params) == {"api_key": API_KEY, "client_key": CLIENT_KEY}


def test_imdb_id_is_used_when_no_tmdb_id_is_known(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=sample("fanart_movie_78.json"))
    result = lookup(Ids(imdb="tt0083658", tvdb=123))
    assert result is not None
    [request] = httpx_mock.get_requests()
    assert request.url.path == "/v3/movies/tt0083658"


def test_client_key_is_sent_only_when_configured(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=sample("fanart_movie_78.json"), is_reusable=True)
    lookup(Ids(tmdb=78), {"api_key": API_KEY})
    lookup(Ids(tmdb=78), {"api_key": API_KEY, "client_key": ""})
    for request in httpx_mock.get_requests():
        assert dict(request.url.params) == {"api_key": API_KEY}


def test_default_base_url_is_fanart_v3(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=sample("fanart_movie_78.json"))

    async def go(client: httpx.AsyncClient) -> ProviderResult | None:
        fanart = make_provider(FanartProvider, "fanart", {"api_key": API_KEY}, client=client)
        return await fanart.lookup_by_id(ids=Ids(tmdb=78))

    assert run(go) is not None
    [request] = httpx_mock.get_requests()
    assert str(request.url).startswith("https://webservice.fanart.tv/v3/movies/78?")


def test_only_tvdb_or_no_ids_send_nothing(httpx_mock: HTTPXMock) -> None:
    assert lookup(Ids(tvdb=81189)) is None
    assert lookup(Ids()) is None
    assert httpx_mock.get_requests() == []


# -- results and cross-reference ---------------------------------------------------------------


def test_found_result_from_the_2014_sample(httpx_mock: HTTPXMock) -> None:
    body = sample("fanart_movie_78.json")
    httpx_mock.add_response(json=body)
    result = lookup(Ids(tmdb=78))
    assert result is not None
    assert result.provider == "fanart"
    assert result.title == "Blade Runner"
    assert result.ids == Ids(tmdb=78, imdb="tt0083658")
    assert len(result.images) == 99
    assert all(image.url.startswith("https://") for image in result.images)
    assert result.raw == {"movie": body}


def test_extract_ids_reads_the_echoed_ids(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=sample("fanart_movie_70160.json"))
    result = lookup(Ids(imdb="tt1392170"))
    assert result is not None
    # looked up by IMDb id, Fanart tells us the TMDB id: the cross-reference
    assert provider().extract_ids(result=result) == Ids(tmdb=70160, imdb="tt1392170")


def test_extract_ids_keeps_only_parseable_echoes(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"name": "X", "tmdb_id": "603", "imdb_id": "nm0000206"})
    result = lookup(Ids(tmdb=603))
    assert result is not None
    assert provider().extract_ids(result=result) == Ids(tmdb=603)


def test_extract_ids_is_none_without_echoes(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"name": "X", "movieposter": []})
    result = lookup(Ids(tmdb=603))
    assert result is not None
    assert provider().extract_ids(result=result) is None
    assert provider().extract_ids(result=ProviderResult(provider="fanart", ids=Ids(tvdb=5))) is None


def test_answer_for_another_movie_is_invalid(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=sample("fanart_movie_70160.json"))
    with pytest.raises(InvalidResponseError, match="tmdb:78") as info:
        lookup(Ids(tmdb=78))
    assert_no_secret(info.value)


# -- not found and errors ----------------------------------------------------------------------


def test_404_is_none(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404, json={"status": "error", "error message": "Not found"})
    assert lookup(Ids(imdb="tt3774092")) is None


def test_200_with_error_envelope_is_none(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"status": "error", "error message": "Not found"})
    assert lookup(Ids(tmdb=999999)) is None


def test_200_with_error_envelope_and_no_message_is_none(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"status": "error"})
    assert lookup(Ids(tmdb=999999)) is None


def test_200_with_an_api_key_error_is_an_auth_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"status": "error", "error message": "API key is required"})
    with pytest.raises(AuthError, match="API key is required") as info:
        lookup(Ids(tmdb=603))
    assert_no_secret(info.value)


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_is_an_auth_error_with_fanarts_message(
    httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(
        status_code=status, json={"status": "error", "error message": "API key is required"}
    )
    with pytest.raises(AuthError) as info:
        lookup(Ids(tmdb=603))
    message = str(info.value)
    assert message.startswith("fanart: ")
    assert f"HTTP {status}" in message
    assert "API key is required" in message
    assert "METARR_FANART_API_KEY" in message
    assert info.value.out_for_run
    assert_no_secret(info.value)


def test_auth_error_without_a_json_body(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=401, text="<html>Unauthorized</html>")
    with pytest.raises(AuthError, match="HTTP 401") as info:
        lookup(Ids(tmdb=603))
    assert_no_secret(info.value)


def test_server_echoing_the_key_in_its_message_is_redacted(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        status_code=401, json={"status": "error", "error message": f"Invalid key {CLIENT_KEY}"}
    )
    with pytest.raises(AuthError) as info:
        lookup(Ids(tmdb=603))
    assert "Invalid key ***" in str(info.value)
    assert_no_secret(info.value)


def test_429_with_retry_after(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "12"}, is_reusable=True)
    with pytest.raises(RateLimitedError) as info:
        lookup(Ids(tmdb=603))
    assert info.value.retry_after == 12
    assert_no_secret(info.value)


def test_429_without_retry_after(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=429, is_reusable=True)
    with pytest.raises(RateLimitedError) as info:
        lookup(Ids(tmdb=603))
    assert info.value.retry_after is None
    assert_no_secret(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable(httpx_mock: HTTPXMock, status: int) -> None:
    httpx_mock.add_response(status_code=status, text="upstream trouble", is_reusable=True)
    with pytest.raises(UnavailableError) as info:
        lookup(Ids(tmdb=603))
    assert_no_secret(info.value)


def test_timeout_is_unavailable(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), is_reusable=True)
    with pytest.raises(UnavailableError, match="timed out") as info:
        lookup(Ids(tmdb=603))
    assert_no_secret(info.value)


def test_network_error_naming_the_url_is_redacted(httpx_mock: HTTPXMock) -> None:
    url = f"{BASE}/movies/603?api_key={API_KEY}&client_key={CLIENT_KEY}"
    httpx_mock.add_exception(httpx.ConnectError(f"cannot reach {url}"), is_reusable=True)
    with pytest.raises(UnavailableError) as info:
        lookup(Ids(tmdb=603))
    assert_no_secret(info.value)


@pytest.mark.parametrize("content", [b"{not json", b"<html>oops</html>", b"\xff\xfe\x00"])
def test_malformed_json_is_invalid(httpx_mock: HTTPXMock, content: bytes) -> None:
    httpx_mock.add_response(content=content)
    with pytest.raises(InvalidResponseError) as info:
        lookup(Ids(tmdb=603))
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(sample("fanart_movies_latest.json"), id="real-latest-list"),
        pytest.param([], id="empty-list"),
        pytest.param("movie", id="string"),
        pytest.param(42, id="number"),
        pytest.param(True, id="boolean"),
    ],
)
def test_wrong_shape_is_invalid(httpx_mock: HTTPXMock, body: Any) -> None:
    httpx_mock.add_response(json=body)
    with pytest.raises(InvalidResponseError, match="expected a JSON object") as info:
        lookup(Ids(tmdb=603))
    assert_no_secret(info.value)


def test_empty_body_is_invalid(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=b"")
    with pytest.raises(InvalidResponseError, match="empty body"):
        lookup(Ids(tmdb=603))


def test_every_error_is_a_provider_error_naming_fanart(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)
    with pytest.raises(ProviderError) as info:
        lookup(Ids(tmdb=603))
    assert info.value.provider == "fanart"


@pytest.mark.parametrize("body", [{"error": "not a route"}, None])
def test_404_without_fanarts_envelope_is_a_bad_response(httpx_mock: HTTPXMock, body: Any) -> None:
    """Only Fanart's error envelope on a 404 means "no art"; a bare 404 is a wrong base URL."""
    httpx_mock.add_response(status_code=404, json=body)
    with pytest.raises(InvalidResponseError, match="METARR_FANART_BASE_URL"):
        lookup(Ids(tmdb=603))
