"""The adversarial provider: a hostile HTTP proxy in front of the simulator.

``HostileProxy(sim)`` listens on 127.0.0.1 and forwards every request to a running `SimServer`
under the same paths; ``proxy.settings_env()`` points metarr at it (keys included), so the real
plugins talk to the simulator through a man in the middle that lies on request. Rules apply per
provider (``tmdb``, ``omdb``, ``fanart``, ``tvdb``); each takes an optional ``when(target)``
test on the request's ``path?query`` (credentials left out, e.g. ``/movie/603?language=en``
or ``/?i=tt0133093&plot=full&type=movie&r=json``):

- ``reject_key_after(provider, n)``: after ``n`` requests the credentials the request presents
  are swapped for a wrong key before forwarding, so the simulator answers with that API's own
  rejection (a key revoked mid-run; TheTVDB's token and its fresh login are both refused).
- ``answer(provider, status, body, headers=...)``: answer without forwarding; ``body`` is JSON
  data or raw bytes (`WRONG_404` is a 404 that is not the API's not-found answer, `nested` a
  body nested deeper than any parser should follow). ``times`` limits how often.
- ``serve_as(provider, {asked: served})``: forward with each ``asked`` substring of the
  ``path?query`` replaced by ``served`` (one record served for two movies: a merged record).
- ``repoint(provider, {old: new})``: every JSON value equal to ``old`` (compared as text) in
  the answers becomes ``new`` (an id re-pointed to another movie).
- ``rewrite(provider, fn)``: ``fn(target, body) -> body`` on every JSON answer.
- ``echo_keys(provider, fields=...)``: every JSON object answered (success or error) carries
  the credentials the request presented in every spelling a secret takes (`spellings`: raw,
  percent-encoded, ``+`` for space, JSON-escaped), in an ``echo`` field and appended to each of
  ``fields`` present (by default the APIs' error-message fields).

``counts()`` gives the requests received per provider, ``targets(provider)`` each one's
``path?query`` (credentials left out), in order. Use as a context manager.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

import attrs
from metarr_sim import SimServer

CREDENTIAL_PARAMS = frozenset({"api_key", "apikey", "client_key"})
CREDENTIAL_FIELDS = ("apikey", "pin")  # in TheTVDB's JSON login body
MESSAGE_FIELDS = ("status_message", "Error", "error message", "message")
REVOKED = "revoked-by-the-proxy"
WRONG_404 = b'{"error": "no route for this path"}'

When = Callable[[str], bool]
Rewrite = Callable[[str, Any], Any]


def spellings(secret: str) -> list[str]:
    """Every form a secret takes on the wire: raw, percent-encoded, ``+`` for space and
    JSON-escaped (with and without non-ASCII escapes), each once."""
    forms = [
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
    ]
    return list(dict.fromkeys(forms))


def nested(depth: int) -> bytes:
    """A JSON body of ``depth`` nested lists."""
    return b"[" * depth + b"]" * depth


@attrs.define
class _Rule:
    kind: str
    when: When | None = None
    times: int | None = None
    args: dict[str, Any] = attrs.field(factory=dict)

    def applies(self, target: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return self.when is None or self.when(target)

    def use(self) -> None:
        if self.times is not None:
            self.times -= 1


@attrs.define
class _Request:
    provider: str
    method: str
    path: str  # below the provider's prefix
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    @property
    def target(self) -> str:
        """``path?query`` without credentials (what rules and counts see)."""
        shown = [(k, v) for k, v in self.query if k not in CREDENTIAL_PARAMS]
        return self.path + (f"?{urlencode(shown)}" if shown else "")

    def secrets(self) -> list[str]:
        found = [v for k, v in self.query if k in CREDENTIAL_PARAMS and v]
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            found.append(auth[7:])
        if self.headers.get("api-key"):
            found.append(self.headers["api-key"])
        data = self._json_body()
        found += [str(data[f]) for f in CREDENTIAL_FIELDS if isinstance(data, dict) and f in data]
        return found

    def revoke(self) -> None:
        self.query = [(k, REVOKED if k in CREDENTIAL_PARAMS else v) for k, v in self.query]
        if "authorization" in self.headers:
            self.headers["authorization"] = f"Bearer {REVOKED}"
        if "api-key" in self.headers:
            self.headers["api-key"] = REVOKED
        data = self._json_body()
        if isinstance(data, dict) and "apikey" in data:
            self.body = json.dumps({**data, "apikey": REVOKED}).encode()

    def _json_body(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class HostileProxy:
    """A lying man in the middle between metarr and a running `SimServer` (see the module)."""

    def __init__(self, sim: SimServer) -> None:
        self.sim = sim
        self._prefixes = {name: url[len(sim.url) :] for name, url in sim.base_urls().items()}
        self._rules: dict[str, list[_Rule]] = {name: [] for name in self._prefixes}
        self._seen: dict[str, Counter[str]] = {name: Counter() for name in self._prefixes}
        self._targets: dict[str, list[str]] = {name: [] for name in self._prefixes}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy._serve(self)

            def do_POST(self) -> None:
                proxy._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle and facts -------------------------------------------------------------

    def __enter__(self) -> HostileProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def settings_env(self) -> dict[str, str]:
        """The simulator's ``METARR_*`` settings with every base URL pointing here."""
        return {
            name: value.replace(self.sim.url, self.url) if name.endswith("_BASE_URL") else value
            for name, value in self.sim.settings_env().items()
        }

    def counts(self) -> dict[str, int]:
        """Requests received so far, per provider."""
        with self._lock:
            return {name: sum(c.values()) for name, c in self._seen.items()}

    def targets(self, provider: str) -> list[str]:
        """Each request received for ``provider``, as ``path?query`` without credentials."""
        with self._lock:
            return list(self._targets[provider])

    # -- rules ----------------------------------------------------------------------------

    def reject_key_after(self, provider: str, n: int, *, when: When | None = None) -> None:
        """From request ``n + 1`` on, the provider sees a wrong key (a key revoked mid-run)."""
        self._add(provider, _Rule("reject", when, args={"after": n}))

    def answer(
        self,
        provider: str,
        status: int,
        body: Any = WRONG_404,
        *,
        headers: Mapping[str, str] | None = None,
        when: When | None = None,
        times: int | None = None,
    ) -> None:
        """Answer ``status`` with ``body`` (JSON data or raw bytes) and ``headers`` (e.g.
        ``Retry-After``), without forwarding."""
        args = {"status": status, "body": body, "headers": dict(headers or {})}
        self._add(provider, _Rule("answer", when, times, args))

    def serve_as(self, provider: str, swap: Mapping[str, str], *, when: When | None = None) -> None:
        """Forward with each key of ``swap`` replaced by its value in the ``path?query``."""
        self._add(provider, _Rule("serve_as", when, args={"swap": dict(swap)}))

    def repoint(
        self, provider: str, values: Mapping[Any, Any], *, when: When | None = None
    ) -> None:
        """Replace every JSON value equal (as text) to a key of ``values`` by its value."""
        swap = {str(old): new for old, new in values.items()}
        self._add(provider, _Rule("rewrite", when, args={"fn": lambda _t, b: _swap(b, swap)}))

    def rewrite(self, provider: str, fn: Rewrite, *, when: When | None = None) -> None:
        """Apply ``fn(target, body) -> body`` to every JSON answer."""
        self._add(provider, _Rule("rewrite", when, args={"fn": fn}))

    def echo_keys(
        self, provider: str, *, fields: tuple[str, ...] = MESSAGE_FIELDS, when: When | None = None
    ) -> None:
        """Echo the request's credentials, in every spelling, in every JSON object answered."""
        self._add(provider, _Rule("echo", when, args={"fields": fields}))

    def _add(self, provider: str, rule: _Rule) -> None:
        if provider not in self._rules:
            raise ValueError(f"unknown provider {provider!r}: one of {', '.join(self._rules)}")
        with self._lock:
            self._rules[provider].append(rule)

    # -- serving --------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else b""
        split = urlsplit(handler.path)
        provider = next(
            (
                n
                for n, p in self._prefixes.items()
                if split.path == p or split.path.startswith(p + "/")
            ),
            None,
        )
        if provider is None:
            _send(handler, 404, WRONG_404, {})
            return
        request = _Request(
            provider=provider,
            method=handler.command,
            path=split.path[len(self._prefixes[provider]) :],
            query=parse_qsl(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        target = request.target
        with self._lock:
            self._seen[provider][target] += 1
            self._targets[provider].append(target)
            number = sum(self._seen[provider].values())
            rules = [r for r in self._rules[provider] if r.applies(target)]
            for rule in rules:
                rule.use()
        secrets = request.secrets()
        for rule in rules:
            if rule.kind == "reject" and number > rule.args["after"]:
                request.revoke()
            elif rule.kind == "answer":
                data = rule.args["body"]
                raw = data if isinstance(data, bytes) else json.dumps(data).encode()
                _send(handler, rule.args["status"], raw, rule.args["headers"])
                return
            elif rule.kind == "serve_as":
                for asked, served in rule.args["swap"].items():
                    request.path = request.path.replace(asked, served)
                    request.query = [(k, v.replace(asked, served)) for k, v in request.query]
        status, data, headers = self._forward(request)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            _send(handler, status, data, headers)
            return
        for rule in rules:
            if rule.kind == "rewrite":
                parsed = rule.args["fn"](target, parsed)
            elif rule.kind == "echo":
                parsed = _echo(parsed, secrets, rule.args["fields"])
        _send(handler, status, json.dumps(parsed, ensure_ascii=False).encode(), headers)

    def _forward(self, request: _Request) -> tuple[int, bytes, dict[str, str]]:
        path = self._prefixes[request.provider] + request.path
        if request.query:
            path += "?" + urlencode(request.query)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k not in ("host", "content-length", "connection", "accept-encoding")
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=60)
        try:
            connection.request(request.method, path, body=request.body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() == "retry-after"}
            return response.status, data, kept
        except OSError:
            return 502, b'{"error": "the simulator did not answer"}', {}
        finally:
            connection.close()


def _send(
    handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: Mapping[str, str]
) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json;charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:
        handler.close_connection = True


def _swap(value: Any, swap: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _swap(v, swap) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap(v, swap) for v in value]
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value) in swap:
        return swap[str(value)]
    return value


def _echo(value: Any, secrets: list[str], fields: tuple[str, ...]) -> Any:
    if not secrets:
        return value
    echoed = " ".join(form for secret in secrets for form in spellings(secret))
    return _echo_into(value, echoed, fields)


def _echo_into(value: Any, echoed: str, fields: tuple[str, ...]) -> Any:
    if isinstance(value, list):
        return [_echo_into(v, echoed, fields) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _echo_into(v, echoed, fields) for k, v in value.items()}
    for field in fields:
        if isinstance(out.get(field), str):
            out[field] = f"{out[field]} {echoed}"
    out["echo"] = echoed
    return out
