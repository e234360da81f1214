"""The HTTP layer: classification, size cap, redaction, request memo and retry policies."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import metarr
import pytest
import stamina
import stamina.instrumentation
from metarr import redaction
from metarr.errors import (
    AuthError,
    InvalidResponseError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    UnavailableError,
)
from metarr.http import (
    AUTOMATED,
    INTERACTIVE,
    ProviderHttp,
    RequestMemo,
    RetryPolicy,
    TrafficStats,
    _parse,
    new_client,
    parse_retry_after,
    request_memo,
    retry_policy,
)
from metarr.transport import WireTransport
from pytest_httpx import HTTPXMock, IteratorStream
from wire import Wire

BASE = "https://api.test/v3"
KEY = "k3y-0f-the-d3m0-pr0v1der"
T = TypeVar("T")
WIRES = ("mock", "through", "direct")
"""Where a test's responses come from: pytest-httpx's mock, or a real server on 127.0.0.1
reached through httpx's client over metarr's wire transport, or directly through it
(`ProviderHttp`'s direct GET). Every test that takes ``httpx_mock`` runs on all three."""
_wire = "mock"


def mock_only(test: Callable[..., None]) -> Callable[..., None]:
    """A test that needs the mock (it raises an httpx exception the wire cannot make); the
    wire's own failures are tested in test_transport.py."""
    test._mock_only = True  # type: ignore[attr-defined]
    return test


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "httpx_mock" in metafunc.fixturenames and not getattr(
        metafunc.function, "_mock_only", False
    ):
        metafunc.parametrize("wire", WIRES, indirect=True)


@pytest.fixture
def wire(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "mock")


@pytest.fixture
def httpx_mock(
    wire: str, httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HTTPXMock | Wire]:
    """pytest-httpx's mock, or (``wire``) a real server answering the same registrations, with
    BASE pointing at it; the direct wire checks that its GETs really went direct."""
    global _wire
    if wire == "mock":
        yield httpx_mock
        return
    server = Wire()
    direct_gets = []
    original = WireTransport.get

    async def counted(self: WireTransport, url: str, *args: Any) -> Any:
        direct_gets.append(url)
        return await original(self, url, *args)

    monkeypatch.setattr(WireTransport, "get", counted)
    monkeypatch.setattr(sys.modules[__name__], "BASE", server.origin + "/v3")
    monkeypatch.setattr(sys.modules[__name__], "_wire", wire)
    try:
        yield server
    finally:
        server.close()
    gets = [r for r in server.get_requests() if r.method == "GET"]
    assert len(direct_gets) == (len(gets) if wire == "direct" else 0)


def run(
    action: Callable[[ProviderHttp], Awaitable[T]],
    *,
    max_bytes: int = 8 * 1024 * 1024,
    timeout: float = 10.0,
    stats: TrafficStats | None = None,
) -> T:
    """Run ``action`` with a `ProviderHttp` for provider ``demo`` on a fresh client and loop."""

    async def main() -> T:
        async with new_client(transport=None if _wire == "mock" else "wire") as client:
            http = ProviderHttp(
                client,
                provider="demo",
                base_url=BASE + "/",
                timeout=timeout,
                secrets=(KEY,),
                max_bytes=max_bytes,
                stats=stats,
            )
            http._direct = _wire != "through"
            return await action(http)

    return asyncio.run(main())


def get_movie(http: ProviderHttp) -> Coroutine[Any, Any, Any]:
    return http.get_json("/movie/603", params={"api_key": KEY, "language": None})


def failure(httpx_mock: HTTPXMock, **response: Any) -> ProviderError:
    """Register one response and return the error that fetching it raises."""
    httpx_mock.add_response(**response)
    with pytest.raises(ProviderError) as info:
        run(get_movie)
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)
    return info.value


@pytest.fixture
def attempts() -> Iterator[Callable[[int], None]]:
    """Call with n to allow n attempts per request, never sleeping."""

    def set_attempts(n: int) -> None:
        stamina.set_testing(True, attempts=n)

    set_attempts(1)
    yield set_attempts
    stamina.set_testing(False)


pytestmark = pytest.mark.usefixtures("attempts")


# -- success and the request itself -----------------------------------------------------------


def test_ok_json_is_parsed_and_the_request_is_well_formed(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"id": 603, "title": "The Matrix"})
    assert run(get_movie) == {"id": 603, "title": "The Matrix"}
    [request] = httpx_mock.get_requests()
    assert request.method == "GET"
    assert str(request.url) == f"{BASE}/movie/603?api_key={KEY}"  # None params are dropped
    assert request.headers["Accept"] == "application/json"


def test_user_agent_names_metarr_and_its_version(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    run(get_movie)
    agent = httpx_mock.get_requests()[0].headers["User-Agent"]
    assert agent.startswith(f"metarr/{metarr.__version__} ")


def test_extra_headers_are_sent(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=[1, 2])
    result = run(lambda http: http.get_json("/x", headers={"Authorization": "Bearer t0ken-xyz"}))
    assert result == [1, 2]
    assert httpx_mock.get_requests()[0].headers["Authorization"] == "Bearer t0ken-xyz"


def test_post_sends_a_json_body(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"{BASE}/login", json={"data": {"token": "t"}})
    result = run(lambda http: http.request("POST", "/login", json_body={"apikey": KEY}))
    assert result == {"data": {"token": "t"}}
    assert httpx_mock.get_requests()[0].read() == b'{"apikey":"k3y-0f-the-d3m0-pr0v1der"}'


@pytest.mark.parametrize("status", [200, 204])
def test_an_empty_ok_body_gives_none(httpx_mock: HTTPXMock, status: int) -> None:
    # Plugins rely on this: they check the body's shape and raise InvalidResponseError.
    httpx_mock.add_response(status_code=status)
    assert run(get_movie) is None


def test_repr_shows_no_secret() -> None:
    http = ProviderHttp(httpx.AsyncClient(), provider="demo", base_url=BASE, secrets=(KEY,))
    assert repr(http) == f"ProviderHttp(provider='demo', base_url='{BASE}')"


# -- classification ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials(httpx_mock: HTTPXMock, status: int) -> None:
    error = failure(httpx_mock, status_code=status, json={"status_message": "Invalid API key"})
    assert type(error) is AuthError
    assert error.out_for_run is True
    assert error.provider == "demo"
    assert str(error) == (f"demo: credentials rejected (HTTP {status}): check the demo API key")


@pytest.mark.parametrize(
    "response", [{"text": "<html>nope</html>"}, {"json": {"error": "no route"}}, {}]
)
def test_an_unclaimed_404_is_a_bad_response_naming_base_url(
    httpx_mock: HTTPXMock, response: dict[str, Any]
) -> None:
    # A base URL missing its version path answers 404 to everything: that is no "not found".
    error = failure(httpx_mock, status_code=404, **response)
    assert type(error) is InvalidResponseError
    assert error.out_for_run is False
    assert str(error) == (
        "demo: HTTP 404 that is not demo's not-found answer: check base_url "
        f"(METARR_DEMO_BASE_URL, now {BASE})"
    )


def test_a_404_is_not_found_only_when_classify_claims_it(httpx_mock: HTTPXMock) -> None:
    def classify(status: int, body: Any) -> ProviderError | None:
        if status == 404 and body == {"status_code": 34}:
            return NotFoundError("demo", "no such movie")
        return None

    httpx_mock.add_response(status_code=404, json={"status_code": 34})
    httpx_mock.add_response(status_code=404, json={"status_code": 99})
    fetch = lambda http: http.get_json("/movie/1", classify=classify)  # noqa: E731
    with pytest.raises(NotFoundError) as info:
        run(fetch)
    assert info.value.status == "not_found" and info.value.out_for_run is False
    with pytest.raises(InvalidResponseError, match="check base_url"):
        run(fetch)


@pytest.mark.parametrize(
    ("headers", "expected", "hint"),
    [
        ({"Retry-After": "7"}, 7.0, "; retry after 7 s"),
        ({"Retry-After": "garbage"}, None, ""),
        ({}, None, ""),
    ],
)
def test_rate_limited(
    httpx_mock: HTTPXMock, headers: dict[str, str], expected: float | None, hint: str
) -> None:
    stats = TrafficStats()
    httpx_mock.add_response(status_code=429, headers=headers)
    with pytest.raises(RateLimitedError) as info:
        run(get_movie, stats=stats)
    assert info.value.retry_after == expected
    assert info.value.until is None
    assert info.value.out_for_run is False  # paused by its gate, not dropped for the run
    assert str(info.value) == f"demo: rate limited (HTTP 429){hint}"
    assert stats.rate_limited["demo"] == 1
    assert stats.requests["demo"] == 1


def test_rate_limited_with_an_http_date(httpx_mock: HTTPXMock) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=40), usegmt=True)
    error = failure(httpx_mock, status_code=429, headers={"Retry-After": when})
    assert isinstance(error, RateLimitedError)
    assert error.retry_after is not None
    assert 35 <= error.retry_after <= 40


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 425])
def test_server_errors_are_unavailable(httpx_mock: HTTPXMock, status: int) -> None:
    error = failure(httpx_mock, status_code=status, text="upstream exploded")
    assert type(error) is UnavailableError
    assert str(error) == f"demo: server error (HTTP {status})"
    assert error.out_for_run is False


@pytest.mark.parametrize(("status", "words"), [(400, "refused (HTTP 400)"), (418, "HTTP 418")])
def test_other_client_errors_are_invalid(httpx_mock: HTTPXMock, status: int, words: str) -> None:
    error = failure(httpx_mock, status_code=status, json={})
    assert type(error) is InvalidResponseError
    assert words in str(error)


def test_redirects_are_not_followed(httpx_mock: HTTPXMock) -> None:
    error = failure(httpx_mock, status_code=301, headers={"Location": "https://elsewhere.test/"})
    assert type(error) is InvalidResponseError
    assert "unexpected HTTP 301" in str(error)
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "content", [b"<html>maintenance</html>", b"{not json", b"\xff\xfe\x00garbage", b"   "]
)
def test_a_body_that_is_not_json_is_invalid(httpx_mock: HTTPXMock, content: bytes) -> None:
    error = failure(httpx_mock, status_code=200, content=content)
    assert type(error) is InvalidResponseError
    assert "body is not JSON" in str(error)


@pytest.mark.parametrize(
    ("status", "kind"), [(401, AuthError), (404, InvalidResponseError), (500, UnavailableError)]
)
def test_errors_classify_by_status_whatever_the_body(
    httpx_mock: HTTPXMock, status: int, kind: type[ProviderError]
) -> None:
    for content in (b"", b"<html>oops</html>"):
        httpx_mock.add_response(status_code=status, content=content)
        with pytest.raises(kind):
            run(get_movie)


@mock_only
@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("read timed out"), httpx.ConnectTimeout("connect timed out")],
)
def test_httpx_timeouts_are_unavailable(httpx_mock: HTTPXMock, exc: Exception) -> None:
    httpx_mock.add_exception(exc)
    with pytest.raises(UnavailableError, match=r"^demo: timed out after 10 s$"):
        run(get_movie)


@mock_only
def test_the_total_time_is_capped(httpx_mock: HTTPXMock) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    httpx_mock.add_callback(slow)
    with pytest.raises(UnavailableError, match=r"no answer within 0\.05 s"):
        run(get_movie, timeout=0.05)


@mock_only
def test_connect_errors_are_unavailable_and_masked(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(
        httpx.ConnectError(f"[Errno 111] Connection refused: {BASE}/movie/603?api_key={KEY}")
    )
    with pytest.raises(UnavailableError) as info:
        run(get_movie)
    assert str(info.value).startswith("demo: network error: ConnectError: [Errno 111]")
    assert "api_key=***" in str(info.value)
    assert KEY not in str(info.value)


# -- size cap ---------------------------------------------------------------------------------


def test_declared_size_over_the_cap_is_refused(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=b'"' + b"x" * 200 + b'"')
    with pytest.raises(InvalidResponseError, match="response of 202 bytes exceeds the 100 byte"):
        run(get_movie, max_bytes=100)


def test_streamed_body_over_the_cap_is_cut_off(httpx_mock: HTTPXMock) -> None:
    chunks = [b'"' + b"x" * 59, b"x" * 60, b'x"']
    httpx_mock.add_response(stream=IteratorStream(chunks))
    with pytest.raises(InvalidResponseError, match="exceeds the 100 byte cap; reading stopped"):
        run(get_movie, max_bytes=100)


def test_a_body_at_the_cap_is_read(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(stream=IteratorStream([b'"' + b"x" * 48, b"x" * 50 + b'"']))
    assert run(get_movie, max_bytes=100) == "x" * 98


# -- secrets ----------------------------------------------------------------------------------


@pytest.fixture
def registered_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """KEY registered as a secret and log redaction installed, as a real run does."""
    monkeypatch.setattr(redaction, "_registered", set())
    redaction.register(KEY)
    redaction.install_log_redaction()


@mock_only
@pytest.mark.usefixtures("registered_key")
def test_no_secret_in_any_log_line_or_error(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    httpx_mock.add_response(json={"ok": True})
    for status in (401, 404, 429, 500):
        httpx_mock.add_response(status_code=status)
    httpx_mock.add_exception(httpx.ConnectError(f"refused: {BASE}/movie/603?api_key={KEY}"))
    assert run(get_movie) == {"ok": True}
    for _ in range(5):
        with pytest.raises(ProviderError) as info:
            run(get_movie)
        assert KEY not in str(info.value)
    assert caplog.records, "httpx and metarr.http should have logged the requests"
    assert "api_key=***" in caplog.text
    assert KEY not in caplog.text


def _json_escaped(text: str) -> str:
    return "".join(f"\\u{ord(ch):04x}" for ch in text)


@pytest.mark.usefixtures("registered_key")
@pytest.mark.parametrize(
    "echo",
    [KEY, KEY.replace("-", "%2D"), _json_escaped(KEY), KEY[:5] + _json_escaped(KEY[5:])],
    ids=["plain", "percent-encoded", "json-escaped", "mixed"],
)
def test_an_echoed_key_is_masked_in_every_string_of_the_parsed_body(
    httpx_mock: HTTPXMock, echo: str
) -> None:
    body = (
        '{"request": "/movie/603?api_key=ECHO", "deep": [[{"note": "key ECHO"}]], "ECHO": 1, '
        '"year": 1999, "title": "The Matrix"}'
    ).replace("ECHO", echo)
    httpx_mock.add_response(content=body.encode())
    assert run(get_movie) == {
        "request": "/movie/603?api_key=***",
        "deep": [[{"note": "key ***"}]],
        "***": 1,
        "year": 1999,
        "title": "The Matrix",
    }


@pytest.mark.usefixtures("registered_key")
def test_a_body_without_the_key_is_returned_as_parsed(httpx_mock: HTTPXMock) -> None:
    # the key's pieces in two neighbouring strings are no echo of it
    body = {"a": KEY[:10], "b": KEY[10:], "c": ["%2D", "\\u0041"], "n": 12}
    httpx_mock.add_response(json=body)
    assert run(get_movie) == body


def test_own_debug_line_is_masked_even_unregistered(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="metarr.http")
    httpx_mock.add_response(json={})
    run(get_movie)
    [line] = [r.getMessage() for r in caplog.records if r.name == "metarr.http"]
    assert line.startswith(f"demo GET {BASE}/movie/603?api_key=*** -> 200 (2 bytes")
    assert KEY not in line


# -- request memo -----------------------------------------------------------------------------


def test_concurrent_identical_requests_are_sent_once(httpx_mock: HTTPXMock) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)
        return httpx.Response(200, json={"id": 603})

    httpx_mock.add_callback(slow)

    async def action(http: ProviderHttp) -> tuple[Any, Any, RequestMemo]:
        with request_memo() as memo:
            first, second = await asyncio.gather(get_movie(http), get_movie(http))
        return first, second, memo

    first, second, memo = run(action)
    assert first == second == {"id": 603}
    assert len(httpx_mock.get_requests()) == 1
    assert memo.sent == {("demo", "GET", "/movie/603?api_key=***"): 1}
    assert memo.total == 1
    assert memo.by_provider() == {"demo": 1}


def test_failures_are_memoized_too(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404)

    async def action(http: ProviderHttp) -> list[BaseException | Any]:
        with request_memo():
            together = await asyncio.gather(
                get_movie(http), get_movie(http), return_exceptions=True
            )
            try:
                await get_movie(http)
            except InvalidResponseError as exc:
                return [*together, exc]
        raise AssertionError("the memoized failure was not raised again")

    errors = run(action)
    assert len(errors) == 3
    assert all(isinstance(error, InvalidResponseError) for error in errors)
    assert len(httpx_mock.get_requests()) == 1


def test_auth_failures_are_not_kept(httpx_mock: HTTPXMock) -> None:
    # After a 401 a provider may log in again and repeat the request: it must really go out.
    httpx_mock.add_response(status_code=401)
    httpx_mock.add_response(json={"id": 603})

    async def action(http: ProviderHttp) -> Any:
        with request_memo():
            with pytest.raises(AuthError):
                await get_movie(http)
            return await get_movie(http)

    assert run(action) == {"id": 603}
    assert len(httpx_mock.get_requests()) == 2


def test_different_requests_are_all_sent_and_counted(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={}, is_reusable=True)

    async def action(http: ProviderHttp) -> RequestMemo:
        with request_memo() as memo:
            await http.get_json("/movie/603", params={"api_key": KEY})
            await http.get_json("/movie/603", params={"api_key": KEY, "language": "de"})
            await http.get_json("/movie/604", params={"api_key": KEY})
            await http.get_json("/movie/603", params={"api_key": KEY})
        return memo

    memo = run(action)
    assert len(httpx_mock.get_requests()) == 3
    assert memo.sent == {
        ("demo", "GET", "/movie/603?api_key=***"): 1,
        ("demo", "GET", "/movie/603?api_key=***&language=de"): 1,
        ("demo", "GET", "/movie/604?api_key=***"): 1,
    }
    assert all(KEY not in "".join(key) for key in memo.sent)
    assert KEY not in repr(memo)
    assert memo.total == 3
    assert memo.by_provider() == {"demo": 3}


def test_outside_a_memo_nothing_is_memoized(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"n": 1}, is_reusable=True)

    async def action(http: ProviderHttp) -> None:
        await get_movie(http)
        await asyncio.gather(get_movie(http), get_movie(http))

    run(action)
    assert len(httpx_mock.get_requests()) == 3


def test_memo_false_always_sends(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"token": "t"}, is_reusable=True)

    async def action(http: ProviderHttp) -> RequestMemo:
        with request_memo() as memo:
            for _ in range(2):
                await http.request("POST", "/login", json_body={"apikey": KEY}, memo=False)
        return memo

    memo = run(action)
    assert len(httpx_mock.get_requests()) == 2
    assert memo.total == 0  # only memoized requests are counted


def test_separate_memos_do_not_share(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={}, is_reusable=True)

    async def action(http: ProviderHttp) -> None:
        for _ in range(2):
            with request_memo():
                await get_movie(http)

    run(action)
    assert len(httpx_mock.get_requests()) == 2


def test_a_cancelled_request_does_not_strand_its_waiters(httpx_mock: HTTPXMock) -> None:
    answer = threading.Event()  # the first request is answered only after it was cancelled

    async def slow(request: httpx.Request) -> httpx.Response:
        while not answer.is_set():  # noqa: ASYNC110 - over real HTTP, on the server's thread
            await asyncio.sleep(0.002)
        return httpx.Response(200, json={"id": 603})

    httpx_mock.add_callback(slow, is_reusable=True)

    async def action(http: ProviderHttp) -> Any:
        with request_memo():
            first = asyncio.create_task(get_movie(http))
            await asyncio.sleep(0.01)
            waiter = asyncio.create_task(get_movie(http))
            await asyncio.sleep(0.01)
            first.cancel()
            answer.set()
            with pytest.raises(UnavailableError, match="cancelled"):
                await asyncio.wait_for(waiter, 1)
            return await asyncio.wait_for(get_movie(http), 1)  # a later call sends again

    assert run(action) == {"id": 603}
    assert len(httpx_mock.get_requests()) == 2


# -- retries ----------------------------------------------------------------------------------


def test_default_policy_is_automated() -> None:
    assert RetryPolicy(attempts=2, retry_rate_limited=False) == AUTOMATED
    assert INTERACTIVE.retry_rate_limited is True
    assert INTERACTIVE.attempts >= 2


def test_automated_does_not_retry_429(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None]
) -> None:
    attempts(3)
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "1"}, is_optional=True)
    httpx_mock.add_response(json={}, is_optional=True)
    with pytest.raises(RateLimitedError):
        run(get_movie)
    assert len(httpx_mock.get_requests()) == 1


def test_interactive_retries_429(httpx_mock: HTTPXMock, attempts: Callable[[int], None]) -> None:
    attempts(3)
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "2"})
    httpx_mock.add_response(status_code=429)
    httpx_mock.add_response(json={"id": 603})

    async def action(http: ProviderHttp) -> tuple[Any, RequestMemo]:
        with retry_policy(INTERACTIVE), request_memo() as memo:
            return await get_movie(http), memo

    stats = TrafficStats()
    result, memo = run(action, stats=stats)
    assert result == {"id": 603}
    assert len(httpx_mock.get_requests()) == 3
    assert memo.total == 3  # every attempt that went out is counted
    assert stats.rate_limited["demo"] == 2


def test_interactive_gives_up_after_the_attempts(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None]
) -> None:
    attempts(3)
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "1"}, is_reusable=True)

    async def action(http: ProviderHttp) -> Any:
        with retry_policy(INTERACTIVE):
            return await get_movie(http)

    with pytest.raises(RateLimitedError, match=r"retry after 1 s"):
        run(action)
    assert len(httpx_mock.get_requests()) == 3


def test_interactive_does_not_wait_longer_than_max_wait(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None]
) -> None:
    attempts(3)
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "3600"}, is_optional=True)
    httpx_mock.add_response(json={}, is_optional=True)

    async def action(http: ProviderHttp) -> Any:
        with retry_policy(INTERACTIVE):
            return await get_movie(http)

    with pytest.raises(RateLimitedError) as info:
        run(action)
    assert info.value.retry_after == 3600
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(("header", "wait"), [("0.02", 0.02), ("0", 0.0)])
def test_interactive_waits_what_retry_after_says(
    httpx_mock: HTTPXMock, header: str, wait: float
) -> None:
    stamina.set_testing(False)  # real waits, but tiny ones
    waits: list[float] = []
    previous = stamina.instrumentation.get_on_retry_hooks()
    stamina.instrumentation.set_on_retry_hooks([lambda details: waits.append(details.wait_for)])
    httpx_mock.add_response(status_code=429, headers={"Retry-After": header})
    httpx_mock.add_response(json={"id": 603})

    async def action(http: ProviderHttp) -> Any:
        with retry_policy(INTERACTIVE):
            return await get_movie(http)

    try:
        assert run(action) == {"id": 603}
    finally:
        stamina.instrumentation.set_on_retry_hooks(list(previous))
    assert waits == [wait]  # "Retry-After: 0" means retry at once, not "do not retry"


def test_a_quota_until_a_known_time_is_not_retried(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None]
) -> None:
    attempts(3)
    tomorrow = datetime.now(UTC) + timedelta(days=1)

    def quota(status: int, body: Any) -> ProviderError | None:
        if status == 401 and isinstance(body, dict) and body.get("Error") == "limit":
            return RateLimitedError("demo", "daily limit reached", until=tomorrow)
        return None

    httpx_mock.add_response(status_code=401, json={"Error": "limit"}, is_reusable=True)

    async def action(http: ProviderHttp) -> Any:
        with retry_policy(INTERACTIVE):
            return await http.get_json("/", classify=quota)

    with pytest.raises(RateLimitedError) as info:
        run(action)
    assert info.value.until == tomorrow
    assert len(httpx_mock.get_requests()) == 1


@mock_only
@pytest.mark.parametrize("policy", [AUTOMATED, INTERACTIVE])
def test_transient_errors_are_retried(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None], policy: RetryPolicy
) -> None:
    attempts(3)
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_exception(httpx.ConnectError("reset"))
    httpx_mock.add_response(json={"id": 603})

    async def action(http: ProviderHttp) -> Any:
        with retry_policy(policy):
            return await get_movie(http)

    assert run(action) == {"id": 603}
    assert len(httpx_mock.get_requests()) == 3


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthError), (403, AuthError), (404, InvalidResponseError), (400, InvalidResponseError)],
)
def test_permanent_errors_are_never_retried(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None], status: int, kind: type[Exception]
) -> None:
    attempts(3)
    httpx_mock.add_response(status_code=status, is_reusable=True)

    async def action(http: ProviderHttp) -> Any:
        with retry_policy(INTERACTIVE):
            return await get_movie(http)

    with pytest.raises(kind):
        run(action)
    assert len(httpx_mock.get_requests()) == 1


def test_a_patient_provider_waits_out_a_short_429_even_when_automated(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None]
) -> None:
    attempts(3)
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "2"})
    httpx_mock.add_response(json={"id": 603})
    patient = RetryPolicy(attempts=2, retry_rate_limited=False, patient=frozenset({"demo"}))

    async def action(http: ProviderHttp) -> Any:
        with retry_policy(patient):
            return await get_movie(http)

    assert run(action) == {"id": 603}
    assert len(httpx_mock.get_requests()) == 2


def test_a_patient_provider_does_not_wait_a_long_429(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None]
) -> None:
    attempts(3)
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "120"})
    patient = RetryPolicy(attempts=2, retry_rate_limited=False, patient=frozenset({"demo"}))

    async def action(http: ProviderHttp) -> Any:
        with retry_policy(patient):
            return await get_movie(http)

    with pytest.raises(RateLimitedError):
        run(action)
    assert len(httpx_mock.get_requests()) == 1


def test_the_rate_limit_listener_hears_every_429_before_any_retry(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None]
) -> None:
    # The gate must pause the provider the moment the 429 arrives, not after the retry's wait.
    attempts(3)
    heard: list[tuple[float | None, int]] = []
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "2"})
    httpx_mock.add_response(json={"id": 603})

    async def action(http: ProviderHttp) -> Any:
        http.on_rate_limited = lambda wait, why: heard.append(
            (wait, len(httpx_mock.get_requests()))
        )
        with retry_policy(INTERACTIVE):
            return await get_movie(http)

    assert run(action) == {"id": 603}
    assert heard == [(2.0, 1)]  # told after the first request, before the second went out


@pytest.mark.parametrize("depth", [100_000, 2_000, 65])
def test_deeply_nested_json_is_the_providers_bad_response(
    httpx_mock: HTTPXMock, depth: int
) -> None:
    error = failure(httpx_mock, status_code=200, content=b"[" * depth + b"]" * depth)
    assert type(error) is InvalidResponseError
    assert error.provider == "demo"
    assert "nested more than 64 levels" in str(error)


def test_json_at_the_depth_limit_is_read(httpx_mock: HTTPXMock) -> None:
    body = b'{"a":' * 63 + b"[1]" + b"}" * 63
    httpx_mock.add_response(content=body)
    assert run(get_movie) is not None


def test_invalid_bodies_are_not_retried(
    httpx_mock: HTTPXMock, attempts: Callable[[int], None]
) -> None:
    attempts(3)
    httpx_mock.add_response(content=b"<html>", is_reusable=True)
    with pytest.raises(InvalidResponseError):
        run(get_movie)
    assert len(httpx_mock.get_requests()) == 1


def test_retry_policy_is_scoped_to_the_block() -> None:
    from metarr.http import _policy

    with retry_policy(INTERACTIVE):
        assert _policy.get() is INTERACTIVE
    assert _policy.get() is AUTOMATED


# -- custom classification --------------------------------------------------------------------


def test_a_classify_hook_wins_over_the_defaults(httpx_mock: HTTPXMock) -> None:
    seen: list[tuple[int, Any]] = []

    def classify(status: int, body: Any) -> ProviderError | None:
        seen.append((status, body))
        if isinstance(body, dict) and body.get("Error") == "Request limit reached!":
            return RateLimitedError("demo", "daily request limit reached")
        if isinstance(body, dict) and body.get("Response") == "False":
            return NotFoundError("demo", body.get("Error", ""))
        return None

    stats = TrafficStats()
    httpx_mock.add_response(status_code=401, json={"Error": "Request limit reached!"})
    httpx_mock.add_response(
        status_code=200, json={"Response": "False", "Error": "Movie not found!"}
    )
    httpx_mock.add_response(status_code=401, json={"Error": "Invalid API key!"})
    httpx_mock.add_response(status_code=200, json={"Title": "Heat"})

    def fetch(http: ProviderHttp) -> Awaitable[Any]:
        return http.get_json("/", params={"apikey": KEY}, classify=classify)

    with pytest.raises(RateLimitedError, match="daily request limit"):
        run(fetch, stats=stats)
    with pytest.raises(NotFoundError, match="Movie not found!"):
        run(fetch)
    with pytest.raises(AuthError):  # the hook returned None: default classification
        run(fetch)
    assert run(fetch) == {"Title": "Heat"}
    assert [status for status, _ in seen] == [401, 200, 401, 200]
    assert stats.rate_limited["demo"] == 1


def test_classify_sees_none_for_a_body_that_is_not_json(httpx_mock: HTTPXMock) -> None:
    seen: list[Any] = []

    def classify(status: int, body: Any) -> ProviderError | None:
        seen.append(body)
        return None

    httpx_mock.add_response(status_code=503, text="<html>down</html>")
    with pytest.raises(UnavailableError):
        run(lambda http: http.get_json("/", classify=classify))
    assert seen == [None]


# -- parse_retry_after ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("99999999", 86_400.0),
        ("inf", 86_400.0),
        ("nan", None),
        ("soon", None),
        ("Wed, 32 Foo 2015", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: retry now
        ("Wed, 21 Oct 2015 07:28:00", 0.0),  # no zone: taken as UTC
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_future_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    seconds = parse_retry_after(email.utils.format_datetime(when, usegmt=True))
    assert seconds is not None
    assert 115 <= seconds <= 120


def test_parse_retry_after_far_future_is_clamped() -> None:
    when = datetime.now(UTC) + timedelta(days=30)
    assert parse_retry_after(email.utils.format_datetime(when, usegmt=True)) == 86_400.0


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": NaN, "b": Infinity}',
        b'{"big": 1180591620717411303424, "neg": -1180591620717411303424}',
        b'["\\ud800 lone", "\\udc00"]',
        b'{"x": 1e400, "y": 1.0000000000000002, "z": -0.0}',
        b'{"k": 1, "k": 2}',
        b"\xef\xbb\xbf{}",
        b'"\xc3\xa9t\xc3\xa9"',
        b"[" * 70 + b"]" * 70,
    ],
)
def test_bodies_parse_as_the_standard_library_parses_them(body: bytes) -> None:
    # orjson reads what it is proven to read alike (tests/test_parse_shortcut.py); not these.
    parsed, error = _parse(body)
    try:
        expected: Any = json.loads(body)
    except ValueError as exc:
        expected = f"body is not JSON ({type(exc).__name__})"
    if isinstance(expected, str) and expected.startswith("body is not JSON"):
        assert (parsed, error) == (None, expected)
        return
    if "levels deep" in (error or ""):
        assert body.startswith(b"[" * 65)
        return
    assert error is None
    assert repr(parsed) == repr(expected)  # NaN, -0.0 and big ints alike
