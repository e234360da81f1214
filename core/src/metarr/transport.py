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
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import aiohttp

READ_CHUNK = 64 * 1024
SWITCH_AFTER = 64
"""Requests before `AdaptiveTransport` moves to aiohttp: ~1.4 ms of CPU saved per request
pays back aiohttp's extra ~100 ms of import after about 70 requests."""


class AdaptiveTransport(httpx.AsyncBaseTransport):
    """httpx's own transport for a client's first ``switch_after`` requests, aiohttp's after."""

    def __init__(self, *, limits: httpx.Limits | None = None, switch_after: int = SWITCH_AFTER):
        self.limits = limits or httpx.Limits()
        self.switch_after = switch_after
        self.sent = 0
        self._first: httpx.AsyncHTTPTransport | None = None
        self._bulk = AiohttpTransport(limits=self.limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the transport this many requests call for."""
        self.sent += 1
        if self.sent > self.switch_after:
            return await self._bulk.handle_async_request(request)
        if self._first is None:
            self._first = httpx.AsyncHTTPTransport(limits=self.limits)
        return await self._first.handle_async_request(request)

    async def aclose(self) -> None:
        """Close both transports' connections."""
        try:
            if self._first is not None:
                await self._first.aclose()
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
        import aiohttp
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
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
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
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """Raise aiohttp's failures as the httpx exceptions httpx's own transport would."""
    import aiohttp

    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(_text(exc, "connect timed out"), request=request) from exc
    except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise httpx.ReadTimeout(_text(exc, "read timed out"), request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(_text(exc, "could not connect"), request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(
            _text(exc, "server disconnected without a complete response"), request=request
        ) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
        raise httpx.RemoteProtocolError(_text(exc, "malformed response"), request=request) from exc
    except aiohttp.ClientConnectionError as exc:  # reset, refused mid-way, closed
        raise httpx.ReadError(_text(exc, "connection failed"), request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.NetworkError(_text(exc, "network error"), request=request) from exc


def _text(exc: BaseException, fallback: str) -> str:
    return str(exc) or fallback
