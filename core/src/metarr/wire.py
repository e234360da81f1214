"""A lean HTTP/1.1 client on asyncio: a protocol object per connection, httptools' parser.

`Pool` keeps connections per (scheme, host, port), at most ``max_connections`` open over all
hosts, idle ones for ``keepalive_expiry`` seconds; `Pool.send` writes a request whose bytes are
already made and returns the `Response` once its status line and headers have arrived, the body
following on demand. Failures are httpx's exceptions, with httpcore's messages where it has
one: `httpx.ConnectError`/`ConnectTimeout` while connecting, `httpx.PoolTimeout` waiting for a
free connection, `httpx.ReadTimeout` when no byte comes for the read timeout, `httpx.ReadError`
on a reset, `httpx.RemoteProtocolError` on an answer cut short or malformed. A reused idle
connection the server had closed (end of stream or reset before any byte of the answer) is
tried once more on a new connection; nothing else is sent twice.

A connection goes back to the pool only when its answer arrived to the end and the server
keeps it alive; an answer given up early (read partly, a timeout, a cancelled task) closes it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx

HIGH_WATER = 256 * 1024
"""Body bytes buffered before the connection stops reading (until the reader catches up)."""
READ_SIZE = 64 * 1024
"""Bytes read at once into the pool's buffer (asyncio's own reads make a new 256 KiB bytes
object each time, ~15 µs of a small answer's CPU)."""

Key = tuple[str, str, int]
"""(scheme, host, port): the connections one origin may share."""


class Pool:
    """Keep-alive HTTP/1.1 connections to any number of origins (see the module docstring)."""

    def __init__(
        self,
        *,
        max_connections: int | None = None,
        max_keepalive: int | None = None,
        keepalive_expiry: float | None = 5.0,
    ) -> None:
        self.max_connections = max_connections
        self.max_keepalive = max_keepalive
        self.keepalive_expiry = keepalive_expiry
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[Key, list[_Connection]] = {}
        self._idle_count = 0
        self._open: set[_Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.buffer = memoryview(bytearray(READ_SIZE))  # every read lands here, parsed at once

    @property
    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context, once an https request made it (None before)."""
        return self._tls

    async def send(
        self,
        key: Key,
        head: bytes,
        *,
        head_only: bool = False,
        pool: float | None = None,
        connect: float | None = None,
        read: float | None = None,
    ) -> Response:
        """Write ``head`` (request line, headers and any body) on a connection to ``key`` and
        return the answer once its headers arrived (``head_only``: a HEAD request, no body)."""
        for attempt in (1, 2):
            conn = await self._acquire(key, pool, connect)
            response = Response(conn, read, head_only)
            try:
                conn.start(response, head)
                await response.wait_head()
            except httpx.TransportError:
                conn.abort()
                if attempt == 1 and conn.served and response.stale:
                    continue  # the server had closed this idle connection: a new one
                raise
            except BaseException:  # cancelled: the connection's state is unknown
                conn.abort()
                raise
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close every connection, idle or in use (the pool may be used again)."""
        for conn in list(self._open):
            conn.close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        await asyncio.sleep(0)  # their transports finish closing

    # ---------------------------------------------------------------- connections

    async def _acquire(self, key: Key, pool: float | None, connect: float | None) -> _Connection:
        while True:
            idle = self._idle.get(key)
            if idle:
                now = asyncio.get_running_loop().time()
                while idle:
                    conn = idle.pop()
                    self._idle_count -= 1
                    if conn.expires > now and not conn.closing():
                        return conn
                    conn.close()
            limit = self.max_connections
            if limit is None or len(self._open) + self._opening < limit or self._evict():
                break
            await self._wait_for_room(pool)
        self._opening += 1
        try:
            conn = await self._connect(key, connect)
        except BaseException:
            self._opening -= 1
            self._wake()  # the room this one held is free again
            raise
        self._opening -= 1
        self._open.add(conn)
        return conn

    async def _connect(self, key: Key, seconds: float | None) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(seconds):
                if scheme == "https":
                    if self._tls is None:  # httpx's: certifi, or SSL_CERT_FILE
                        self._tls = httpx.create_ssl_context()
                    _, conn = await loop.create_connection(
                        lambda: _Connection(self, key),
                        host,
                        port,
                        ssl=self._tls,
                        server_hostname=host,
                    )
                else:
                    _, conn = await loop.create_connection(
                        lambda: _Connection(self, key), host, port
                    )
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out while connecting") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return conn

    def _evict(self) -> bool:
        """Close the longest idle connection (of any origin) to make room; False if none."""
        oldest: _Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].expires < oldest.expires):
                oldest = idle[0]
        if oldest is None:
            return False
        oldest.close()
        return True

    async def _wait_for_room(self, seconds: float | None) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                await waiter
        except TimeoutError:
            raise httpx.PoolTimeout("timed out waiting for a connection") from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._wake()  # woken but leaving: the room goes to the next in line
            raise
        finally:
            if not waiter.done():
                self._waiters.remove(waiter)

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, conn: _Connection) -> None:
        """Keep ``conn`` for the next request to its origin (or close it, when enough are)."""
        if conn.closing() or (
            self.max_keepalive is not None and self._idle_count >= self.max_keepalive
        ):
            conn.close()
            return
        expiry = self.keepalive_expiry
        conn.expires = asyncio.get_running_loop().time() + (
            expiry if expiry is not None else float("inf")
        )
        conn.served = True
        conn.resume()
        self._idle.setdefault(conn.key, []).append(conn)
        self._idle_count += 1
        self._wake()

    def _forget(self, conn: _Connection) -> None:
        if conn in self._open:
            self._open.discard(conn)
            idle = self._idle.get(conn.key)
            if idle and conn in idle:
                idle.remove(conn)
                self._idle_count -= 1
            self._wake()


class _Connection(asyncio.BufferedProtocol):
    """One connection: bytes in go to the answer in progress."""

    __slots__ = ("expires", "key", "lost", "paused", "pool", "response", "served", "transport")

    def __init__(self, pool: Pool, key: Key) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.served = False  # has answered a request before (a reused connection)
        self.expires = 0.0
        self.paused = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always a subclass of `asyncio.Transport` (uvloop's)
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.pool.buffer

    def buffer_updated(self, nbytes: int) -> None:
        response = self.response
        if response is None:  # bytes nobody asked for: the connection cannot be trusted
            self.abort()
            return
        response.feed(self.pool.buffer[:nbytes])

    def eof_received(self) -> bool:
        return False  # close the connection (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.pool._forget(self)
        response = self.response
        if response is not None:
            response.lost(exc)

    def closing(self) -> bool:
        return self.lost or self.transport is None or self.transport.is_closing()

    def start(self, response: Response, head: bytes) -> None:
        self.response = response
        if self.closing():  # closed while idle: nothing was sent
            response.lost(None)
            return
        assert self.transport is not None
        self.transport.write(head)

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        """Close politely (TLS says goodbye); the pool forgets the connection at once."""
        self.pool._forget(self)
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close at once, discarding what is unsent."""
        self.pool._forget(self)
        if self.transport is not None:
            self.transport.abort()


class Response:
    """An answer: `status`, `headers` (lower-case names, repeated ones joined by ", ") and
    `raw_headers` at once, the body on demand (`read`, `chunks`, or `next_chunk`).

    `release` when done with it: the connection goes back to the pool if the answer arrived
    to the end and the server keeps it alive, else it is closed."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_complete",
        "_conn",
        "_error",
        "_has_head",
        "_head_only",
        "_interim",
        "_keep_alive",
        "_parser",
        "_read_timeout",
        "_received",
        "_released",
        "_seen_bytes",
        "_waiter",
        "headers",
        "raw_headers",
        "reason",
        "stale",
        "status",
        "url",
    )  # fmt: skip

    def __init__(self, conn: _Connection, read_timeout: float | None, head_only: bool) -> None:
        self.status = 0
        self.reason = b""
        self.headers: dict[str, str] = {}
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.url = ""  # the URL asked for (for cookies and httpx's errors)
        self.stale = False  # lost before any byte of the answer (safe to send again)
        self._conn = conn
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._read_timeout = read_timeout
        self._head_only = head_only
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._received = 0
        self._seen_bytes = False
        self._has_head = False
        self._interim = False
        self._complete = False
        self._keep_alive = False
        self._error: httpx.TransportError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._released = False

    # ------------------------------------------------------------------ reading

    @property
    def plain(self) -> bool:
        """Whether the body is sent as it is (no ``Content-Encoding``)."""
        return self.headers.get("content-encoding", "identity").strip().lower() in ("", "identity")

    async def wait_head(self) -> None:
        """Wait for the status line and headers (a 1xx answer is skipped)."""
        while not self._has_head:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def next_chunk(self) -> bytes:
        """The next piece of the body as sent (b"" at its end)."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._complete:
                return b""
            await self._wait()
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._conn.paused and self._buffered < HIGH_WATER // 4:
            self._conn.resume()
        return chunk

    async def read(self) -> bytes:
        """The whole body as sent."""
        if self._complete and self._error is None:
            chunks, self._chunks, self._buffered = self._chunks, deque(), 0
            return b"".join(chunks)
        parts = []
        while chunk := await self.next_chunk():
            parts.append(chunk)
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as httpx gives it: decoded (gzip, deflate, …) by httpx's decoders."""
        if self.plain:
            while chunk := await self.next_chunk():
                yield chunk
            return
        async for chunk in self.as_httpx(body=True).aiter_bytes():
            yield chunk

    def set_cookies(self) -> bool:
        """Whether the answer sets a cookie."""
        return "set-cookie" in self.headers

    def as_httpx(
        self, *, body: bool = False, request: httpx.Request | None = None
    ) -> httpx.Response:
        """This answer as an httpx response: status and headers, and (``body``) the body
        streaming from the connection."""
        return httpx.Response(
            self.status,
            headers=self.raw_headers,
            stream=Body(self) if body else None,
            request=request or httpx.Request("GET", self.url),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": self.reason},
        )

    def release(self) -> None:
        """Done with the answer: its connection goes back to the pool, or is closed."""
        if self._released:
            return
        self._released = True
        self._parser = None  # it holds this answer's methods: no cycle left for the collector
        conn = self._conn
        conn.response = None
        if self._complete and self._keep_alive and self._error is None:
            conn.pool._release(conn)
        else:
            conn.abort()

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = (
            loop.call_later(self._read_timeout, self._timed_out, waiter)
            if self._read_timeout is not None
            else None
        )
        try:
            await waiter
        except BaseException:  # cancelled: the answer will never be read to its end
            self._conn.abort()
            raise
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _timed_out(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done() and self._error is None:
            self._fail(httpx.ReadTimeout("timed out"))
            self._conn.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: httpx.TransportError) -> None:
        if self._error is None and not self._complete:
            self._error = error
        self._wake()

    # ------------------------------------------------- from the connection and the parser

    def feed(self, data: memoryview) -> None:
        self._seen_bytes = True
        parser = self._parser
        if parser is None:  # released: nobody reads this answer any more
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols unasked"))
            self._conn.abort()
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed answer: {exc}"))
            self._conn.abort()

    def lost(self, exc: Exception | None) -> None:
        """The connection ended (``exc``: how, None for the end of the stream)."""
        if self._complete:
            return
        if self._has_head and exc is None and self._until_close():
            self._complete = True  # the body was everything up to the end of the stream
            self._wake()
            return
        self.stale = not self._seen_bytes
        if exc is not None:
            self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
        elif not self._has_head:
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))
        else:
            declared = self.headers.get("content-length", "")
            expected = f", expected {declared}" if declared.isdigit() else ""
            self._fail(
                httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body "
                    f"(received {self._received} bytes{expected})"
                )
            )

    def _until_close(self) -> bool:
        headers = self.headers
        return "content-length" not in headers and (
            "chunked" not in headers.get("transfer-encoding", "").lower()
        )

    def on_message_begin(self) -> None:
        if self._complete:  # a second answer nobody asked for
            self._keep_alive = False

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        known = self.headers.get(key)
        self.headers[key] = text if known is None else f"{known}, {text}"

    def on_headers_complete(self) -> None:
        assert self._parser is not None  # the parser is calling
        status = self._parser.get_status_code()
        if status < 200:  # 1xx: informational, the answer follows
            self._interim = True
            self.reason, self.headers, self.raw_headers = b"", {}, []
            return
        self.status = status
        self._has_head = True
        if self._head_only:  # the parser cannot skip a HEAD's body: close after it
            self._complete = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._complete:
            return
        self._chunks.append(body)
        size = len(body)
        self._received += size
        self._buffered += size
        if self._buffered > HIGH_WATER:
            self._conn.pause()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._complete:
            return
        self._complete = True
        assert self._parser is not None  # the parser is calling
        self._keep_alive = self._parser.should_keep_alive()
        self._wake()


class Body(httpx.AsyncByteStream):
    """A `Response`'s body as httpx's stream; closing it releases the connection."""

    def __init__(self, response: Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self._response.next_chunk():
            yield chunk

    async def aclose(self) -> None:
        self._response.release()
