"""metarr's HTTP/1.1 client (`metarr.wire`, under `WireTransport`) on real sockets: which
connections it keeps, reuses, retries and closes, every way an answer's body ends, each
phase's timeout, cancellation, and what it never writes."""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from metarr.transport import WireTransport
from metarr.wire import HIGH_WATER, READ_SIZE

pytestmark = pytest.mark.usefixtures("each_loop")  # asyncio's loop and uvloop's

Answer = Callable[[socket.socket, str], bool]
"""Writes the answer to one request (its path given) and says whether to keep reading."""


class Raw:
    """A TCP server on 127.0.0.1 answering each request with bytes a test chooses."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[int, str]] = []  # (connection number, request head)
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.ended: list[int] = []  # connections the client closed
        self.pending: dict[int, bytes] = {}  # bytes after a request's head, an answer may take
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
                self.open_now += 1
                self.most_open = max(self.most_open, self.open_now)
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    try:
                        more = conn.recv(65536)
                    except OSError:
                        more = b""
                    if not more:
                        with self.lock:
                            self.ended.append(number)
                            self.open_now -= 1
                        return
                    data += more
                head, _, data = data.partition(b"\r\n\r\n")
                text = head.decode("latin-1")
                with self.lock:
                    self.requests.append((number, text))
                    self.pending[number] = data
                try:
                    keep = self.answer(conn, text.split(" ")[1])
                except OSError:
                    keep = False
                with self.lock:
                    data = self.pending.pop(number)
                if not keep:
                    with self.lock:
                        self.open_now -= 1
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw() -> Iterator[Callable[[Answer], Raw]]:
    servers: list[Raw] = []

    def make(answer: Answer) -> Raw:
        servers.append(Raw(answer))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def ok(conn: socket.socket, path: str) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return True


async def get(transport: WireTransport, url: str, seconds: float = 5.0) -> tuple[int, bytes]:
    response = await transport.get(url, [("User-Agent", "test")], seconds)
    try:
        return response.status, await response.read()
    finally:
        response.release()


def test_a_connection_is_reused_only_after_an_answer_read_to_the_end(
    raw: Callable[[Answer], Raw],
) -> None:
    def answer(conn: socket.socket, path: str) -> bool:
        if path == "/close":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            return False  # the server would close it anyway
        if path == "/big":
            # more than the client buffers before it stops reading: never complete unread
            size = 4 * HIGH_WATER
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode()
            try:
                conn.sendall(head + b"x" * size)
            except OSError:  # the client closed it: the test is over for this connection
                return False
            return True
        return ok(conn, path)

    server = raw(answer)

    async def main() -> None:
        transport = WireTransport()
        assert await get(transport, server.url + "/a") == (200, b"ok")
        assert await get(transport, server.url + "/b") == (200, b"ok")  # the same connection
        await get(transport, server.url + "/close")
        await get(transport, server.url + "/c")  # a new one: the server said close
        unread = await transport.get(server.url + "/big", [], 5.0)
        assert unread.status == 200
        unread.release()  # its body not read to the end: closed, not kept
        await get(transport, server.url + "/d")
        assert len(transport.pool._open) == 1
        await transport.aclose()

    asyncio.run(main())
    assert [n for n, _ in server.requests] == [1, 1, 1, 2, 2, 3]


@pytest.mark.parametrize(
    ("sent", "body"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n", b"Wikipedia"),
        (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
         b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", b""),
    ],
    ids=["length", "chunked", "interim", "204", "304"],
)  # fmt: skip
def test_bodies_end_where_http_says_and_the_connection_is_kept(
    raw: Callable[[Answer], Raw], sent: bytes, body: bytes
) -> None:
    def answer(conn: socket.socket, path: str) -> bool:
        conn.sendall(sent if path == "/x" else b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True

    server = raw(answer)

    async def main() -> tuple[int, bytes]:
        transport = WireTransport()
        got = await get(transport, server.url + "/x")
        assert await get(transport, server.url + "/after") == (200, b"ok")
        await transport.aclose()
        return got

    status, received = asyncio.run(main())
    assert received == body
    assert status == int(sent.rsplit(b"HTTP/1.1 ", 1)[1][:3])
    assert [n for n, _ in server.requests] == [1, 1]


def test_a_body_up_to_the_end_of_the_stream_and_a_head_answer(
    raw: Callable[[Answer], Raw],
) -> None:
    def answer(conn: socket.socket, path: str) -> bool:
        if path == "/until-close":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ")
            time.sleep(0.05)
            conn.sendall(b"it")
            return False
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")  # a HEAD's answer
        return True

    server = raw(answer)

    async def main() -> tuple[bytes, httpx.Response]:
        transport = WireTransport()
        _, body = await get(transport, server.url + "/until-close")
        async with httpx.AsyncClient(transport=transport) as client:
            head = await asyncio.wait_for(client.head(server.url + "/head"), 2)
        return body, head

    body, head = asyncio.run(main())
    assert body == b"all of it"
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "1000"


def test_a_reused_connection_the_server_closed_is_tried_again_once(
    raw: Callable[[Answer], Raw],
) -> None:
    def answer(conn: socket.socket, path: str) -> bool:
        if path == "/second" and server.connections == 1:
            return False  # closed on reading it, as a server whose keep-alive ran out
        return ok(conn, path)

    server = raw(answer)

    async def main() -> tuple[int, bytes]:
        transport = WireTransport()
        await get(transport, server.url + "/first")
        return await get(transport, server.url + "/second")

    assert asyncio.run(main()) == (200, b"ok")
    assert [(n, r.split(" ")[1]) for n, r in server.requests] == [
        (1, "/first"),
        (1, "/second"),
        (2, "/second"),
    ]


@pytest.mark.parametrize("reused", [False, True])
def test_a_request_the_server_may_have_seen_is_never_sent_twice(
    raw: Callable[[Answer], Raw], reused: bool
) -> None:
    def answer(conn: socket.socket, path: str) -> bool:
        if path == "/fail":
            if reused:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")  # a byte of the answer came
            return False
        return ok(conn, path)

    server = raw(answer)

    async def main() -> None:
        transport = WireTransport()
        if reused:
            await get(transport, server.url + "/first")
        await get(transport, server.url + "/fail")

    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(main())
    assert [r.split(" ")[1] for _, r in server.requests].count("/fail") == 1


def test_an_idle_connection_the_server_closed_is_not_used(
    raw: Callable[[Answer], Raw],
) -> None:
    def answer(conn: socket.socket, path: str) -> bool:
        ok(conn, path)
        return False  # closed right after each answer, without saying so

    server = raw(answer)

    async def main() -> list[tuple[int, bytes]]:
        transport = WireTransport()
        first = await get(transport, server.url + "/a")
        await asyncio.sleep(0.1)  # the end of the stream arrives meanwhile
        assert not transport.pool._open
        return [first, await get(transport, server.url + "/b")]

    assert asyncio.run(main()) == [(200, b"ok")] * 2
    assert [n for n, _ in server.requests] == [1, 2]


def test_the_connection_cap_holds_over_every_host(raw: Callable[[Answer], Raw]) -> None:
    def slow(conn: socket.socket, path: str) -> bool:
        time.sleep(0.05)
        return ok(conn, path)

    servers = [raw(slow), raw(slow), raw(slow)]
    most = [0]

    async def main() -> None:
        transport = WireTransport(limits=httpx.Limits(max_connections=2))
        pool = transport.pool
        connect = pool._connect

        async def counted(*args: Any) -> Any:
            most[0] = max(most[0], len(pool._open) + pool._opening)
            return await connect(*args)

        pool._connect = counted  # type: ignore[method-assign]
        urls = [s.url + f"/{n}" for n in range(4) for s in servers]
        got = await asyncio.gather(*(get(transport, url) for url in urls))
        assert got == [(200, b"ok")] * 12
        await transport.aclose()

    asyncio.run(main())
    assert most[0] == 2
    assert sum(s.connections for s in servers) >= 3  # idle ones were closed to make room
    assert sum(len(s.requests) for s in servers) == 12


def test_an_idle_connection_of_another_host_makes_room_at_once(
    raw: Callable[[Answer], Raw],
) -> None:
    one, two = raw(ok), raw(ok)

    async def main() -> None:
        transport = WireTransport(limits=httpx.Limits(max_connections=1))
        await get(transport, one.url + "/a")
        await get(transport, two.url + "/b", seconds=0.5)  # no PoolTimeout: one's was idle
        await get(transport, one.url + "/c", seconds=0.5)
        await transport.aclose()

    asyncio.run(main())
    assert one.connections == 2
    assert two.connections == 1
    assert one.ended and two.ended


@pytest.mark.parametrize(("expiry", "connections"), [(0.05, 2), (5.0, 1)])
def test_idle_connections_expire(
    raw: Callable[[Answer], Raw], expiry: float, connections: int
) -> None:
    server = raw(ok)

    async def main() -> None:
        transport = WireTransport(limits=httpx.Limits(keepalive_expiry=expiry))
        await get(transport, server.url + "/a")
        await asyncio.sleep(0.15)
        await get(transport, server.url + "/b")
        await transport.aclose()

    asyncio.run(main())
    assert server.connections == connections


def test_read_and_pool_timeouts(raw: Callable[[Answer], Raw]) -> None:
    def silent(conn: socket.socket, path: str) -> bool:
        time.sleep(1.0)
        return False

    server = raw(silent)

    async def main() -> None:
        transport = WireTransport(limits=httpx.Limits(max_connections=1))
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await get(transport, server.url + "/a", seconds=0.2)
        assert 0.15 < time.monotonic() - started < 0.8
        assert not transport.pool._open  # a timed-out connection is not kept
        busy = asyncio.ensure_future(get(transport, server.url + "/b", seconds=2.0))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await get(transport, server.url + "/c", seconds=0.2)
        busy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await busy
        await transport.aclose()

    asyncio.run(main())


def test_a_connect_timeout() -> None:
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)  # never accepts
    port = listener.getsockname()[1]
    queued = []
    for _ in range(4):  # fill its queue: the next handshake gets no answer
        waiting = socket.socket()
        waiting.setblocking(False)
        waiting.connect_ex(("127.0.0.1", port))
        queued.append(waiting)
    try:

        async def main() -> None:
            transport = WireTransport()
            await get(transport, f"http://127.0.0.1:{port}/", seconds=0.2)

        with pytest.raises(httpx.ConnectTimeout):
            asyncio.run(main())
    finally:
        for waiting in queued:
            waiting.close()
        listener.close()


@pytest.mark.parametrize("where", ["head", "body"])
def test_a_cancelled_request_closes_its_connection(
    raw: Callable[[Answer], Raw], where: str
) -> None:
    gone: list[float] = []

    def stalls(conn: socket.socket, path: str) -> bool:
        if where == "body":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        conn.settimeout(3)
        if conn.recv(1) == b"":  # the client closed it
            gone.append(time.monotonic())
        return False

    server = raw(stalls)

    async def main() -> float:
        transport = WireTransport()
        task = asyncio.ensure_future(get(transport, server.url + "/x"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not transport.pool._open
        assert not transport.pool._idle_count
        return time.monotonic()

    cancelled = asyncio.run(main())
    deadline = time.monotonic() + 3
    while not gone and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone and gone[0] - cancelled < 1.0
    assert len(server.requests) == 1


def test_closing_leaves_nothing_unclosed(raw: Callable[[Answer], Raw]) -> None:
    server = raw(ok)

    async def main() -> None:
        transport = WireTransport()
        await asyncio.gather(*(get(transport, server.url + f"/{n}") for n in range(5)))
        half = await transport.get(server.url + "/open", [], 5.0)  # still held
        assert half.status == 200
        await transport.aclose()
        assert not transport.pool._open

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
        gc.collect()
    assert not [w for w in caught if "nclosed" in str(w.message)], [str(w.message) for w in caught]


@pytest.mark.parametrize("value", ["a\r\nInjected: yes", "a\nInjected: yes", "a\rb"])
def test_a_line_break_in_a_header_never_reaches_the_wire(
    raw: Callable[[Answer], Raw], value: str
) -> None:
    server = raw(ok)

    async def main() -> None:
        transport = WireTransport()
        with pytest.raises(httpx.LocalProtocolError):
            await transport.get(server.url + "/x", [("X-Test", value)], 5.0)
        with pytest.raises(httpx.LocalProtocolError):
            await transport.handle_async_request(
                httpx.Request("GET", server.url + "/y", headers={"X-Test": value})
            )
        await get(transport, server.url + "/clean")

    asyncio.run(main())
    assert [r.split(" ")[1] for _, r in server.requests] == ["/clean"]
    assert not any("Injected" in r for _, r in server.requests)


def test_a_large_body_is_read_as_fast_as_it_is_taken(raw: Callable[[Answer], Raw]) -> None:
    size = 4 * 1024 * 1024

    def large(conn: socket.socket, path: str) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"y" * size)
        return True

    server = raw(large)

    async def main() -> int:
        transport = WireTransport()
        response = await transport.get(server.url + "/large", [], 5.0)
        await asyncio.sleep(0.3)  # nobody reads: the connection stops reading
        assert response._buffered <= HIGH_WATER + READ_SIZE
        body = await response.read()
        response.release()
        await transport.aclose()
        return len(body)

    assert asyncio.run(main()) == size


def test_a_streamed_post_goes_out_chunked(raw: Callable[[Answer], Raw]) -> None:
    seen: list[bytes] = []

    def echo(conn: socket.socket, path: str) -> bool:
        conn.settimeout(2)
        data, server.pending[1] = server.pending[1], b""
        while not data.endswith(b"0\r\n\r\n"):
            data += conn.recv(65536)
        seen.append(data)
        return ok(conn, path)

    server = raw(echo)

    async def parts() -> Any:
        yield b"abc"
        yield b"def"

    async def main() -> bytes:
        async with httpx.AsyncClient(transport=WireTransport()) as client:
            response = await client.post(server.url + "/login", content=parts())
            return response.content

    assert asyncio.run(main()) == b"ok"
    assert "transfer-encoding: chunked" in server.requests[0][1].lower()
    assert seen == [b"6\r\nabcdef\r\n0\r\n\r\n"]


def test_a_reset_cuts_a_body_up_to_the_end_of_the_stream_short(
    raw: Callable[[Answer], Raw],
) -> None:
    def resets(conn: socket.socket, path: str) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\npartial")
        time.sleep(0.05)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False  # closed with a reset, not an end of stream

    server = raw(resets)

    async def main() -> None:
        await get(WireTransport(), server.url + "/x")

    with pytest.raises(httpx.ReadError):
        asyncio.run(main())
