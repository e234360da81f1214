"""`ProviderHttp`'s direct GET (`WireTransport.get`) behaves exactly as the same request sent
through httpx's client: the same bytes on the wire, the same errors and messages, the same
cookies; and it is used only where httpx's client would add nothing of its own."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stamina
from metarr.errors import ProviderError, UnavailableError
from metarr.http import ProviderHttp, _query, new_client
from metarr.transport import WireTransport

pytestmark = pytest.mark.usefixtures("each_loop")  # asyncio's loop and uvloop's

KEY = "s3cr3t-k3y-of-the-direct-test"
PATHS = ("through", "direct")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen.append((self.path, dict(self.headers.items())))
        route = self.path.split("?")[0].rsplit("/", 1)[-1]
        if route == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if route == "slow":
            time.sleep(0.5)
        data = json.dumps(
            {"path": self.path, "headers": [[k.lower(), v] for k, v in self.headers.items()]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if route == "cookie":
            self.send_header("Set-Cookie", "session=abc123; Path=/")
        if route == "gzip":
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        if route == "trickle":  # a body that never ends within the total cap
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.02)
            self.close_connection = True
            return
        declared = len(data) + (100 if route == "short" else 0)
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(data)
        if route == "short":
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.seen: list[tuple[str, dict[str, str]]] = []


@pytest.fixture
def server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _origin(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def direct_gets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs `WireTransport.get` was asked for (the direct sends)."""
    sent: list[str] = []
    original = WireTransport.get

    async def counted(self: WireTransport, url: str, *args: Any) -> Any:
        sent.append(url)
        return await original(self, url, *args)

    monkeypatch.setattr(WireTransport, "get", counted)
    return sent


def _run(
    base: str,
    action: Callable[[ProviderHttp], Awaitable[Any]],
    *,
    path: str = "direct",
    timeout: float = 5.0,
    client: httpx.AsyncClient | None = None,
) -> Any:
    async def main() -> Any:
        async with client or new_client(transport="wire") as used:
            http = ProviderHttp(
                used, provider="demo", base_url=base, timeout=timeout, secrets=(KEY,)
            )
            http._direct = path == "direct"
            return await action(http)

    stamina.set_testing(True, attempts=1)
    try:
        return asyncio.run(main())
    finally:
        stamina.set_testing(False)


def _error(base: str, route: str, path: str, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        _run(
            base,
            lambda http: http.get_json(f"/{route}", params={"api_key": KEY}),
            path=path,
            **kwargs,
        )
    assert KEY not in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("route", "kwargs", "message"),
    [
        ("reset", {}, r"^demo: network error: (ReadError|RemoteProtocolError): "),
        ("short", {}, r"^demo: network error: RemoteProtocolError: "),
        ("slow", {"timeout": 0.2}, r"^demo: (timed out after|no answer within) 0\.2 s$"),
        ("trickle", {"timeout": 0.3}, r"^demo: no answer within 0\.3 s$"),
    ],
)
def test_failures_on_the_wire_are_the_same_on_both_paths(
    server: _Server, direct_gets: list[str], route: str, kwargs: dict[str, Any], message: str
) -> None:
    base = _origin(server) + "/v3"
    through = _error(base, route, "through", **kwargs)
    assert direct_gets == []
    direct = _error(base, route, "direct", **kwargs)
    assert len(direct_gets) == 1
    assert type(through) is type(direct) is UnavailableError
    assert str(through) == str(direct)
    assert re.search(message, str(direct)), str(direct)
    own = _error(base, route, "through", client=new_client(transport="httpx"), **kwargs)
    assert re.search(message, str(own)), str(own)  # httpx's own transport: the same kind
    assert str(own).split(": ")[:3] == str(direct).split(": ")[:3] or "network" not in str(own)


def test_a_refused_connection_is_the_same_on_both_paths(direct_gets: list[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    base = f"http://127.0.0.1:{port}/v3"
    through, direct = _error(base, "x", "through"), _error(base, "x", "direct")
    assert len(direct_gets) == 1
    assert str(through) == str(direct)
    assert str(direct).startswith("demo: network error: ConnectError: ")


HOSTILE: list[dict[str, Any]] = [
    {"query": "Tom & Jerry: 50/50 ✓", "year": 2001, "x": "a+b%2C", "flag": True, "no": False},
    {"q": "100% über=cool?#frag", "n": 1.5, "e": "", "sp": "a b\tc\n"},
    {"日本": "語", "k": "'\"<>\\", "z": -0},
]


@pytest.mark.parametrize("params", HOSTILE)
def test_the_query_is_httpx_s(params: dict[str, Any]) -> None:
    assert _query(params) == str(httpx.QueryParams(params))
    assert _query({"many": [1, 2]}) is None  # expanded by httpx itself


@pytest.mark.parametrize(
    "path", ["/search/movie", "/movie/603/extended", "/", "", "/a b", "/x/../y", "/ü", "//x", "/.h"]
)
@pytest.mark.parametrize("params", HOSTILE)
def test_requests_arrive_byte_for_byte_as_httpx_sends_them(
    server: _Server, direct_gets: list[str], path: str, params: dict[str, Any]
) -> None:
    base = _origin(server) + "/v3"
    headers = {"Authorization": "Bearer t0ken-direct", "accept": "application/vnd+json"}
    for sent_by in PATHS:
        _run(base, lambda http: http.get_json(path, params=params, headers=headers), path=sent_by)
    _run(  # httpx's own transport (httpcore) too
        base,
        lambda http: http.get_json(path, params=params, headers=headers),
        path="through",
        client=new_client(transport="httpx"),
    )
    (through_path, through), (direct_path, direct), (own_path, own) = server.seen
    assert direct_path == through_path == own_path
    assert own_path == str(httpx.URL(base + path, params=params).raw_path, "ascii")
    assert list(direct.items()) == list(through.items()) == list(own.items())  # in order
    plain = path in ("/search/movie", "/movie/603/extended", "/", "")
    assert len(direct_gets) == (1 if plain else 0)  # the others are httpx's to normalise


def test_a_gzip_body_is_decoded(server: _Server, direct_gets: list[str]) -> None:
    base = _origin(server) + "/v3"
    got = [_run(base, lambda http: http.get_json("/gzip"), path=p) for p in PATHS]
    assert got[0]["path"] == got[1]["path"] == "/v3/gzip"
    assert len(direct_gets) == 1


def test_cookies_are_kept_and_sent_as_httpx_s_client_does(
    server: _Server, direct_gets: list[str]
) -> None:
    base = _origin(server) + "/v3"

    async def twice(http: ProviderHttp) -> Any:
        await http.get_json("/cookie")
        assert http.client.cookies.get("session") == "abc123"
        return await http.get_json("/after")

    for sent_by in PATHS:
        _run(base, twice, path=sent_by)
    assert [dict(s[1]).get("Cookie") for s in server.seen] == [None, "session=abc123"] * 2
    assert direct_gets == [base + "/cookie"]  # with a cookie to send, httpx's client sends


@pytest.mark.parametrize(
    "client",
    [
        lambda: httpx.AsyncClient(transport=WireTransport(), auth=("user", "password")),
        lambda: httpx.AsyncClient(transport=WireTransport(), params={"always": "1"}),
        lambda: httpx.AsyncClient(transport=WireTransport(), follow_redirects=True),
        lambda: httpx.AsyncClient(transport=WireTransport(), event_hooks={"request": [_noop_hook]}),
        lambda: httpx.AsyncClient(transport=httpx.AsyncHTTPTransport()),
        lambda: httpx.AsyncClient(
            transport=WireTransport(), mounts={"http://127.0.0.1": httpx.AsyncHTTPTransport()}
        ),
    ],
    ids=["auth", "params", "redirects", "hooks", "httpx-transport", "mounted"],
)
def test_a_client_that_acts_on_requests_sends_them_itself(
    server: _Server, direct_gets: list[str], client: Callable[[], httpx.AsyncClient]
) -> None:
    got = _run(_origin(server) + "/v3", lambda http: http.get_json("/x"), client=client())
    assert got["path"].startswith("/v3/x")
    assert direct_gets == []


async def _noop_hook(request: httpx.Request) -> None:
    pass


def test_a_default_client_sends_directly_from_its_first_request(
    server: _Server, direct_gets: list[str]
) -> None:
    async def three(http: ProviderHttp) -> list[str]:
        return [(await http.get_json(f"/n{n}"))["path"] for n in range(3)]

    assert _run(_origin(server), three, client=new_client()) == ["/n0", "/n1", "/n2"]
    assert [url.rsplit("/", 1)[1] for url in direct_gets] == ["n0", "n1", "n2"]


def test_plain_http_builds_no_tls_context(server: _Server) -> None:
    transport = WireTransport()

    async def main() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            http = ProviderHttp(client, provider="demo", base_url=_origin(server))
            await http.get_json("/x")
            assert (await client.get(_origin(server) + "/y")).status_code == 200
            assert transport.pool.tls_context is None
            with pytest.raises(httpx.ConnectError):  # no TLS there
                await client.get(_origin(server).replace("http:", "https:") + "/x")
            context = transport.pool.tls_context
            assert context is not None
            assert context.verify_mode == ssl.CERT_REQUIRED
            assert context.cert_store_stats()["x509_ca"] > 0  # httpx's certificates

    asyncio.run(main())


def test_pytest_httpx_sees_every_request_of_a_default_client(httpx_mock: Any) -> None:
    httpx_mock.add_response(json={"ok": True}, is_reusable=True)

    async def many(http: ProviderHttp) -> int:
        return len([await http.get_json(f"/n{n}") for n in range(80)])

    async def main() -> int:
        async with new_client() as client:
            return await many(ProviderHttp(client, provider="demo", base_url="https://api.test"))

    assert asyncio.run(main()) == 80
    assert len(httpx_mock.get_requests()) == 80


def test_the_first_attempt_runs_without_stamina(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_context(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("stamina.retry_context entered")

    monkeypatch.setattr(stamina, "retry_context", no_context)
    got = _run(_origin(server), lambda http: http.get_json("/x"))
    assert got["path"] == "/x"
    with pytest.raises(AssertionError, match="retry_context entered"):  # retryable: it is
        _run(_origin(server), lambda http: http.get_json("/reset"))


def test_httpx_s_request_log_line_is_the_same_on_both_paths(
    server: _Server, direct_gets: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    base = _origin(server) + "/v3"
    caplog.set_level(logging.INFO, logger="httpx")
    for sent_by in PATHS:
        _run(base, lambda http: http.get_json("/x", params={"api_key": KEY}), path=sent_by)
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(direct_gets) == 1
    assert len(lines) == 2
    assert lines[0] == lines[1]
    assert lines[0].startswith(f"HTTP Request: GET {base}/x?api_key=") and lines[0].endswith(
        '"HTTP/1.1 200 OK"'
    )
