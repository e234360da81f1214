"""The transports under metarr's httpx client: aiohttp's sends exact requests and fails with
httpx's errors; the adaptive one moves to it after a client's first requests; mocks still work."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from metarr.http import TRANSPORT_VAR, new_client
from metarr.transport import SWITCH_AFTER, AdaptiveTransport, AiohttpTransport


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


def test_default_is_adaptive_and_the_variable_or_argument_chooses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(new_client()._transport, AdaptiveTransport)
    assert isinstance(new_client(transport="aiohttp")._transport, AiohttpTransport)
    assert isinstance(new_client(transport="httpx")._transport, httpx.AsyncHTTPTransport)
    monkeypatch.setenv(TRANSPORT_VAR, "httpx")
    assert isinstance(new_client()._transport, httpx.AsyncHTTPTransport)
    assert isinstance(new_client(transport="auto")._transport, AdaptiveTransport)
    monkeypatch.setenv(TRANSPORT_VAR, "AIOHTTP ")
    assert isinstance(new_client()._transport, AiohttpTransport)
    monkeypatch.setenv(TRANSPORT_VAR, "curl")
    with pytest.raises(ValueError, match="unknown HTTP transport 'curl'"):
        new_client()


def test_adaptive_moves_to_aiohttp_after_the_first_requests(echo: tuple[str, _Server]) -> None:
    url, _ = echo

    async def main() -> list[str]:
        async with httpx.AsyncClient(transport=AdaptiveTransport(switch_after=3)) as client:
            transport = client._transport
            assert isinstance(transport, AdaptiveTransport)
            used = []
            for n in range(5):
                response = await client.get(f"{url}/n{n}")
                assert response.json()["path"] == f"/n{n}"
                used.append("aiohttp" if transport._bulk._session is not None else "httpx")
            return used

    assert _run(main()) == ["httpx", "httpx", "httpx", "aiohttp", "aiohttp"]
    assert SWITCH_AFTER > 6  # a single lookup (six requests) never loads aiohttp


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
        async with new_client(transport="aiohttp") as client:
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
    assert "cookie" not in dict(echoed["headers"])  # httpx keeps cookies; aiohttp adds none


def test_connections_are_capped_and_reused(echo: tuple[str, _Server]) -> None:
    url, server = echo

    async def main() -> list[int]:
        async with new_client(max_connections=3, transport="aiohttp") as client:
            first = await asyncio.gather(*(client.get(url + "/slow") for _ in range(12)))
            second = await asyncio.gather(*(client.get(url + "/fast") for _ in range(6)))
            return [r.status_code for r in (*first, *second)]

    assert _run(main()) == [200] * 18
    assert len(server.ports) <= 3


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
        async with new_client(transport="aiohttp") as client:
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
        async with new_client(transport="aiohttp") as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError):
        _run(main())


def test_closing_the_client_closes_the_session(echo: tuple[str, _Server]) -> None:
    url, _ = echo

    async def main() -> bool:
        client = new_client(transport="aiohttp")
        transport = client._transport
        assert isinstance(transport, AiohttpTransport)
        await client.get(url + "/a")
        session = transport._session
        await client.aclose()
        return session is not None and session.closed

    assert _run(main())


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
        async with new_client(transport="aiohttp") as client:
            transport = client._transport
            assert isinstance(transport, AiohttpTransport)
            assert transport._tls is None  # no TLS context until an https request
            return (await client.get(url + "/secure")).status_code

    with pytest.raises(httpx.ConnectError):
        _run(get())  # self-signed: refused
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # httpx's way to trust a certificate
    assert _run(get()) == 200
