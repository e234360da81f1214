"""Failures on every endpoint: classified by HTTP status, TMDB code as detail, no secret leaks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from metarr import (
    AuthError,
    InvalidResponseError,
    MetarrError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)

# Each endpoint: the path that fails and how to call it.
CALLS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "movie": ("/movie/550", lambda tmdb: tmdb.lookup(tmdb=550)),
    "find": ("/find/tt0137523", lambda tmdb: tmdb.lookup(imdb="tt0137523")),
    "search": ("/search/movie", lambda tmdb: tmdb.search("Fight Club", 1999)),
}
ENDPOINTS = pytest.mark.parametrize("endpoint", list(CALLS))


def fail(
    endpoint: str, tmdb: Any, creds: dict[str, str], exc_type: type[MetarrError]
) -> MetarrError:
    """Call the endpoint, expect ``exc_type`` and check no credential is in the error."""
    with pytest.raises(exc_type) as info:
        CALLS[endpoint][1](tmdb)
    for secret in (creds["api_key"], creds["access_token"]):
        assert secret not in str(info.value)
        assert secret not in repr(info.value)
        assert secret not in repr(info.value.__cause__)
    return info.value


@ENDPOINTS
def test_401_invalid_key_is_auth_error(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Any, creds: Any, endpoint: str
) -> None:
    httpx_mock.add_response(
        url=tmdb_url(CALLS[endpoint][0]),
        status_code=401,
        json=sample("tmdb_error_invalid_api_key.json"),
    )
    error = fail(endpoint, tmdb, creds, AuthError)
    assert error.out_for_run
    assert "HTTP 401, TMDB code 7: invalid API key" in str(error)
    assert "METARR_TMDB_API_KEY" in str(error)


def test_401_with_access_token_names_that_setting(
    httpx_mock: Any, make_tmdb: Any, tmdb_url: Any, sample: Any, creds: Any
) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/movie/550"), status_code=401, json=sample("tmdb_error_invalid_api_key.json")
    )
    error = fail(
        "movie", make_tmdb(settings={"access_token": creds["access_token"]}), creds, AuthError
    )
    assert "METARR_TMDB_ACCESS_TOKEN" in str(error)
    assert "does not look like" not in str(error)


def test_401_with_short_key_as_access_token_explains_the_mix_up(
    httpx_mock: Any, make_tmdb: Any, tmdb_url: Any, sample: Any, creds: Any
) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/movie/550"), status_code=401, json=sample("tmdb_error_invalid_api_key.json")
    )
    tmdb = make_tmdb(settings={"access_token": creds["api_key"]})
    error = fail("movie", tmdb, creds, AuthError)
    assert "does not look like an API Read Access Token" in str(error)


def test_403_without_envelope_is_auth_error(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, creds: Any
) -> None:
    httpx_mock.add_response(url=tmdb_url("/movie/550"), status_code=403, text="Forbidden")
    error = fail("movie", tmdb, creds, AuthError)
    assert "(HTTP 403)" in str(error)


@ENDPOINTS
@pytest.mark.parametrize(("header", "expected"), [("12", 12.0), (None, None)])
def test_429_is_rate_limited(
    httpx_mock: Any,
    tmdb: Any,
    tmdb_url: Any,
    creds: Any,
    endpoint: str,
    header: str | None,
    expected: float | None,
) -> None:
    # Hand-written envelope (API.md §1.5: code 25); Retry-After per the older official text.
    body = {
        "success": False,
        "status_code": 25,
        "status_message": "Your request count (41) is over the allowed limit of (40).",
    }
    headers = {"Retry-After": header} if header else {}
    httpx_mock.add_response(
        url=tmdb_url(CALLS[endpoint][0]), status_code=429, json=body, headers=headers
    )
    error = fail(endpoint, tmdb, creds, RateLimitedError)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == expected


@ENDPOINTS
@pytest.mark.parametrize(
    ("status", "code", "detail"),
    [
        (500, 11, "HTTP 500, TMDB code 11: internal error"),
        (502, 43, "HTTP 502, TMDB code 43: could not connect to the backend"),
        (503, 46, "HTTP 503, TMDB code 46: API under maintenance"),
        (504, 24, "HTTP 504, TMDB code 24: backend timed out"),
        (500, 999, "HTTP 500, TMDB code 999)"),
    ],
)
def test_5xx_is_unavailable_with_tmdb_code(
    httpx_mock: Any,
    tmdb: Any,
    tmdb_url: Any,
    creds: Any,
    endpoint: str,
    status: int,
    code: int,
    detail: str,
) -> None:
    # Hand-written envelopes with the codes of TMDB's errors table.
    body = {"success": False, "status_code": code, "status_message": "server text, never shown"}
    httpx_mock.add_response(url=tmdb_url(CALLS[endpoint][0]), status_code=status, json=body)
    error = fail(endpoint, tmdb, creds, UnavailableError)
    assert detail in str(error)
    assert "never shown" not in str(error)


@ENDPOINTS
def test_5xx_with_html_body_is_unavailable(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, creds: Any, endpoint: str
) -> None:
    httpx_mock.add_response(
        url=tmdb_url(CALLS[endpoint][0]), status_code=502, text="<html>Bad Gateway</html>"
    )
    error = fail(endpoint, tmdb, creds, UnavailableError)
    assert "(HTTP 502)" in str(error)


def test_400_too_many_appends_is_invalid_response(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, creds: Any
) -> None:
    # Hand-written envelope: code 27 (API.md §1.6).
    body = {"success": False, "status_code": 27, "status_message": "Too many append."}
    httpx_mock.add_response(url=tmdb_url("/movie/550"), status_code=400, json=body)
    error = fail("movie", tmdb, creds, InvalidResponseError)
    assert "HTTP 400, TMDB code 27: too many append_to_response items" in str(error)


@ENDPOINTS
def test_timeout_is_unavailable(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, creds: Any, endpoint: str
) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("read timed out"), url=tmdb_url(CALLS[endpoint][0]))
    error = fail(endpoint, tmdb, creds, UnavailableError)
    assert "timed out" in str(error)


@ENDPOINTS
def test_network_error_message_is_redacted(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, creds: Any, endpoint: str
) -> None:
    leaky = f"cannot reach https://tmdb.test/3/x?api_key={creds['api_key']}"
    httpx_mock.add_exception(httpx.ConnectError(leaky), url=tmdb_url(CALLS[endpoint][0]))
    error = fail(endpoint, tmdb, creds, UnavailableError)
    assert "***" in str(error)


@ENDPOINTS
def test_malformed_json_is_invalid_response(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, creds: Any, endpoint: str
) -> None:
    httpx_mock.add_response(url=tmdb_url(CALLS[endpoint][0]), content=b'{"id": 550, "title": ')
    fail(endpoint, tmdb, creds, InvalidResponseError)


@ENDPOINTS
def test_json_of_wrong_shape_is_invalid_response(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, creds: Any, endpoint: str
) -> None:
    httpx_mock.add_response(url=tmdb_url(CALLS[endpoint][0]), json=[{"id": 550}])
    fail(endpoint, tmdb, creds, InvalidResponseError)


def test_imdb_lookup_failing_at_the_details_step(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Any, creds: Any
) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/find/tt0936501"), json=sample("tmdb_find_tt0936501_imdb_id.json")
    )
    httpx_mock.add_response(url=tmdb_url("/movie/8681"), status_code=503)
    with pytest.raises(UnavailableError):
        tmdb.lookup(imdb="tt0936501")


def test_not_found_never_escapes_a_hook(
    httpx_mock: Any, tmdb: Any, tmdb_url: Any, sample: Any
) -> None:
    httpx_mock.add_response(
        status_code=404, json=sample("tmdb_error_not_found.json"), is_reusable=True
    )
    try:
        assert tmdb.lookup(tmdb=550) is None
        assert tmdb.lookup(imdb="tt0137523") is None
        assert tmdb.search("Fight Club") == []
    except NotFoundError:  # pragma: no cover - the assertion is the point
        pytest.fail("NotFoundError escaped a hook")


@pytest.mark.parametrize("settings_key", ["api_key", "access_token"])
def test_credentials_never_logged_by_metarr(
    httpx_mock: Any,
    make_tmdb: Any,
    tmdb_url: Any,
    fight_club: Any,
    sample: Any,
    creds: Any,
    caplog: pytest.LogCaptureFixture,
    settings_key: str,
) -> None:
    secret = creds[settings_key]
    httpx_mock.add_response(url=tmdb_url("/movie/550"), json=fight_club)
    httpx_mock.add_response(
        url=tmdb_url("/movie/1"), status_code=404, json=sample("tmdb_error_not_found.json")
    )
    tmdb = make_tmdb(settings={settings_key: secret})
    with caplog.at_level(logging.DEBUG):
        tmdb.lookup(tmdb=550)
        tmdb.lookup(tmdb=1)
    ours = [r for r in caplog.records if r.name.startswith("metarr")]
    assert ours, "expected metarr's debug logging"
    assert all(secret not in r.getMessage() for r in ours)
