"""The transport under metarr's httpx client (`WireTransport`, metarr's own HTTP/1.1 client)
sends exact requests and fails with httpx's errors, from a client's first request, loading
neither httpcore nor aiohttp; mocks still see every request."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from metarr.http import TRANSPORT_VAR, new_client
from metarr.transport import WireTransport


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.ports.add(self.client_address[1])
        if self.path.startswith("/slow"):
            time.sleep(0.3)
        if self.path.startswith("/reset"):
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        data = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "body": body.decode("latin-1"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        if self.path.startswith("/short"):
            self.send_header("Content-Length", str(len(data) + 100))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of 48 connects at once (socketserver's default is 5)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.lock = threading.Lock()
        self.ports: set[int] = set()


@pytest.fixture
def echo() -> Iterator[tuple[str, _Server]]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_default_is_wire_and_the_variable_or_argument_chooses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(new_client()._transport, WireTransport)
    assert isinstance(new_client(transport="wire")._transport, WireTransport)
    assert isinstance(new_client(transport="httpx")._transport, httpx.AsyncHTTPTransport)
    monkeypatch.setenv(TRANSPORT_VAR, "httpx")
    assert isinstance(new_client()._transport, httpx.AsyncHTTPTransport)
    assert isinstance(new_client(transport="auto")._transport, WireTransport)
    monkeypatch.setenv(TRANSPORT_VAR, "WIRE ")
    assert isinstance(new_client()._transport, WireTransport)
    monkeypatch.setenv(TRANSPORT_VAR, "aiohttp")
    with pytest.raises(ValueError, match="unknown HTTP transport 'aiohttp'"):
        new_client()


IMPORTS = """
import asyncio, sys
from metarr.http import ProviderHttp, new_client

async def main():
    async with new_client() as client:
        http = ProviderHttp(client, provider="demo", base_url=sys.argv[1])
        await http.get_json("/first")
        await http.request("POST", "/login", json_body={"apikey": "k"}, memo=False)
        await http.get_json("/search", params={"q": "x"}, headers={"Authorization": "Bearer t"})

asyncio.run(main())
print(sorted(m for m in ("httpcore", "anyio", "aiohttp", "h11") if m in sys.modules))
"""


def test_requests_load_neither_httpcore_nor_aiohttp(echo: tuple[str, _Server]) -> None:
    url, _ = echo
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS, url], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_pytest_httpx_sees_the_requests_of_a_default_client(httpx_mock: Any) -> None:
    httpx_mock.add_response(url="https://provider.test/x", json={"mocked": True})

    async def main() -> Any:
        async with new_client() as client:
            assert isinstance(client._transport, httpx.AsyncHTTPTransport)
            return (await client.get("https://provider.test/x")).json()

    assert _run(main()) == {"mocked": True}


def test_requests_arrive_exactly(echo: tuple[str, _Server]) -> None:
    url, _ = echo

    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with new_client(transport="wire") as client:
            got = await client.get(
                url + "/search/movie",
                params={"query": "Tom & Jerry: 50/50 ✓", "year": 2001, "x": "a+b%2C"},
                headers={"X-Test": "one"},
            )
            posted = await client.post(url + "/login", json={"apikey": "k", "pin": "ü"})
            return got, posted

    got, posted = _run(main())
    assert got.status_code == 200
    sent = got.json()
    assert sent["path"] == str(
        httpx.URL(
            url + "/search/movie",
            params={"query": "Tom & Jerry: 50/50 ✓", "year": 2001, "x": "a+b%2C"},
        ).raw_path,
        "ascii",
    )
    headers = dict(sent["headers"])
    assert headers["x-test"] == "one"
    assert headers["user-agent"].startswith("metarr/")
    assert headers["accept"] == "application/json"
    assert "content-type" not in headers  # a GET has no body to describe
    assert got.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert got.extensions["http_version"] == b"HTTP/1.1"
    echoed = posted.json()
    assert echoed["method"] == "POST"
    assert json.loads(echoed["body"].encode("latin-1")) == {"apikey": "k", "pin": "ü"}
    assert dict(echoed["headers"])["content-type"] == "application/json"
    assert "cookie" not in dict(
        echoed["headers"]
    )  # httpx keeps the cookies; the transport adds none


def test_connections_are_capped_and_reused(echo: tuple[str, _Server]) -> None:
    url, server = echo

    async def main() -> list[int]:
        async with new_client(max_connections=3, transport="wire") as client:
            first = await asyncio.gather(*(client.get(url + "/slow") for _ in range(12)))
            second = await asyncio.gather(*(client.get(url + "/fast") for _ in range(6)))
            return [r.status_code for r in (*first, *second)]

    assert _run(main()) == [200] * 18
    assert len(server.ports) <= 3


def test_every_connection_a_burst_opened_is_kept_for_the_next(echo: tuple[str, _Server]) -> None:
    """A batch's requests come in bursts (16 movies in flight, up to 4 requests each): the
    connections the last burst opened serve the next, none closed and opened again."""
    url, server = echo

    async def main() -> None:
        async with new_client(transport="wire") as client:
            for _ in range(3):
                answers = await asyncio.gather(*(client.get(url + "/slow") for _ in range(48)))
                assert [r.status_code for r in answers] == [200] * 48

    _run(main())
    assert len(server.ports) == 48


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/reset", (httpx.ReadError, httpx.RemoteProtocolError)),
        ("/short", (httpx.RemoteProtocolError,)),
        ("/slow", (httpx.ReadTimeout,)),
    ],
)
def test_failures_are_httpx_errors(
    echo: tuple[str, _Server], path: str, error: tuple[type[Exception], ...]
) -> None:
    url, _ = echo

    async def main() -> None:
        async with new_client(transport="wire") as client:
            response = await client.get(url + path, timeout=httpx.Timeout(5, read=0.1))
            await response.aread()

    with pytest.raises(error) as info:
        _run(main())
    assert isinstance(info.value, httpx.TransportError)
    assert info.value.request.url.path == path


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there

    async def main() -> None:
        async with new_client(transport="wire") as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError):
        _run(main())


def test_closing_the_client_closes_every_connection(echo: tuple[str, _Server]) -> None:
    url, _ = echo

    async def main() -> list[bool]:
        client = new_client(transport="wire")
        transport = client._transport
        assert isinstance(transport, WireTransport)
        await asyncio.gather(*(client.get(url + "/slow") for _ in range(3)))
        opened = list(transport.pool._open)
        assert len(opened) == 3
        await client.aclose()
        assert not transport.pool._open
        return [conn.lost for conn in opened]

    assert _run(main()) == [True] * 3


@pytest.fixture
def tls_echo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The echo server behind TLS, with a self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
        check=False,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.fail(f"openssl could not make a test certificate: {made.stderr[-300:]!r}")
    server = _Server()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_https_verifies_certificates_the_way_httpx_does(
    tls_echo: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert = tls_echo

    async def get() -> int:
        async with new_client(transport="wire") as client:
            transport = client._transport
            assert isinstance(transport, WireTransport)
            assert transport.pool.tls_context is None  # no TLS context until an https request
            return (await client.get(url + "/secure")).status_code

    with pytest.raises(httpx.ConnectError):
        _run(get())  # self-signed: refused
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # httpx's way to trust a certificate
    assert _run(get()) == 200
