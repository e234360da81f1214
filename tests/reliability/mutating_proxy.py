"""A proxy in front of the simulator that rewrites its answers.

The reliability tests use it to play a provider that echoes the keys it was sent, or serves
hostile text, over real HTTP: metarr talks to the proxy exactly as it would to the simulator
(same paths, same keys), and every JSON answer passes through ``rewrite`` on its way back.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import attrs
from metarr_sim import SimServer


@attrs.frozen(kw_only=True)
class Exchange:
    """One request as the proxy received it (``path`` is relative to the provider's base URL,
    ``query`` is the raw query string as sent)."""

    provider: str
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


Rewrite = Callable[[Exchange, int, Any], tuple[int, Any]]
"""``(exchange, status, parsed body) -> (status, body)``; a ``bytes`` body is sent as it is."""


class MutatingProxy:
    """Forwards every request to ``sim`` and answers with ``rewrite`` of the simulator's answer."""

    def __init__(self, sim: SimServer, rewrite: Rewrite) -> None:
        self.sim = sim
        self.rewrite = rewrite
        self.requests = 0
        self._lock = threading.Lock()
        prefixes = {name: urlsplit(url).path for name, url in sim.base_urls().items()}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def _forward(self) -> None:
                with outer._lock:
                    outer.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                provider = next((n for n, p in prefixes.items() if path.startswith(p)), "")
                upstream = http.client.HTTPConnection("127.0.0.1", outer.sim.port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    status, data = answer.status, answer.read()
                    retry_after = answer.getheader("Retry-After")
                finally:
                    upstream.close()
                exchange = Exchange(
                    provider=provider,
                    method=self.command,
                    path=path.removeprefix(prefixes.get(provider, "")),
                    query=query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                try:
                    parsed = json.loads(data)
                except ValueError:
                    status, out = status, data
                else:
                    status, new = outer.rewrite(exchange, status, parsed)
                    out = new if isinstance(new, bytes) else json.dumps(new).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def settings_env(self) -> dict[str, str]:
        """The simulator's ``METARR_*`` settings, every base URL pointing here."""
        return {k: v.replace(self.sim.url, self.url) for k, v in self.sim.settings_env().items()}

    def __enter__(self) -> MutatingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
