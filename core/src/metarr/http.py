"""The HTTP layer every provider plugin uses.

One `httpx.AsyncClient` per run is shared by all providers; each provider talks through its
own `ProviderHttp`, which resolves paths against the provider's ``base_url``, caps response
size and total time, classifies failures into `metarr.errors`, retries what the current
`RetryPolicy` allows (stamina), redacts secrets from every message, and reuses responses
through the current `RequestMemo` so one identification never sends the same request twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import stamina

from metarr import __version__
from metarr.errors import (
    AuthError,
    InvalidResponseError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    UnavailableError,
)
from metarr.redaction import redact

log = logging.getLogger("metarr.http")

USER_AGENT = f"metarr/{__version__} (movie metadata orchestrator; python-httpx)"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
DEFAULT_RETRY_AFTER = 1.0

# A classifier sees (status, parsed body or None) and may return the error to raise, or None
# to let the default classification run. OMDb needs it: its quota error comes as HTTP 401.
Classifier = Callable[[int, Any], ProviderError | None]


TRANSPORT_VAR = "METARR_HTTP_TRANSPORT"
TRANSPORTS = ("auto", "aiohttp", "httpx")


def new_client(*, max_connections: int = 64, transport: str | None = None) -> httpx.AsyncClient:
    """The run's shared client: pooled connections, a metarr User-Agent, JSON accepted.

    ``transport`` moves the bytes under httpx: ``"auto"`` (the default, `AdaptiveTransport`:
    httpx's own for the first requests, then aiohttp's, which costs about half the CPU per
    request but 100 ms more to load), ``"aiohttp"`` or ``"httpx"`` (httpcore) throughout.
    Without an argument ``METARR_HTTP_TRANSPORT`` decides; and when httpx's own transport has
    been replaced by a test double (pytest-httpx, for one), httpx's is used throughout so the
    double sees every request.
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=32)
    choice = transport or os.environ.get(TRANSPORT_VAR, "").strip().lower() or "auto"
    if choice not in TRANSPORTS:
        raise ValueError(f"unknown HTTP transport {choice!r}: use {', '.join(TRANSPORTS)}")
    custom: httpx.AsyncBaseTransport | None = None
    if choice != "httpx" and (transport is not None or not _httpx_transport_replaced()):
        from metarr.transport import AdaptiveTransport, AiohttpTransport

        if choice == "aiohttp":
            custom = AiohttpTransport(limits=limits)
        else:
            custom = AdaptiveTransport(limits=limits)
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        limits=limits,
        follow_redirects=False,
        transport=custom,
    )


def _httpx_transport_replaced() -> bool:
    """Whether httpx's own transport has been patched (a test double is listening)."""
    handler = httpx.AsyncHTTPTransport.handle_async_request
    return not getattr(handler, "__module__", "").startswith("httpx.")


@attrs.frozen
class RetryPolicy:
    """How hard to retry: automated runs never wait out a 429; people get a few backed-off tries.

    ``attempts`` bounds tries for transient failures (network, timeout, 5xx) and, when
    ``retry_rate_limited``, for 429s too, waiting the provider's Retry-After when it is at most
    ``max_wait`` seconds.
    """

    attempts: int
    retry_rate_limited: bool
    max_wait: float = 30.0


AUTOMATED = RetryPolicy(attempts=2, retry_rate_limited=False)
INTERACTIVE = RetryPolicy(attempts=3, retry_rate_limited=True)
_policy: contextvars.ContextVar[RetryPolicy] = contextvars.ContextVar("policy", default=AUTOMATED)


@contextmanager
def retry_policy(policy: RetryPolicy) -> Iterator[None]:
    """Use ``policy`` for the requests made inside the block (and the tasks it starts)."""
    token = _policy.set(policy)
    try:
        yield
    finally:
        _policy.reset(token)


@attrs.define
class RequestMemo:
    """Responses (and failures) of one identification, so no request is ever sent twice.

    ``sent`` counts the requests that really went out, by (provider, method, path?query) with
    secrets masked; a count above 1 means the same request was sent twice.
    """

    _entries: dict[tuple[Any, ...], asyncio.Future[Any]] = attrs.field(factory=dict)
    sent: Counter[tuple[str, str, str]] = attrs.field(factory=Counter)

    @property
    def total(self) -> int:
        """How many requests went out."""
        return sum(self.sent.values())

    def responses(self) -> list[tuple[str, str, str, Any]]:
        """The successful exchanges so far: (provider, method, ``url?query`` with secrets
        masked, parsed body), in the order they were first asked for."""
        done = []
        for key, future in self._entries.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                provider, method, url, params, *_ = key
                query = str(httpx.QueryParams(dict(params)))
                done.append(
                    (provider, method, redact(f"{url}?{query}" if query else url), future.result())
                )
        return done

    def by_provider(self) -> dict[str, int]:
        """Requests sent per provider."""
        counts: Counter[str] = Counter()
        for (provider, _, _), n in self.sent.items():
            counts[provider] += n
        return dict(counts)


_memo: contextvars.ContextVar[RequestMemo | None] = contextvars.ContextVar("memo", default=None)


@contextmanager
def request_memo(memo: RequestMemo | None = None) -> Iterator[RequestMemo]:
    """Reuse responses inside the block; yields the memo (for its request counts)."""
    memo = memo or RequestMemo()
    token = _memo.set(memo)
    try:
        yield memo
    finally:
        _memo.reset(token)


@attrs.define
class TrafficStats:
    """Requests sent and 429s received per provider over a whole run (benchmarks, batch summary)."""

    requests: Counter[str] = attrs.field(factory=Counter)
    rate_limited: Counter[str] = attrs.field(factory=Counter)


class ProviderHttp:
    """One provider's view of the shared client. Paths are relative to ``base_url``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        provider: str,
        base_url: str,
        timeout: float = 10.0,
        secrets: tuple[str, ...] = (),
        max_bytes: int = MAX_RESPONSE_BYTES,
        stats: TrafficStats | None = None,
    ) -> None:
        self.client = client
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.stats = stats or TrafficStats()
        self._secrets = secrets

    def __repr__(self) -> str:
        return f"ProviderHttp(provider={self.provider!r}, base_url={self.base_url!r})"

    async def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        classify: Classifier | None = None,
    ) -> Any:
        """GET ``base_url + path`` and return the parsed JSON body.

        Raises `NotFoundError` (404), `AuthError` (401/403), `RateLimitedError` (429, with
        ``retry_after``), `UnavailableError` (network, timeout, 5xx), `InvalidResponseError`
        (not JSON, too large); ``classify`` may claim a response first.
        """
        return await self.request("GET", path, params=params, headers=headers, classify=classify)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        classify: Classifier | None = None,
        memo: bool = True,
    ) -> Any:
        """Send one request (memoized per identification unless ``memo=False``)."""
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        current = _memo.get() if memo else None
        if current is None:
            return await self._send_with_retries(
                method, path, clean_params, json_body, headers, classify
            )
        key = (
            self.provider,
            method,
            self.base_url + path,
            tuple(sorted((k, str(v)) for k, v in clean_params.items())),
            json.dumps(json_body, sort_keys=True),
            tuple(sorted((headers or {}).items())),
        )
        future = current._entries.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            current._entries[key] = future
            try:
                result = await self._send_with_retries(
                    method, path, clean_params, json_body, headers, classify, current
                )
            except Exception as exc:
                future.set_exception(exc)
                future.exception()  # mark retrieved: waiters re-raise it themselves
                if isinstance(exc, AuthError):
                    del current._entries[key]  # a retry after a new login must really go out
                raise
            except BaseException:  # cancelled: waiters get an error, a later call sends again
                del current._entries[key]
                future.set_exception(UnavailableError(self.provider, "request cancelled"))
                future.exception()
                raise
            future.set_result(result)
            return result
        return await asyncio.shield(future)

    async def _send_with_retries(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        json_body: Any,
        headers: Mapping[str, str] | None,
        classify: Classifier | None,
        memo: RequestMemo | None = None,
    ) -> Any:
        policy = _policy.get()

        def backoff(exc: Exception) -> bool | float:
            if isinstance(exc, RateLimitedError):
                if not policy.retry_rate_limited or exc.until is not None:
                    return False
                wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER
                return wait if wait <= policy.max_wait else False
            return isinstance(exc, UnavailableError)

        async for attempt in stamina.retry_context(
            on=backoff, attempts=policy.attempts, timeout=None, wait_max=policy.max_wait
        ):
            with attempt:
                if memo is not None:
                    memo.sent[(self.provider, method, self._describe(path, params))] += 1
                return await self._send_once(method, path, params, json_body, headers, classify)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        json_body: Any,
        headers: Mapping[str, str] | None,
        classify: Classifier | None,
    ) -> Any:
        url = self.base_url + path
        self.stats.requests[self.provider] += 1
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                request = self.client.build_request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=self.timeout,
                )
                response = await self.client.send(request, stream=True)
                try:
                    body = await self._read_capped(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise UnavailableError(self.provider, f"no answer within {self.timeout:g} s") from None
        except httpx.TimeoutException:
            raise UnavailableError(self.provider, f"timed out after {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise UnavailableError(
                self.provider, self._redact(f"network error: {type(exc).__name__}: {exc}")
            ) from None
        elapsed = (time.perf_counter() - started) * 1000
        log.debug(
            "%s %s %s -> %s (%d bytes, %.0f ms)",
            self.provider,
            method,
            self._redact(str(request.url)),
            response.status_code,
            len(body),
            elapsed,
        )
        return self._interpret(response, body, classify)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise InvalidResponseError(
                self.provider,
                f"response of {int(declared)} bytes exceeds the {self.max_bytes} byte cap",
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise InvalidResponseError(
                    self.provider,
                    f"response exceeds the {self.max_bytes} byte cap; reading stopped",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _interpret(self, response: httpx.Response, body: bytes, classify: Classifier | None) -> Any:
        status = response.status_code
        parsed: Any = None
        parse_error: str | None = None
        try:
            parsed = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError) as exc:
            parse_error = f"body is not JSON ({type(exc).__name__})"
        if classify is not None:
            claimed = classify(status, parsed)
            if claimed is not None:
                if isinstance(claimed, RateLimitedError):
                    self.stats.rate_limited[self.provider] += 1
                raise claimed
        if status == 429:
            self.stats.rate_limited[self.provider] += 1
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            raise RateLimitedError(
                self.provider, f"rate limited (HTTP 429){hint}", retry_after=retry_after
            )
        if status in (401, 403):
            raise AuthError(
                self.provider,
                f"credentials rejected (HTTP {status}): check the {self.provider} API key",
            )
        if status == 404:
            raise NotFoundError(self.provider, "not found (HTTP 404)")
        if status >= 500 or status in (408, 425):
            raise UnavailableError(self.provider, f"server error (HTTP {status})")
        if status >= 400:
            raise InvalidResponseError(self.provider, f"request refused (HTTP {status})")
        if not 200 <= status < 300:
            raise InvalidResponseError(self.provider, f"unexpected HTTP {status}")
        if parse_error is not None:
            raise InvalidResponseError(self.provider, parse_error)
        return parsed

    def _describe(self, path: str, params: Mapping[str, Any]) -> str:
        """The request as ``path?query`` with secrets masked (for counts and logs)."""
        query = str(httpx.QueryParams(params))
        return self._redact(f"{path}?{query}" if query else path)

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:
        return None
    return max(0.0, min(seconds, 86_400.0))
