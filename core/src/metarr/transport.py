"""httpx's transport over metarr's own HTTP/1.1 client (`metarr.wire`): httpx stays the API.

httpcore's connection pool re-checks every idle connection on every request and its anyio
locks look up the current task each time; aiohttp, which replaced it on the hot path, builds
request, connector and response objects and a stream reader for every request, and costs
~100 ms to import. `WireTransport` sends through `metarr.wire.Pool` (an asyncio protocol per
connection and httptools' C parser), from a client's first request: plugins keep calling
httpx, and failures come back as the httpx exceptions httpx itself raises (a reset is an
`httpx.ReadError`, a cut-short body an `httpx.RemoteProtocolError`, a slow server a timeout).

`WireTransport.get` is the direct way in: a plain GET whose URL and headers are already final
skips httpx's request and response objects (`metarr.http.ProviderHttp` uses it when nothing of
httpx's client — auth, cookies, hooks, a proxy — would act on the request).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from metarr.wire import Key, Pool, Response

DEFAULT_PORTS = {"http": 80, "https": 443}


class WireTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one `metarr.wire.Pool`.

    ``limits.max_connections`` caps open connections (all hosts together),
    ``limits.max_keepalive_connections`` idle ones, and ``limits.keepalive_expiry`` closes
    those idle longer; cookies, redirects, decoding and proxies stay httpx's business (a
    proxied URL goes through httpx's own proxy transport). The TLS context is httpx's
    (`httpx.create_ssl_context`: certifi, ``SSL_CERT_FILE``), made on the first https request.
    """

    def __init__(self, *, limits: httpx.Limits | None = None) -> None:
        self.limits = limits or httpx.Limits()
        self.pool = Pool(
            max_connections=self.limits.max_connections,
            max_keepalive=self.limits.max_keepalive_connections,
            keepalive_expiry=self.limits.keepalive_expiry,
        )
        self._origins: dict[str, tuple[Key, str]] = {}

    async def get(self, url: str, headers: Sequence[tuple[str, str]], seconds: float) -> Response:
        """GET ``url`` (already percent-encoded, as httpx would send it) with ``Host`` and
        exactly ``headers``, each phase limited to ``seconds`` as ``httpx.Timeout(seconds)``
        limits it. Failures are the httpx exceptions `handle_async_request` raises; read the
        body with `Response.read` or `Response.chunks`, then `Response.release` it."""
        scheme, _, rest = url.partition("://")
        end = len(rest)
        for mark in "/?":
            found = rest.find(mark)
            if 0 <= found < end:
                end = found
        authority, target = rest[:end], rest[end:]
        origin = self._origins.get(url[: len(scheme) + 3 + end])
        if origin is None:
            origin = self._origins[url[: len(scheme) + 3 + end]] = _origin(scheme, authority)
        key, host = origin
        lines = [f"GET {target if target.startswith('/') else '/' + target} HTTP/1.1\r\n{host}"]
        lines += [f"{name}: {value}\r\n" for name, value in headers]
        lines.append("\r\n")
        head = "".join(lines)
        try:
            if head.count("\n") != len(lines) + 1 or head.count("\r") != len(lines) + 1:
                raise httpx.LocalProtocolError("a header or the path holds a line break")
            response = await self.pool.send(
                key, head.encode("latin-1"), pool=seconds, connect=seconds, read=seconds
            )
        except httpx.TransportError as exc:
            exc.request = httpx.Request("GET", url)
            raise
        response.url = url
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the response body streams from the connection."""
        url = request.url
        port = url.port or DEFAULT_PORTS.get(url.scheme)
        if port is None:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        parts = [request.method.encode("ascii"), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        chunked = False
        for name, value in request.headers.raw:
            parts += (name, b": ", value, b"\r\n")
            chunked = chunked or (name.lower() == b"transfer-encoding" and b"chunked" in value)
        parts.append(b"\r\n")
        head = b"".join(parts)
        lines = len(request.headers.raw) + 2
        if head.count(b"\n") != lines or head.count(b"\r") != lines:
            raise httpx.LocalProtocolError("a header or the path holds a line break")
        body = await request.aread()
        if chunked:
            body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        timeout = request.extensions.get("timeout", {})
        response = await self.pool.send(
            (url.scheme, url.host, port),
            head + body,
            head_only=request.method == "HEAD",
            pool=timeout.get("pool"),
            connect=timeout.get("connect"),
            read=timeout.get("read"),
        )
        return response.as_httpx(body=True, request=request)

    async def aclose(self) -> None:
        """Close every connection."""
        await self.pool.aclose()


def _origin(scheme: str, authority: str) -> tuple[Key, str]:
    """The pool's key and the ``Host`` header line for ``scheme://authority``."""
    host, port = authority, DEFAULT_PORTS.get(scheme, 0)
    if authority.startswith("["):  # an IPv6 address
        host, _, after = authority[1:].partition("]")
        if after.startswith(":"):
            port = int(after[1:])
    elif ":" in authority:
        host, _, number = authority.rpartition(":")
        port = int(number)
    return (scheme, host, port), f"Host: {authority}\r\n"
