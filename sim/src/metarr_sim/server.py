"""The simulator's HTTP server: four provider APIs on 127.0.0.1, with latency, limits and faults.

One `SimServer` serves TMDB v3, OMDb, Fanart.tv v3 and TheTVDB v4 under their own prefixes
(see `SimServer.base_urls`); the path after each base URL is the real API path. `Knobs` per
provider add latency and jitter, a token-bucket rate limit (429 with ``Retry-After``), a daily
quota, and faults; ``seed`` makes faults and jitter repeatable: the dice for a request depend on
the seed, the request (auth parameters left out) and how many times that same request was seen.
"""

from __future__ import annotations

import contextlib
import http
import json
import logging
import math
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

from metarr_sim import synth
from metarr_sim.base import Reply, SimKeys, SimProvider, SimRequest
from metarr_sim.changes import ChangeLog
from metarr_sim.fanart import FanartSim
from metarr_sim.omdb import OmdbSim
from metarr_sim.tmdb import TmdbSim
from metarr_sim.tvdb import TvdbSim
from metarr_sim.world import World

__all__ = ["FAULTS", "PROVIDERS", "Knobs", "SimServer"]

log = logging.getLogger(__name__)

FAULTS = ("500", "502", "503", "timeout", "truncated", "reset", "slow")
PROVIDERS = ("tmdb", "omdb", "fanart", "tvdb")
_AUTH_PARAMS = frozenset({"api_key", "apikey", "client_key"})


@attrs.frozen(kw_only=True)
class Knobs:
    """How one simulated provider misbehaves. The defaults: instant, unlimited, no faults."""

    latency: float = 0.0
    """Seconds added to every response."""
    jitter: float = 0.0
    """Up to this many extra seconds, uniformly drawn (repeatable with the server's seed)."""
    rate: float | None = None
    """Token-bucket refill in requests per second; beyond it requests get a 429."""
    burst: int | None = None
    """Bucket size (default: ``rate`` rounded up, at least 1)."""
    daily_quota: int | None = None
    """Requests per key before the quota answer (OMDb: ``Request limit reached!``, HTTP 401)."""
    fault_rate: float = 0.0
    """Probability that a request gets one of ``faults`` instead of its answer."""
    faults: tuple[str, ...] = FAULTS
    """Fault kinds to draw from: ``500 502 503 504`` (API error body), ``timeout`` (hold the
    connection, then close it unanswered), ``truncated`` (Content-Length larger than the body),
    ``reset`` (TCP reset), ``slow`` (the body dripped in small chunks)."""
    timeout_hold: float = 30.0
    """How long a ``timeout`` fault holds the connection (ends early when the server stops)."""
    slow_duration: float = 2.0
    """How long a ``slow`` fault takes to drip the whole body."""

    def __attrs_post_init__(self) -> None:
        unknown = set(self.faults) - {*FAULTS, "504"}
        if unknown:
            raise ValueError(f"unknown fault kind(s): {', '.join(sorted(unknown))}")
        if not 0 <= self.fault_rate <= 1:
            raise ValueError("fault_rate must be between 0 and 1")


class _Bucket:
    def __init__(self, rate: float, burst: int | None) -> None:
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, math.ceil(rate)))
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate if self.rate > 0 else 3600.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "metarr-sim"
    timeout = 120  # idle keep-alive connections are closed after this long
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sim._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.sim._track(self.connection, add=False)

    def do_GET(self) -> None:
        self.server.sim._serve(self)

    def do_POST(self) -> None:
        self.server.sim._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: SimServer) -> None:
        self.sim = sim
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("simulator connection error from %s", client_address, exc_info=True)


class SimServer:
    """The simulated providers on 127.0.0.1. Use as a context manager, or `start` / `stop`."""

    def __init__(
        self,
        world: World,
        *,
        knobs: Mapping[str, Knobs] | None = None,
        seed: int = 0,
        keys: SimKeys | None = None,
        port: int = 0,
        changes: Mapping[int, Iterable[datetime]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``changes``: TMDB ids and when each changed (TMDB's change feed lists them);
        ``clock``: the simulator's "now" for the feed's default window (the last 24 hours)."""
        self.world = world
        self.keys = keys or SimKeys()
        self.seed = seed
        self.port = port
        self._knobs = dict(knobs or {})
        unknown = set(self._knobs) - {*PROVIDERS, "*"}
        if unknown:
            raise ValueError(f"knobs for unknown provider(s): {', '.join(sorted(unknown))}")
        self.changes = ChangeLog(changes, clock=clock)
        providers: list[SimProvider] = [
            TmdbSim(world, self.keys, self.changes),
            *(cls(world, self.keys) for cls in (OmdbSim, FanartSim, TvdbSim)),
        ]
        self._providers = {p.name: p for p in providers}
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {name: Counter() for name in PROVIDERS}
        self._limited: dict[str, Counter[str]] = {name: Counter() for name in PROVIDERS}
        self._quota: Counter[tuple[str, str]] = Counter()
        self._seen: Counter[str] = Counter()
        self._buckets: dict[str, _Bucket] = {}
        self._connections: set[socket.socket] = set()
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int | None = None) -> SimServer:
        """Bind 127.0.0.1 (a free port unless one is given) and serve in a background thread."""
        if self._httpd is not None:
            return self
        self._stop = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", self.port if port is None else port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"metarr-sim:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; held (``timeout``/``slow``) connections are released at once."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --------------------------------------------------------------------- facts

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def base_urls(self) -> dict[str, str]:
        """Each provider's base URL; the path after it is the real API path."""
        return {name: self.url + provider.prefix for name, provider in self._providers.items()}

    def settings_env(self) -> dict[str, str]:
        """``METARR_*`` variables pointing every provider at the simulator, keys included."""
        urls = self.base_urls()
        env = {
            "METARR_TMDB_BASE_URL": urls["tmdb"],
            "METARR_TMDB_API_KEY": self.keys.tmdb_api_key,
            "METARR_OMDB_BASE_URL": urls["omdb"],
            "METARR_OMDB_API_KEY": self.keys.omdb_api_key,
            "METARR_FANART_BASE_URL": urls["fanart"],
            "METARR_FANART_API_KEY": self.keys.fanart_api_key,
            "METARR_TVDB_BASE_URL": urls["tvdb"],
            "METARR_TVDB_API_KEY": self.keys.tvdb_api_key,
        }
        if self.keys.tvdb_pin is not None:
            env["METARR_TVDB_PIN"] = self.keys.tvdb_pin
        return env

    def mark_changed(self, *tmdb_ids: int, at: datetime | None = None) -> None:
        """Mark movies changed on TMDB at ``at`` (default: now), for its change feed."""
        self.changes.mark(*tmdb_ids, at=at)

    def counts(self) -> dict[str, dict[str, int]]:
        """Requests received so far, per provider and endpoint (faults and 429s included)."""
        with self._lock:
            return {name: dict(counter) for name, counter in self._counts.items()}

    def rate_limited_counts(self) -> dict[str, dict[str, int]]:
        """Requests answered with a rate-limit (429) or quota error, per provider and endpoint."""
        with self._lock:
            return {name: dict(counter) for name, counter in self._limited.items()}

    def total(self) -> int:
        """All requests received so far."""
        with self._lock:
            return sum(sum(counter.values()) for counter in self._counts.values())

    def reset_counts(self) -> None:
        """Zero the counts, the quotas used and the fault dice (a seeded run then repeats)."""
        with self._lock:
            for counter in (*self._counts.values(), *self._limited.values()):
                counter.clear()
            self._quota.clear()
            self._seen.clear()

    # ----------------------------------------------------------------- internals

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _knobs_for(self, provider: str) -> Knobs:
        return self._knobs.get(provider) or self._knobs.get("*") or _DEFAULT_KNOBS

    def _route(self, path: str) -> tuple[SimProvider | None, str]:
        for provider in self._providers.values():
            prefix = provider.prefix
            if path == prefix or path.startswith(prefix + "/"):
                return provider, path[len(prefix) :]
        return None, path

    def _serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else b""
        provider, sub_path = self._route(split.path)
        if provider is None:
            reply = Reply(
                status=404,
                body={"error": "not a simulated API path", "base_urls": self.base_urls()},
            )
            self._send(handler, reply)
            return
        pairs = parse_qsl(split.query, keep_blank_values=True)
        request = SimRequest(
            method=handler.command,
            path=sub_path,
            query=dict(pairs),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        name = provider.name
        endpoint = provider.endpoint(request)
        knobs = self._knobs_for(name)
        canonical = " ".join(
            (
                name,
                request.method,
                sub_path,
                repr(sorted(p for p in pairs if p[0] not in _AUTH_PARAMS)),
            )
        )
        with self._lock:
            self._counts[name][endpoint] += 1
            self._seen[canonical] += 1
            dice = random.Random(
                synth.stable("request", self.seed, canonical, self._seen[canonical])
            )
        if knobs.rate is not None:
            wait = self._bucket(name, knobs).take()
            if wait > 0:
                self._limit(name, endpoint)
                self._send(handler, provider.error(429, retry_after=max(1, math.ceil(wait))))
                return
        if knobs.daily_quota is not None:
            key = provider.key_of(request)
            if key is not None and provider.authorised(request):
                with self._lock:
                    self._quota[(name, key)] += 1
                    spent = self._quota[(name, key)] > knobs.daily_quota
                if spent:
                    self._limit(name, endpoint)
                    self._send(handler, provider.quota_exceeded())
                    return
        fault = None
        if knobs.fault_rate and dice.random() < knobs.fault_rate and knobs.faults:
            fault = dice.choice(knobs.faults)
        delay = knobs.latency + (dice.uniform(0, knobs.jitter) if knobs.jitter else 0.0)
        if delay > 0 and self._stop.wait(delay):
            handler.close_connection = True
            return
        if fault in ("500", "502", "503", "504"):
            self._send(handler, provider.error(int(fault)))
            return
        if fault == "timeout":
            self._stop.wait(knobs.timeout_hold)
            handler.close_connection = True
            return
        if fault == "reset":
            self._reset(handler)
            return
        try:
            reply = provider.handle(request)
        except Exception:
            log.exception("simulated %s failed on %s", name, handler.path)
            reply = provider.error(500)
        self._send(
            handler,
            reply,
            truncate=fault == "truncated",
            slow=knobs.slow_duration if fault == "slow" else None,
        )

    def _bucket(self, name: str, knobs: Knobs) -> _Bucket:
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None or bucket.rate != knobs.rate:
                bucket = self._buckets[name] = _Bucket(knobs.rate or 0.0, knobs.burst)
            return bucket

    def _limit(self, name: str, endpoint: str) -> None:
        with self._lock:
            self._limited[name][endpoint] += 1

    def _send(
        self,
        handler: _Handler,
        reply: Reply,
        *,
        truncate: bool = False,
        slow: float | None = None,
    ) -> None:
        data = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":")).encode()
        length = len(data) + (len(data) // 2 + 16 if truncate else 0)
        try:
            phrase = http.HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [
            f"HTTP/1.1 {reply.status} {phrase}",
            "Server: metarr-sim",
            f"Date: {formatdate(usegmt=True)}",
            "Content-Type: application/json;charset=utf-8",
            f"Content-Length: {length}",
            *(f"{key}: {value}" for key, value in reply.headers.items()),
        ]
        if handler.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if truncate:
                handler.wfile.write(head + data[: max(1, len(data) // 2)])
                handler.close_connection = True
            elif slow is not None:
                handler.wfile.write(head)
                pieces = 16
                size = max(1, math.ceil(len(data) / pieces))
                for start in range(0, len(data), size):
                    if self._stop.wait(slow / pieces):
                        handler.close_connection = True
                        return
                    handler.wfile.write(data[start : start + size])
            else:
                handler.wfile.write(head + data)
        except OSError:
            handler.close_connection = True

    @staticmethod
    def _reset(handler: _Handler) -> None:
        """Close with SO_LINGER 0: the peer gets a TCP RST instead of a response."""
        handler.close_connection = True
        try:
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
        except OSError:
            pass


_DEFAULT_KNOBS = Knobs()
