"""Login: lazily once per provider, shared by concurrent requests, renewed once on a 401."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
from metarr import AuthError, Ids, InvalidResponseError, RateLimitedError, UnavailableError
from metarr.http import request_memo
from metarr_tvdb import TvdbProvider


def _slow_login(kit: Any, status: int = 200, token: str | None = None, **headers: str) -> None:
    """A login that really suspends, so concurrent callers pile up behind it."""

    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        if status != 200:
            return httpx.Response(status, headers=headers, json={"status": "failure"})
        return httpx.Response(
            200, json={"status": "success", "data": {"token": token or kit.TOKEN}}
        )

    kit.mock.add_callback(answer, method="POST", url=f"{kit.BASE}/login")


def test_no_request_at_construction(kit: Any) -> None:
    async def body(provider: TvdbProvider) -> None:
        assert provider.auth.logins == 0

    kit.call(body)
    assert kit.mock.get_requests() == []


def test_login_once_for_many_requests(kit: Any) -> None:
    kit.add_login()
    kit.add_movie(is_reusable=True)
    kit.mock.add_response(
        method="GET",
        url=kit.remoteid_url(),
        json=kit.sample("handwritten_remoteid_tt0133093.json"),
    )

    async def body(provider: TvdbProvider) -> None:
        for _ in range(3):
            assert await provider.lookup_by_id(ids=Ids(tvdb=12345)) is not None
        assert await provider.lookup_by_id(ids=Ids(imdb="tt0133093")) is not None

    kit.call(body)
    assert len(kit.logins()) == 1
    gets = kit.data_requests()
    assert len(gets) == 5
    assert {r.headers["Authorization"] for r in gets} == {f"Bearer {kit.TOKEN}"}


def test_concurrent_first_requests_share_one_login(kit: Any) -> None:
    _slow_login(kit)
    for movie_id in range(1, 9):
        body = kit.sample("handwritten_movie_12345_extended.json")
        body["data"]["id"] = movie_id
        kit.add_movie(body, movie_id=movie_id)

    async def body(provider: TvdbProvider) -> list[Any]:
        return await asyncio.gather(*(provider.lookup_by_id(ids=Ids(tvdb=n)) for n in range(1, 9)))

    results = kit.call(body)
    assert [r.ids.tvdb for r in results] == list(range(1, 9))
    assert len(kit.logins()) == 1


def test_login_body_without_pin_by_default(kit: Any) -> None:
    kit.add_login()
    kit.add_movie()
    kit.call(lambda p: _lookup(p))
    (login,) = kit.logins()
    assert json.loads(login.content) == {"apikey": kit.API_KEY}
    assert login.headers["Content-Type"] == "application/json"


def test_pin_sent_when_configured(kit: Any) -> None:
    kit.add_login()
    kit.add_movie()
    kit.call(lambda p: _lookup(p), pin=kit.PIN)
    (login,) = kit.logins()
    assert json.loads(login.content) == {"apikey": kit.API_KEY, "pin": kit.PIN}


def test_relogin_once_on_401_then_retry(kit: Any) -> None:
    kit.add_login("token-one")
    kit.add_login("token-two")
    kit.mock.add_response(
        method="GET",
        url=kit.movie_url(),
        status_code=401,
        json={"status": "failure", "message": "Unauthorized", "data": None},
        match_headers={"Authorization": "Bearer token-one"},
    )
    kit.add_movie(match_headers={"Authorization": "Bearer token-two"})
    result = kit.call(lambda p: _lookup(p))
    assert result is not None
    assert result.ids.tvdb == 12345
    assert len(kit.logins()) == 2


def test_relogin_works_inside_a_request_memo(kit: Any) -> None:
    """The memo keeps the first 401; the retry must not be answered from it."""
    kit.add_login("token-one")
    kit.add_login("token-two")
    kit.mock.add_response(
        method="GET",
        url=kit.movie_url(),
        status_code=401,
        match_headers={"Authorization": "Bearer token-one"},
    )
    kit.add_movie(match_headers={"Authorization": "Bearer token-two"})

    async def body(provider: TvdbProvider) -> Any:
        with request_memo():
            return await _lookup(provider)

    assert kit.call(body) is not None


def test_concurrent_401s_renew_the_token_once(kit: Any) -> None:
    _slow_login(kit, token="token-one")
    _slow_login(kit, token="token-two")

    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        if request.headers["Authorization"] == "Bearer token-one":
            return httpx.Response(401, json={"status": "failure", "message": "Unauthorized"})
        movie_id = int(request.url.path.split("/")[-2])
        body = kit.sample("handwritten_movie_12345_extended.json")
        body["data"]["id"] = movie_id
        return httpx.Response(200, json=body)

    kit.mock.add_callback(answer, method="GET", is_reusable=True)

    async def body(provider: TvdbProvider) -> list[Any]:
        return await asyncio.gather(*(provider.lookup_by_id(ids=Ids(tvdb=n)) for n in range(1, 6)))

    results = kit.call(body)
    assert all(r is not None for r in results)
    assert len(kit.logins()) == 2


def test_second_401_is_an_auth_error(kit: Any) -> None:
    kit.add_login("token-one")
    kit.add_login("token-two")
    kit.mock.add_response(
        method="GET",
        url=kit.movie_url(),
        status_code=401,
        json={"status": "failure", "message": "Unauthorized", "data": None},
        is_reusable=True,
    )
    with pytest.raises(AuthError) as info:
        kit.call(lambda p: _lookup(p), pin=kit.PIN)
    assert len(kit.logins()) == 2
    assert len(kit.data_requests()) == 2
    assert "METARR_TVDB_API_KEY" in str(info.value)
    kit.assert_clean(info.value, "token-one", "token-two")


def test_403_on_data_is_an_auth_error_without_relogin(kit: Any) -> None:
    kit.add_login()
    kit.mock.add_response(method="GET", url=kit.movie_url(), status_code=403)
    with pytest.raises(AuthError) as info:
        kit.call(lambda p: _lookup(p))
    assert len(kit.logins()) == 1
    kit.assert_clean(info.value)


def test_invalid_key_at_login_is_an_auth_error(kit: Any) -> None:
    kit.mock.add_response(
        method="POST",
        url=f"{kit.BASE}/login",
        status_code=401,
        json=kit.sample("handwritten_login_invalid_key.json"),
    )
    with pytest.raises(AuthError) as info:
        kit.call(lambda p: _lookup(p))
    assert "METARR_TVDB_API_KEY" in str(info.value)
    assert kit.data_requests() == []
    kit.assert_clean(info.value)


@pytest.mark.parametrize("slow", [False, True])
def test_bad_credentials_are_remembered(kit: Any, slow: bool) -> None:
    """After an AuthError at login, later requests (concurrent or not) fail without asking."""
    if slow:
        _slow_login(kit, 401)
    else:
        kit.mock.add_response(
            method="POST",
            url=f"{kit.BASE}/login",
            status_code=401,
            json=kit.sample("handwritten_login_invalid_key.json"),
        )

    async def body(provider: TvdbProvider) -> list[Any]:
        first = await asyncio.gather(*(_lookup(provider) for _ in range(4)), return_exceptions=True)
        return [*first, *(await asyncio.gather(_lookup(provider), return_exceptions=True))]

    errors = kit.call(body)
    assert len(errors) == 5
    assert all(isinstance(e, AuthError) for e in errors)
    assert len(kit.logins()) == 1


def test_pin_required_is_an_auth_error_naming_the_setting(kit: Any) -> None:
    kit.mock.add_response(
        method="POST",
        url=f"{kit.BASE}/login",
        status_code=400,
        json=kit.sample("handwritten_login_pin_required.json"),
    )
    with pytest.raises(AuthError) as info:
        kit.call(lambda p: _lookup(p))
    message = str(info.value)
    assert "PIN" in message
    assert "METARR_TVDB_PIN" in message
    kit.assert_clean(info.value)


def test_pin_rejected_with_pin_configured(kit: Any) -> None:
    kit.mock.add_response(
        method="POST",
        url=f"{kit.BASE}/login",
        status_code=400,
        json={"status": "failure", "message": "InvalidValueType: pin invalid", "data": None},
    )
    with pytest.raises(AuthError) as info:
        kit.call(lambda p: _lookup(p), pin=kit.PIN)
    assert "METARR_TVDB_PIN" in str(info.value)
    kit.assert_clean(info.value)


def test_other_400_at_login_is_an_auth_error(kit: Any) -> None:
    kit.mock.add_response(
        method="POST",
        url=f"{kit.BASE}/login",
        status_code=400,
        json={"status": "failure", "message": f"Bad: {kit.API_KEY}", "data": None},
    )
    with pytest.raises(AuthError) as info:
        kit.call(lambda p: _lookup(p))
    kit.assert_clean(info.value)


def test_login_404_points_at_the_base_url(kit: Any) -> None:
    kit.mock.add_response(method="POST", url=f"{kit.BASE}/login", status_code=404)
    with pytest.raises(InvalidResponseError) as info:
        kit.call(lambda p: _lookup(p))
    assert "METARR_TVDB_BASE_URL" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "success", "data": {}},
        {"status": "success", "data": {"token": ""}},
        {"status": "success", "data": {"token": 42}},
        {"status": "success", "data": None},
        {"status": "failure", "message": "Whatever: no", "data": None},
        ["not", "an", "envelope"],
    ],
)
def test_login_answer_without_token_is_invalid(kit: Any, body: Any) -> None:
    kit.mock.add_response(method="POST", url=f"{kit.BASE}/login", json=body)
    with pytest.raises(InvalidResponseError) as info:
        kit.call(lambda p: _lookup(p))
    kit.assert_clean(info.value)


def test_transient_login_failure_is_retried_by_a_later_request(kit: Any) -> None:
    kit.mock.add_response(method="POST", url=f"{kit.BASE}/login", status_code=503)
    kit.add_login()
    kit.add_movie()

    async def body(provider: TvdbProvider) -> Any:
        with pytest.raises(UnavailableError):
            await _lookup(provider)
        return await _lookup(provider)

    assert kit.call(body) is not None
    assert len(kit.logins()) == 2


def test_concurrent_waiters_share_a_failed_login(kit: Any) -> None:
    _slow_login(kit, 429, **{"Retry-After": "9"})

    async def body(provider: TvdbProvider) -> list[Any]:
        return await asyncio.gather(*(_lookup(provider) for _ in range(4)), return_exceptions=True)

    errors = kit.call(body)
    assert all(isinstance(e, RateLimitedError) and e.retry_after == 9 for e in errors)
    assert len(kit.logins()) == 1


def test_secrets_never_logged(kit: Any, caplog: pytest.LogCaptureFixture) -> None:
    kit.add_login()
    kit.mock.add_response(method="GET", url=kit.movie_url(), status_code=401, is_reusable=True)
    kit.add_login()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError):
        kit.call(lambda p: _lookup(p), pin=kit.PIN)
    assert caplog.records
    for secret in kit.SECRETS:
        assert secret not in caplog.text


def test_auth_repr_shows_no_secret(kit: Any) -> None:
    kit.add_login()
    kit.add_movie()

    async def body(provider: TvdbProvider) -> str:
        await _lookup(provider)
        return repr(provider.auth) + repr(provider)

    text = kit.call(body, pin=kit.PIN)
    assert "logged in" in text
    for secret in kit.SECRETS:
        assert secret not in text


async def _lookup(provider: TvdbProvider) -> Any:
    return await provider.lookup_by_id(ids=Ids(tvdb=12345))
