"""The HTTP layer every provider plugin uses.

One `httpx.AsyncClient` per run is shared by all providers; each provider talks through its
own `ProviderHttp`, which resolves paths against the provider's ``base_url``, caps response
size, nesting depth and total time, classifies failures into `metarr.errors`, retries what the
current `RetryPolicy` allows (stamina), redacts secrets from every message, and reuses
responses through the current `RequestMemo` so one identification never sends the same request
twice.

**Not found is the plugin's to say.** Only a plugin knows its API's not-found answer (TMDB:
HTTP 404 with ``status_code`` 34; OMDb: HTTP 200 with ``"Error": "Movie not found!"``), so a
plugin declares it with a ``classify`` callback that returns `NotFoundError` for exactly that
answer. A 404 nobody claims is an `InvalidResponseError` ("check base_url"): a base URL missing
its version path answers 404 to everything, and that must be an error (asked again later), never
a settled "this provider has no such movie".

Secrets: each `ProviderHttp` registers the secrets it sends (however they were configured)
and puts the redacting filter on the loggers it drives; a parsed body is scrubbed of them
(`metarr.redaction.scrub`) before any plugin sees it. stamina's notice of a retry metarr
scheduled is logged at DEBUG, not WARNING: nothing reaches a host's stderr, ``--debug`` shows it.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import functools
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import quote_plus

import attrs
import httpx
import orjson

from metarr import __version__
from metarr.config import env_name
from metarr.errors import (
    AuthError,
    InvalidResponseError,
    ProviderError,
    RateLimitedError,
    UnavailableError,
)
from metarr.models import Responses
from metarr.redaction import (
    contains_secret,
    install_log_redaction,
    mask_secrets,
    redact,
    register,
    scrub,
)

if TYPE_CHECKING:
    from metarr.transport import WireTransport

log = logging.getLogger("metarr.http")
_httpx_log = logging.getLogger("httpx")  # a direct GET logs what httpx's client would
P = ParamSpec("P")
R = TypeVar("R")

USER_AGENT = f"metarr/{__version__} (movie metadata orchestrator; python-httpx)"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
MAX_JSON_DEPTH = 64  # no provider API nests a tenth of this; deeper bodies are refused
DEFAULT_RETRY_AFTER = 1.0
REUSE_SECONDS = 600.0  # a search's answers are reused by a choice made within this time

# A classifier sees (status, parsed body or None) and may return the error to raise, or None
# to let the default classification run. OMDb needs it (its quota error comes as HTTP 401), and
# every plugin uses it to claim its API's not-found answer (see the module docstring).
Classifier = Callable[[int, Any], ProviderError | None]
# Told at once when a provider answers 429 (seconds to wait, or None; the reason), so the
# provider's gate holds every other request back while this one waits to be retried.
RateLimitListener = Callable[[float | None, str], None]
# Awaited before each retry of a request, so a retry queues for its provider again (its gate
# admits it within the concurrency limit, after the pause) instead of firing with the others.
RetryAdmission = Callable[[], Awaitable[None]]


TRANSPORT_VAR = "METARR_HTTP_TRANSPORT"
TRANSPORTS = ("auto", "wire", "httpx")


def new_client(*, max_connections: int = 64, transport: str | None = None) -> httpx.AsyncClient:
    """The run's shared client: pooled connections, a metarr User-Agent, JSON accepted.

    ``transport`` moves the bytes under httpx: ``"auto"`` (the default) and ``"wire"`` send
    through `metarr.transport.WireTransport` (metarr's own HTTP/1.1 client, from the first
    request), ``"httpx"`` through httpx's own (httpcore). Without an argument
    ``METARR_HTTP_TRANSPORT`` decides; and when httpx's own transport has been replaced by a
    test double (pytest-httpx, for one), ``"auto"`` is httpx's so the double sees every request.
    """
    # Every connection may wait for the next request (until ``keepalive_expiry``): a batch's
    # requests come in bursts, and closing what one burst opened above a lower count only
    # made the next open them again (a connection and, on a real API, a TLS handshake each)
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    choice = transport or os.environ.get(TRANSPORT_VAR, "").strip().lower() or "auto"
    if choice not in TRANSPORTS:
        raise ValueError(f"unknown HTTP transport {choice!r}: use {', '.join(TRANSPORTS)}")
    custom: httpx.AsyncBaseTransport | None = None
    if choice != "httpx" and (transport is not None or not _httpx_transport_replaced()):
        from metarr.transport import WireTransport

        custom = WireTransport(limits=limits)
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
    ``max_wait`` seconds. ``patient`` names providers whose short 429s are waited out even
    when ``retry_rate_limited`` is off (an automated run cannot do without TMDB).
    """

    attempts: int
    retry_rate_limited: bool
    max_wait: float = 30.0
    patient: frozenset[str] = frozenset()


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
    secrets masked; a count above 1 means the same request was sent twice. ``known`` are
    answers received earlier (a search's, see `reusing`): such a request is not sent at all.
    """

    _entries: dict[tuple[Any, ...], asyncio.Future[Any]] = attrs.field(factory=dict, repr=False)
    known: Responses = attrs.field(factory=Responses)
    # (provider, method, path, query, the provider's secrets): masked when `sent` is read,
    # not on every request (the masking costs more than the rest of the count).
    _sent_as_is: Counter[tuple[str, str, str, str, tuple[str, ...]]] = attrs.field(
        factory=Counter, repr=False, init=False
    )

    @property
    def sent(self) -> Counter[tuple[str, str, str]]:
        """Requests that went out, by (provider, method, ``path?query`` with secrets masked)."""
        counts: Counter[tuple[str, str, str]] = Counter()
        for (provider, method, path, query, secrets), n in self._sent_as_is.items():
            counts[(provider, method, redact(f"{path}?{query}" if query else path, secrets))] += n
        return counts

    def count(
        self, provider: str, method: str, path: str, query: str, secrets: tuple[str, ...]
    ) -> None:
        """Count one request sent (``query`` as it went out; ``secrets``: the provider's)."""
        self._sent_as_is[(provider, method, path, query, secrets)] += 1

    @property
    def total(self) -> int:
        """How many requests went out."""
        return sum(self._sent_as_is.values())

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
        for (provider, *_), n in self._sent_as_is.items():
            counts[provider] += n
        return dict(counts)

    def answers(self) -> Responses:
        """Every successful answer so far (and the known ones), to reuse later (`reusing`)."""
        return self.known.joined(
            {
                key: future.result()
                for key, future in self._entries.items()
                if future.done() and not future.cancelled() and future.exception() is None
            }
        )


_memo: contextvars.ContextVar[RequestMemo | None] = contextvars.ContextVar("memo", default=None)
_reused: contextvars.ContextVar[Responses | None] = contextvars.ContextVar("reused", default=None)


@contextmanager
def reusing(responses: Responses) -> Iterator[None]:
    """Every `request_memo` opened inside the block starts with these answers: a request one
    of them answers is not sent again (a person confirming a candidate a search fetched).
    Answers older than `REUSE_SECONDS` are not reused: the providers are asked again."""
    fresh = time.monotonic() - responses.received <= REUSE_SECONDS
    token = _reused.set(responses if fresh else None)
    try:
        yield
    finally:
        _reused.reset(token)


@contextmanager
def request_memo(memo: RequestMemo | None = None) -> Iterator[RequestMemo]:
    """Reuse responses inside the block; yields the memo (for its request counts)."""
    memo = memo or RequestMemo(known=_reused.get() or Responses())
    token = _memo.set(memo)
    try:
        yield memo
    finally:
        _memo.reset(token)


_retrying: contextvars.ContextVar[bool] = contextvars.ContextVar("retrying", default=False)


class RetryNotices(logging.Filter):
    """On the ``stamina`` logger: a notice of a retry metarr scheduled becomes a DEBUG record
    naming its cause, and is dropped unless that logger is enabled for DEBUG. The host's own
    stamina retries are left as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _retrying.get() or record.levelno <= logging.DEBUG:
            return True
        cause = getattr(record, "stamina.caused_by", "")
        wait = getattr(record, "stamina.wait_for", None)
        record.msg = redact(
            f"{record.getMessage()}: retry {getattr(record, 'stamina.retry_num', '?')}"
            + (f" in {wait:g} s" if isinstance(wait, int | float) else "")
            + (f" after {cause}" if cause else "")
        )
        record.args = None
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_RETRY_NOTICES = RetryNotices()


def _metarr_retries(send: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Mark the retries scheduled inside ``send`` as metarr's (see `RetryNotices`)."""

    @functools.wraps(send)
    async def marked(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _retrying.set(True)
        try:
            return await send(*args, **kwargs)
        finally:
            _retrying.reset(token)

    return marked


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
        self.on_rate_limited: RateLimitListener | None = None
        self.before_retry: RetryAdmission | None = None
        self._secrets = secrets
        self._direct = True  # False: always through httpx's client (benchmarks, tests)
        self._route: WireTransport | None = None
        self._routed = False
        self._client_headers: tuple[list[tuple[bytes, bytes]], list[tuple[str, str]]] = ([], [])
        register(*secrets)
        install_log_redaction(f"metarr.provider.{provider}")
        stamina_log = logging.getLogger("stamina")
        if _RETRY_NOTICES not in stamina_log.filters:
            stamina_log.addFilter(_RETRY_NOTICES)

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
        """GET ``base_url + path`` and return the parsed JSON body (None for an empty one).

        ``params`` become the query string (values ``None`` are left out, the others sent as
        text); ``headers`` are added to the run's (a metarr User-Agent, ``Accept:
        application/json``). Put credentials in either: they are masked in every log line and
        error message, and an answer that echoes one has it masked before you see it.

        Raises `AuthError` (401/403), `RateLimitedError` (429, with ``retry_after``),
        `UnavailableError` (network, timeout, 5xx), `InvalidResponseError` (not JSON, nested
        deeper than `MAX_JSON_DEPTH`, too large, other 4xx, and any 404 ``classify`` does not
        claim): `error_for_status` is that mapping. ``classify(status, parsed_body)`` sees every
        response first and may return the error to raise instead; return `NotFoundError` from
        it for your API's own not-found answer (the only way a request ends in
        `NotFoundError`). Within one identification an identical request is answered from
        memory; retries follow the run's policy.
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
            "null" if json_body is None else json.dumps(json_body, sort_keys=True),
            tuple(sorted((headers or {}).items())),
        )
        future = current._entries.get(key)
        if future is None:
            answered, body = current.known.body(key)
            if answered:
                return body
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
        """The first attempt, then (only after a failure the policy retries) stamina's."""
        policy = _policy.get()
        try:
            return await self._attempt(1, method, path, params, json_body, headers, classify, memo)
        except Exception as exc:
            if self._retryable(policy, exc) is False:  # a wait of 0.0 s is a retry at once
                raise
            first = exc
        return await self._retry(
            first, policy, method, path, params, json_body, headers, classify, memo
        )

    @_metarr_retries
    async def _retry(
        self,
        first: Exception,
        policy: RetryPolicy,
        method: str,
        path: str,
        params: dict[str, Any],
        json_body: Any,
        headers: Mapping[str, str] | None,
        classify: Classifier | None,
        memo: RequestMemo | None,
    ) -> Any:
        """stamina's retries after ``first`` (the first attempt's failure): its attempt 1
        re-raises it, so stamina waits, counts, gives up and logs exactly as if it had sent
        the first attempt itself (testing mode and ``stamina.set_active`` included)."""
        import stamina  # (imported by the first retry: most runs never retry)

        async for attempt in stamina.retry_context(
            on=functools.partial(self._retryable, policy),
            attempts=policy.attempts,
            timeout=None,
            wait_max=policy.max_wait,
        ):
            with attempt:
                if attempt.num == 1:
                    raise first
                return await self._attempt(
                    attempt.num, method, path, params, json_body, headers, classify, memo
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _retryable(self, policy: RetryPolicy, exc: Exception) -> bool | float:
        """stamina's ``on``: whether (or after how many seconds) ``exc`` is tried again."""
        if isinstance(exc, RateLimitedError):
            waits = policy.retry_rate_limited or self.provider in policy.patient
            if not waits or exc.until is not None:
                return False
            wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER
            return wait if wait <= policy.max_wait else False
        return isinstance(exc, UnavailableError)

    async def _attempt(
        self,
        num: int,
        method: str,
        path: str,
        params: dict[str, Any],
        json_body: Any,
        headers: Mapping[str, str] | None,
        classify: Classifier | None,
        memo: RequestMemo | None,
    ) -> Any:
        if num > 1 and self.before_retry is not None:
            await self.before_retry()
        query = _query(params)  # once per attempt: for the count and for a direct send
        if memo is not None:
            shown = query if query is not None else str(httpx.QueryParams(params))
            memo.count(self.provider, method, path, shown, self._secrets)
        return await self._send_once(method, path, params, query, json_body, headers, classify)

    async def _send_once(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        query: str | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
        classify: Classifier | None,
    ) -> Any:
        self.stats.requests[self.provider] += 1
        started = time.perf_counter()
        direct = self._direct_request(method, path, query, json_body, headers)
        try:
            async with asyncio.timeout(self.timeout):
                if direct is not None:
                    url, sent_headers, transport = direct
                    answer = await transport.get(url, sent_headers, self.timeout)
                    if _httpx_log.isEnabledFor(logging.INFO):
                        _httpx_log.info(
                            'HTTP Request: %s %s "%s %d %s"',
                            method,
                            url,
                            "HTTP/1.1",
                            answer.status,
                            answer.reason.decode("ascii", errors="ignore"),
                        )
                    try:
                        declared = answer.headers.get("content-length", "")
                        if answer.plain and declared.isdigit() and int(declared) <= self.max_bytes:
                            body = await answer.read()  # no more than declared: within the cap
                        else:
                            body = await self._read_capped(declared, answer.chunks())
                        if answer.set_cookies():  # httpx's client would keep them
                            self.client.cookies.extract_cookies(answer.as_httpx())
                    finally:
                        answer.release()
                    status, retry_after = answer.status, answer.headers.get("retry-after")
                else:
                    request = self.client.build_request(
                        method,
                        self.base_url + path,
                        params=params,
                        json=json_body,
                        headers=headers,
                        timeout=self.timeout,
                    )
                    url = str(request.url)
                    response = await self.client.send(request, stream=True)
                    try:
                        body = await self._read_capped(
                            response.headers.get("content-length", ""), response.aiter_bytes()
                        )
                    finally:
                        await response.aclose()
                    status, retry_after = response.status_code, response.headers.get("retry-after")
        except TimeoutError:
            raise UnavailableError(self.provider, f"no answer within {self.timeout:g} s") from None
        except httpx.TimeoutException:
            raise UnavailableError(self.provider, f"timed out after {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise UnavailableError(
                self.provider, self._redact(f"network error: {type(exc).__name__}: {exc}")
            ) from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %s -> %s (%d bytes, %.0f ms)",
                self.provider,
                method,
                self._redact(url),
                status,
                len(body),
                (time.perf_counter() - started) * 1000,
            )
        return self._interpret(status, retry_after, body, classify)

    def _direct_request(
        self,
        method: str,
        path: str,
        query: str | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
    ) -> tuple[str, list[tuple[str, str]], WireTransport] | None:
        """The URL, headers and transport to send this request with directly, exactly
        as httpx's client would send it; None when httpx's client must send it (it is not a
        plain GET, the client would add something of its own, or its transport is httpx's)."""
        if method != "GET" or json_body is not None or not _PLAIN_PATH.fullmatch(path):
            return None
        route = self._route if self._routed else self._find_route()
        # Cookies held: httpx's client sends them. (The jar's own dict, not len(jar), which
        # walks every cookie; a domain whose cookies all went leaves an empty entry behind,
        # which only sends the request through httpx's client.)
        if route is None or self.client.cookies.jar._cookies:  # type: ignore[attr-defined]
            return None
        client_headers = self.client.headers.raw
        if client_headers != self._client_headers[0]:
            self._client_headers = (
                client_headers,
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in client_headers],
            )
        sent = self._client_headers[1]
        if headers:
            if not all(_plain_header(k, v) for k, v in headers.items()):
                return None
            replaced = {k.lower() for k in headers}
            sent = [(k, v) for k, v in sent if k.lower() not in replaced]
            sent.extend(headers.items())
        if query is None:
            return None
        url = self.base_url + path
        return (f"{url}?{query}" if query else url), sent, route

    def _find_route(self) -> WireTransport | None:
        """The transport a direct send may use for ``base_url`` (None: none may), once."""
        from metarr.transport import WireTransport

        route: WireTransport | None = None
        client = self.client
        try:
            base = httpx.URL(self.base_url)
            transport = client._transport_for_url(base)
        except (httpx.InvalidURL, AttributeError):
            transport = None
        if (
            self._direct
            and isinstance(transport, WireTransport)
            and str(base) == self.base_url
            and base.scheme in ("http", "https")
            and not (base.query or base.fragment or base.userinfo)
            and client.auth is None
            and not client.follow_redirects
            and not client.params
            and not any(client.event_hooks.values())
        ):
            route = transport
        self._route, self._routed = route, True
        return route

    async def _read_capped(self, declared: str, chunks: AsyncIterator[bytes]) -> bytes:
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise InvalidResponseError(
                self.provider,
                f"response of {int(declared)} bytes exceeds the {self.max_bytes} byte cap",
            )
        parts: list[bytes] = []
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > self.max_bytes:
                raise InvalidResponseError(
                    self.provider,
                    f"response exceeds the {self.max_bytes} byte cap; reading stopped",
                )
            parts.append(chunk)
        return b"".join(parts)

    def _interpret(
        self, status: int, retry_after: str | None, body: bytes, classify: Classifier | None
    ) -> Any:
        parsed, parse_error = _parse(body)  # an echoed key goes no further (scrubbed)
        if classify is not None:
            claimed = classify(status, parsed)
            if claimed is not None:
                if isinstance(claimed, RateLimitedError):
                    self._rate_limited(claimed)
                raise claimed
        error = error_for_status(
            self.provider,
            status,
            retry_after=parse_retry_after(retry_after),
            hint=(
                f"check base_url ({env_name(self.provider, 'base_url')}, now "
                f"{self._redact(self.base_url)})"
                if status == 404
                else None
            ),
        )
        if error is not None:
            if isinstance(error, RateLimitedError):
                self._rate_limited(error)
            raise error
        if parse_error is not None:
            raise InvalidResponseError(self.provider, parse_error)
        return parsed

    def _rate_limited(self, error: RateLimitedError) -> None:
        self.stats.rate_limited[self.provider] += 1
        if self.on_rate_limited is not None:
            self.on_rate_limited(error.retry_after, error.detail)

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


_PLAIN_PATH = re.compile(r"(?:/[\w~!$&'()*+,;=:@-][\w.~!$&'()*+,;=:@-]*)*/?", re.ASCII)
"""A path httpx sends as it is: no character it would percent-encode, no ``.``/``..``
segment it would resolve, no empty segment, no query."""


def _plain_header(name: str, value: str) -> bool:
    """Whether httpx would send this header exactly as given (printable ASCII)."""
    return name.isascii() and name.isprintable() and value.isascii() and value.isprintable()


def _query(params: Mapping[str, Any]) -> str | None:
    """``params`` as the query string httpx makes of them (`httpx.QueryParams`: urllib's
    ``urlencode``, booleans as ``true``/``false``), or None for a value httpx would expand (a
    list or tuple: ``str(httpx.QueryParams(...))`` then)."""
    parts = []
    for name, value in params.items():
        if isinstance(value, list | tuple):
            return None
        text = "true" if value is True else "false" if value is False else str(value)
        parts.append(f"{_quoted(str(name))}={_quoted(text)}")
    return "&".join(parts)


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(text: str) -> str:
    """``quote_plus(text)``, without its work for text it leaves as it is (most of it)."""
    return text if _UNRESERVED.fullmatch(text) else quote_plus(text)


def error_for_status(
    provider: str,
    status: int,
    *,
    detail: str | None = None,
    hint: str | None = None,
    retry_after: float | None = None,
) -> ProviderError | None:
    """The error for an HTTP status, as the core classifies every response (None for 2xx).

    401/403 `AuthError`; 429 `RateLimitedError` (``retry_after`` seconds); 408, 425 and 5xx
    `UnavailableError`; 404 `InvalidResponseError` (a 404 the plugin does not claim as its
    API's not-found answer); any other status `InvalidResponseError`. ``detail`` replaces
    ``HTTP <status>`` in the message (TMDB: ``HTTP 401, TMDB code 7: invalid API key``);
    ``hint`` replaces the advice of a 401/403 (which setting to check) or a 404. A plugin's
    ``classify`` returns this for the statuses it adds detail to, and never copies the mapping.
    """
    shown = detail or f"HTTP {status}"
    if 200 <= status < 300:
        return None
    if status in (401, 403):
        return AuthError(
            provider, f"credentials rejected ({shown}): {hint or f'check the {provider} API key'}"
        )
    if status == 429:
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return RateLimitedError(provider, f"rate limited ({shown}){wait}", retry_after=retry_after)
    if status == 404:
        return InvalidResponseError(
            provider,
            f"{shown} that is not {provider}'s not-found answer: {hint or 'check base_url'}",
        )
    if status >= 500 or status in (408, 425):
        return UnavailableError(provider, f"server error ({shown})")
    if status >= 400:
        return InvalidResponseError(provider, f"request refused ({shown})")
    return InvalidResponseError(provider, f"unexpected {shown}")


def _parse(body: bytes) -> tuple[Any, str | None]:
    """The parsed JSON body, scrubbed of every registered secret (None when empty or
    unusable), and why it is unusable."""
    if not body:
        return None, None
    parsed = _read_quickly(body)
    if parsed is _UNREAD:
        try:
            parsed = json.loads(body)
        except RecursionError:
            return None, f"body is nested more than {MAX_JSON_DEPTH} levels deep"
        except (ValueError, UnicodeDecodeError) as exc:
            return None, f"body is not JSON ({type(exc).__name__})"
    if _plainly_clean(body):
        return parsed, None
    texts = _strings(parsed)
    if texts is None:
        return None, f"body is nested more than {MAX_JSON_DEPTH} levels deep"
    # One scan of every string at once; the walk that masks them runs only if it finds a
    # secret (a match across two strings only makes it run for nothing).
    joined = "\x00".join(texts)
    if mask_secrets(joined) != joined:
        parsed = scrub(parsed)
    return parsed, None


_UNREAD = object()
_DIGITS_AS_ZEROS = bytes(48 if byte in b"0123456789" else 32 for byte in range(256))
_LONG_NUMBER = b"0" * 19  # orjson reads an integer past 64 bits as a float


def _read_quickly(body: bytes) -> Any:
    """What ``json.loads`` makes of ``body``, read by orjson where it is proven to read the
    same (`_UNREAD` elsewhere): no escape (a lone surrogate), no run of 19 digits (an integer
    past 64 bits), and nothing orjson refuses (NaN, Infinity, 1e400, a BOM, another encoding,
    deeper nesting than it reads)."""
    if b"\\" in body or _LONG_NUMBER in body.translate(_DIGITS_AS_ZEROS):
        return _UNREAD
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _UNREAD


_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'"[]{}')


def _plainly_clean(body: bytes) -> bool:
    """Whether a body ``json.loads`` accepted is proven, from its bytes alone, to nest at most
    `MAX_JSON_DEPTH` levels and to hold no registered secret in any string (the walk over
    every string and its scan are then skipped; False only means "not proven").

    A UTF-8 body without a backslash has no JSON escape, so every string ``json.loads`` made
    of it, key or value, is a slice of its text, and a secret in any form in a slice is one in
    the text (`contains_secret`). Its every ``"`` delimits a string: what is left of the bytes
    outside the strings, the brackets, is its structure (`_nesting_within`)."""
    if b"\\" in body or json.detect_encoding(body) not in ("utf-8", "utf-8-sig"):
        return False
    if contains_secret(body.decode("utf-8", "surrogatepass")):
        return False
    return _nesting_within(body, MAX_JSON_DEPTH)


def _nesting_within(body: bytes, limit: int) -> bool:
    """Whether valid JSON in UTF-8 without a backslash nests lists and objects at most
    ``limit`` levels (False also when it is not proven: up to twice as deep as proven)."""
    skeleton = body.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    # Dropping two adjacent quotes (an empty string, or the end of one string and the start
    # of the next) keeps every remaining quote's role; between the quotes left, strings.
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[::2])
    rounds = 0
    while skeleton:  # each round takes off one or two levels: the empty lists, then objects
        rounds += 1
        if 2 * rounds > limit:
            return False
        skeleton = skeleton.replace(b"[]", b"").replace(b"{}", b"")
    return True


def _strings(value: Any, limit: int = MAX_JSON_DEPTH) -> list[str] | None:
    """Every string in parsed JSON, keys included, or None when it nests lists and objects
    more than ``limit`` levels (one walk for both, no recursion). ``value`` is what
    ``json.loads`` made: exact dicts, lists and strings (compared by type, the fastest test)."""
    if type(value) is str:
        return [value]
    if type(value) is not dict and type(value) is not list:
        return []
    found: list[str] = []
    add, extend = found.append, found.extend
    stack: list[tuple[Any, int]] = [(value, 1)]
    push, pop = stack.append, stack.pop
    while stack:
        item, depth = pop()
        if type(item) is dict:
            extend(item)
            item = item.values()
        for child in item:
            kind = type(child)
            if kind is str:
                add(child)
            elif kind is dict or kind is list:
                if depth >= limit:
                    return None
                push((child, depth + 1))
    return found


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
