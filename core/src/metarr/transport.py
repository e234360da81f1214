"""httpx transports that send through aiohttp: httpx stays the API, aiohttp moves the bytes.

httpcore's connection pool re-checks every idle connection on every request (a socket
readability probe each), and its anyio locks look up the current task each time: on a batch
that is about half of metarr's CPU. aiohttp's connector does the same work for a fraction of
it. `AiohttpTransport` plugs it in under `httpx.AsyncClient`; plugins keep calling httpx, and
aiohttp's failures come back as the httpx exceptions httpx itself would raise (a reset is a
`httpx.ReadError`, a cut-short body a `httpx.RemoteProtocolError`, a slow server a timeout).

aiohttp takes about 100 ms longer to import than httpcore, more than a single lookup's six
requests save, so `AdaptiveTransport` (the default) sends the first `SWITCH_AFTER` requests of
a client through httpx's own transport and the rest through aiohttp. Neither is imported
before its first request: a command that sends none loads neither.

`AiohttpTransport.get` is the direct way in: a plain GET whose URL and headers are already
final skips httpx's request and response objects (`metarr.http.ProviderHttp` uses it when
nothing of httpx's client — auth, cookies, hooks, a proxy — would act on the request), and
fails with the same httpx exceptions as a request sent through httpx.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import aiohttp

READ_CHUNK = 64 * 1024
SWITCH_AFTER = 64
"""Requests before `AdaptiveTransport` moves to aiohttp: ~1.4 ms of CPU saved per request
pays back aiohttp's extra ~100 ms of import after about 70 requests."""
CROWD = 8
"""Requests in flight at once that move `AdaptiveTransport` to aiohttp at once: a single
lookup has at most four (one per provider); a batch, a scan or a refresh has more."""


class AdaptiveTransport(httpx.AsyncBaseTransport):
    """httpx's own transport for a client's first ``switch_after`` requests, aiohttp's after
    (or as soon as ``crowd`` requests are in flight at once: many more are coming)."""

    def __init__(
        self,
        *,
        limits: httpx.Limits | None = None,
        switch_after: int = SWITCH_AFTER,
        crowd: int = CROWD,
    ):
        self.limits = limits or httpx.Limits()
        self.switch_after = switch_after
        self.crowd = crowd
        self.sent = 0
        self._in_flight = 0
        self._crowded = False
        self._plain: httpx.AsyncHTTPTransport | None = None  # the first requests, http://
        self._tls: httpx.AsyncHTTPTransport | None = None  # the first requests, https://
        self._bulk = AiohttpTransport(limits=self.limits)

    @property
    def moved(self) -> bool:
        """Whether requests go to aiohttp now (after ``switch_after`` of them, or once
        ``crowd`` were in flight at once)."""
        return self._crowded or self.sent >= self.switch_after

    def direct(self) -> AiohttpTransport | None:
        """The aiohttp transport to send the next request to directly (counted as sent), or
        None while a request must still go through httpx's own transport."""
        if not self.moved:
            return None
        self.sent += 1
        return self._bulk

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the transport this many requests call for."""
        if self.moved:
            self.sent += 1
            return await self._bulk.handle_async_request(request)
        self.sent += 1
        self._in_flight += 1
        self._crowded = self._crowded or self._in_flight >= self.crowd
        try:
            return await self._first_transport(request).handle_async_request(request)
        finally:
            self._in_flight -= 1

    def _first_transport(self, request: httpx.Request) -> httpx.AsyncHTTPTransport:
        plain = request.url.scheme == "http"
        transport = self._plain if plain else self._tls
        if transport is None:
            # A plain http:// URL (a local server, the simulator) needs no TLS context, and
            # httpx would load the system's certificates for one (~20 ms): it gets a bare one
            # it never uses. https gets httpx's own.
            bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if plain else True
            transport = httpx.AsyncHTTPTransport(limits=self.limits, verify=bare)
            if plain:
                self._plain = transport
            else:
                self._tls = transport
        return transport

    async def aclose(self) -> None:
        """Close every transport's connections."""
        try:
            for transport in (self._plain, self._tls):
                if transport is not None:
                    await transport.aclose()
        finally:
            await self._bulk.aclose()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one lazily made `aiohttp.ClientSession`.

    ``limits.max_connections`` caps open connections (all hosts together) and
    ``limits.keepalive_expiry`` closes idle ones; cookies, redirects, decoding and proxies
    stay httpx's business (a proxied URL goes through httpx's own proxy transport).
    """

    def __init__(self, *, limits: httpx.Limits | None = None) -> None:
        self.limits = limits or httpx.Limits()
        self._session: aiohttp.ClientSession | None = None
        self._tls: ssl.SSLContext | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def direct(self) -> AiohttpTransport:
        """This transport: every request may be sent to it directly."""
        return self

    async def get(
        self, url: str, headers: Sequence[tuple[str, str]], seconds: float
    ) -> DirectResponse:
        """GET ``url`` (already percent-encoded, as httpx would send it) with exactly
        ``headers`` (aiohttp adds only ``Host``), each phase limited to ``seconds`` as
        ``httpx.Timeout(seconds)`` limits it. Failures are the httpx exceptions
        `handle_async_request` raises; read the body with `DirectResponse.chunks`."""
        import yarl

        session = self._open()
        limit = self._timeouts.get(seconds)
        if limit is None:
            limit = self._timeouts[seconds] = _client_timeout(seconds, seconds, seconds)
        with _as_httpx_errors(lambda: httpx.Request("GET", url)):
            response = await session.get(
                yarl.URL(url, encoded=True),
                headers=headers,
                allow_redirects=False,
                ssl=self._tls_context() if url.startswith("https:") else True,
                timeout=limit,
            )
        return DirectResponse(response, url)

    def _tls_context(self) -> ssl.SSLContext:
        """httpx's TLS settings (certifi, ``SSL_CERT_FILE``), made on the first https request."""
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        return self._tls

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.limits.max_connections or 0,
                keepalive_timeout=self.limits.keepalive_expiry or 0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                auto_decompress=False,  # httpx decodes
                trust_env=False,  # httpx routes proxied URLs elsewhere
                skip_auto_headers=("Content-Type",),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the response body streams from the connection."""
        import yarl

        session = self._open()
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx_errors(request):
            response = await session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ],
                data=body or None,
                allow_redirects=False,
                ssl=self._tls_context() if request.url.scheme == "https" else True,
                timeout=_client_timeout(
                    timeout.get("pool"), timeout.get("connect"), timeout.get("read")
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        """Close every connection (the session is made again if the transport is reused)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


class DirectResponse:
    """The answer to `AiohttpTransport.get`: status and headers at once, the body on demand."""

    def __init__(self, response: aiohttp.ClientResponse, url: str) -> None:
        self._response = response
        self._url = url
        self.status = response.status
        self.headers = response.headers  # case-insensitive

    @property
    def plain(self) -> bool:
        """Whether the body is sent as it is (no ``Content-Encoding``)."""
        return self.headers.get("Content-Encoding", "identity").strip().lower() in ("", "identity")

    async def read(self) -> bytes:
        """The whole body of a `plain` answer, in one call (for a declared length)."""
        with _as_httpx_errors(lambda: httpx.Request("GET", self._url)):
            return await self._response.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as httpx would give it: decoded (gzip, deflate, …) by httpx's decoders."""
        if not self.plain:
            request = httpx.Request("GET", self._url)
            wrapped = httpx.Response(
                self.status,
                headers=list(self._response.raw_headers),
                stream=_Body(self._response, request),
                request=request,
            )
            async for chunk in wrapped.aiter_bytes():
                yield chunk
            return
        with _as_httpx_errors(lambda: httpx.Request("GET", self._url)):
            async for chunk in self._response.content.iter_chunked(READ_CHUNK):
                yield chunk

    def set_cookies(self) -> bool:
        """Whether the answer sets a cookie."""
        return "Set-Cookie" in self.headers

    def as_httpx(self) -> httpx.Response:
        """Status and headers as an httpx response (no body), for httpx's cookie jar."""
        return httpx.Response(
            self.status,
            headers=list(self._response.raw_headers),
            request=httpx.Request("GET", self._url),
        )

    def release(self) -> None:
        """Back to the pool when read to the end, else closed."""
        self._response.release()


def _client_timeout(
    pool: float | None, connect: float | None, read: float | None
) -> aiohttp.ClientTimeout:
    import aiohttp

    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for chunk in self._response.content.iter_chunked(READ_CHUNK):
                yield chunk

    async def aclose(self) -> None:
        self._response.release()  # back to the pool when read to the end, else closed


@contextlib.contextmanager
def _as_httpx_errors(
    about: httpx.Request | Callable[[], httpx.Request],
) -> Iterator[None]:
    """Raise aiohttp's failures as the httpx exceptions httpx's own transport would (on the
    request ``about`` is or makes: a direct GET makes one only when it fails)."""
    import aiohttp

    try:
        yield
    except (aiohttp.ClientError, TimeoutError) as exc:
        request = about if isinstance(about, httpx.Request) else about()
        raise _httpx_error(exc, request) from exc


def _httpx_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(_text(exc, "connect timed out"), request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(_text(exc, "read timed out"), request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(_text(exc, "could not connect"), request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(
            _text(exc, "server disconnected without a complete response"), request=request
        )
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(_text(exc, "malformed response"), request=request)
    if isinstance(exc, aiohttp.ClientConnectionError):  # reset, refused mid-way, closed
        return httpx.ReadError(_text(exc, "connection failed"), request=request)
    return httpx.NetworkError(_text(exc, "network error"), request=request)


def _text(exc: BaseException, fallback: str) -> str:
    return str(exc) or fallback
