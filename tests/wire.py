"""pytest-httpx's ``add_response`` / ``add_callback`` / ``get_requests`` served over real HTTP on
127.0.0.1, so the same test runs against the mock and against the wire (`metarr.http`'s paths
through httpx's client and directly through metarr.wire)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import httpx

Callback = Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]


@attrs.define
class _Entry:
    method: str | None
    url: str | None
    reusable: bool
    response: Callable[[httpx.Request], httpx.Response]
    optional: bool = False
    used: int = 0

    def matches(self, request: httpx.Request) -> bool:
        return (self.method is None or self.method == request.method) and (
            self.url is None or self.url == str(request.url)
        )


class Wire:
    """A local HTTP server answering what tests register, in order (pytest-httpx's rules:
    each response once unless ``is_reusable``; every registered response must be used)."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._requests: list[httpx.Request] = []
        self._unmatched: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_response(
        self,
        *,
        status_code: int = 200,
        json: Any = None,
        content: bytes | None = None,
        text: str | None = None,
        headers: Any = None,
        stream: Any = None,
        method: str | None = None,
        url: str | None = None,
        is_reusable: bool = False,
        is_optional: bool = False,
    ) -> None:
        """Answer a matching request with this response (as `httpx.Response` builds it)."""

        def respond(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                status_code, json=json, content=content, text=text, headers=headers, stream=stream
            )

        self._entries.append(_Entry(method, url, is_reusable, respond, optional=is_optional))

    def add_callback(
        self,
        callback: Callback,
        *,
        method: str | None = None,
        url: str | None = None,
        is_reusable: bool = False,
    ) -> None:
        """Answer a matching request with what ``callback`` returns (run in the server)."""
        self._entries.append(
            _Entry(method, url, is_reusable, lambda request: asyncio.run(callback(request)))
        )

    def get_requests(self) -> list[httpx.Request]:
        """Every request received, in order."""
        with self._lock:
            return list(self._requests)

    def close(self) -> None:
        """Stop serving; fail if a registered response was never asked for or a request
        found no response."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        unused = [e for e in self._entries if not (e.used or e.optional)]
        assert not unused, f"{len(unused)} registered response(s) never requested"
        assert not self._unmatched, f"no response registered for {self._unmatched}"

    def _answer(self, request: httpx.Request) -> httpx.Response | None:
        with self._lock:
            self._requests.append(request)
            fresh = [e for e in self._entries if e.matches(request) and not e.used]
            reusable = [e for e in self._entries if e.matches(request) and e.reusable]
            chosen = fresh[0] if fresh else reusable[-1] if reusable else None
            if chosen is None:
                self._unmatched.append(str(request.url))
                return None
            chosen.used += 1
        return chosen.response(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = httpx.Request(
            self.command,
            self.server.wire.origin + self.path,
            headers=list(self.headers.items()),
            content=body,
        )
        response = self.server.wire._answer(request)
        if response is None:
            self.send_error(599, "no response registered")
            return
        self.send_response(response.status_code)
        streamed = not isinstance(response.stream, httpx.ByteStream)
        content = b"" if streamed else response.read()
        for name, value in response.headers.multi_items():
            if name not in ("transfer-encoding", "content-length"):
                self.send_header(name, value)
        if streamed:
            self.send_header("Transfer-Encoding", "chunked")
        elif response.status_code not in (204, 304):
            self.send_header(
                "Content-Length", response.headers.get("content-length", str(len(content)))
            )
        self.end_headers()
        if not streamed:
            self.wfile.write(content)
            return
        for chunk in response.iter_raw():
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, wire: Wire) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.wire = wire
