"""Shared tools for the reliability tests: running metarr, misbehaving servers, DB checks.

Everything talks HTTP to 127.0.0.1 only and stops by itself: servers run in daemon threads
with bounded work, subprocesses are killed when a test ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx
from metarr.cache.packed import unpack
from metarr.config import load_settings
from metarr.convert import from_json
from metarr.engine import Identification
from metarr.models import Movie, ProviderResult
from metarr.orchestrator import Orchestrator
from metarr.plugins import PluginInfo, discover
from metarr.query import Query
from metarr_sim.base import SimKeys, SimRequest
from metarr_sim.fanart import FanartSim
from metarr_sim.omdb import OmdbSim
from metarr_sim.tmdb import TmdbSim
from metarr_sim.tvdb import TvdbSim
from metarr_sim.world import World

PROVIDERS: tuple[str, ...] = ("tmdb", "omdb", "fanart", "tvdb")
METARR = Path(sys.executable).with_name("metarr")


def real_plugins() -> list[PluginInfo]:
    """The four bundled provider plugins (nothing else that happens to be installed)."""
    return [info for info in discover() if info.name in PROVIDERS]


def identify(
    env: Mapping[str, str],
    db: Path,
    queries: Sequence[Query],
    *,
    interactive: bool = False,
    plugins: Sequence[PluginInfo] | None = None,
) -> list[Identification]:
    """Run the real orchestrator with the real plugins, configured by ``env`` only."""
    infos = list(plugins or real_plugins())
    settings = load_settings(infos, env=dict(env), db_path=db)

    async def main() -> list[Identification]:
        async with Orchestrator(settings) as orc:
            return [await orc.run(q, interactive=interactive) for q in queries]

    return asyncio.run(main())


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- a server that answers badly -------------------------------------------------------------

Responder = Callable[["BaseHTTPRequestHandler"], None]


class BadServer:
    """A tiny HTTP server on 127.0.0.1 whose every answer comes from ``responder``.

    A ``POST .../login`` (TheTVDB) is answered with a token, so the data request is the one
    that meets the bad answer. ``sent`` counts the body bytes the responder managed to write.
    """

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.sent = 0
        self.requests = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with outer._lock:
                    outer.requests += 1
                outer.responder(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if self.path.rstrip("/").endswith("/login"):
                    write_json(self, 200, {"status": "success", "data": {"token": "bad-token"}})
                    return
                self.do_GET()

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

    def count(self, n: int) -> None:
        """Record ``n`` more body bytes written."""
        with self._lock:
            self.sent += n

    def __enter__(self) -> BadServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def write_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Answer with a JSON body and its Content-Length."""
    write_raw(handler, status, json.dumps(body).encode())


def write_raw(
    handler: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    content_type: str = "application/json",
) -> None:
    """Answer with exactly these body bytes."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


# -- an in-process simulator for pytest-httpx ------------------------------------------------

Mutator = Callable[[str, str, Any], Any]
SIM_BASE = "https://sim.test"


class InProcessSim:
    """The simulator's provider logic answering pytest-httpx requests, with no socket.

    ``mutate(provider, path, body)`` may rewrite each JSON body on its way out: that is how
    the hostile tests plant absurd values in otherwise realistic API answers.
    """

    def __init__(self, world: World, mutate: Mutator | None = None) -> None:
        keys = SimKeys()
        self.keys = keys
        self._live = {cls.name: cls(world, keys) for cls in (TmdbSim, OmdbSim, FanartSim, TvdbSim)}
        self.mutate = mutate or (lambda provider, path, body: body)

    def env(self) -> dict[str, str]:
        """``METARR_*`` settings pointing every provider here, with the simulator's keys."""
        urls = {name: SIM_BASE + p.prefix for name, p in self._live.items()}
        return {
            "METARR_TMDB_BASE_URL": urls["tmdb"],
            "METARR_TMDB_API_KEY": self.keys.tmdb_api_key,
            "METARR_OMDB_BASE_URL": urls["omdb"],
            "METARR_OMDB_API_KEY": self.keys.omdb_api_key,
            "METARR_FANART_BASE_URL": urls["fanart"],
            "METARR_FANART_API_KEY": self.keys.fanart_api_key,
            "METARR_TVDB_BASE_URL": urls["tvdb"],
            "METARR_TVDB_API_KEY": self.keys.tvdb_api_key,
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = urlsplit(str(request.url)).path
        for name, provider in self._live.items():
            if path == provider.prefix or path.startswith(provider.prefix + "/"):
                sim_request = SimRequest(
                    method=request.method,
                    path=path[len(provider.prefix) :],
                    query=dict(request.url.params),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=request.content,
                )
                reply = provider.handle(sim_request)
                body = self.mutate(name, sim_request.path, reply.body)
                if not isinstance(body, bytes):  # ASCII escapes: lone surrogates travel too
                    body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **reply.headers}
                return httpx.Response(reply.status, content=body, headers=headers)
        return httpx.Response(404, json={"error": "no such simulated path"})


# -- checking a cache database ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StoredMovie:
    """One movie row as read back, with its parts."""

    id: int
    movie: Movie
    parts: dict[str, dict[str, Any]]
    results: dict[str, ProviderResult]


def check_db(
    path: Path, *, providers: Sequence[str] = PROVIDERS, wal_only: bool = False
) -> list[StoredMovie]:
    """Assert the cache is sound and every movie whole; return the movies.

    Sound: ``integrity_check`` is ok, no foreign-key violation, no orphan child row. Whole:
    each movie's columns, child rows (images, ratings, cast, crew in order) and provenance
    agree with its stored JSON, and it has one parsed part per provider, whose ``ok`` parts
    hold a result and whose provenance names only providers that answered.
    """
    if not path.exists():
        return []
    conn = sqlite3.connect(path, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall()[0][0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "provider_cache_movies" not in tables:
            return []
        stored = [_check_movie(conn, row, providers) for row in _rows(conn)]
        orphans = conn.execute(
            "SELECT count(*) FROM provider_parts WHERE movie_id NOT IN "
            "(SELECT id FROM provider_cache_movies)"
        ).fetchone()[0]
        assert orphans == 0, "orphan provider parts"
        for kind in ("tmdb", "imdb", "tvdb"):
            values = [getattr(m.movie.ids, kind) for m in stored if getattr(m.movie.ids, kind)]
            assert len(values) == len(set(values)), f"duplicate {kind} ids"
        return stored
    finally:
        conn.close()


def _rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return list(conn.execute("SELECT * FROM provider_cache_movies ORDER BY id"))


def stored_json(conn: sqlite3.Connection, query: str) -> str:
    """Every stored JSON document the query selects (first column), as text, concatenated:
    the cache keeps them compressed, where a byte search of the file cannot see them."""
    return "".join(unpack(row[0]) for row in conn.execute(query) if row[0] is not None)


def _check_movie(
    conn: sqlite3.Connection, row: sqlite3.Row, providers: Sequence[str]
) -> StoredMovie:
    movie = from_json(Movie, json.loads(unpack(row["movie"])))
    where = f"movie row {row['id']} ({movie.title})"
    assert movie.ids, where
    assert (row["tmdb_id"], row["imdb_id"], row["tvdb_id"]) == (
        movie.ids.tmdb,
        movie.ids.imdb,
        movie.ids.tvdb,
    ), where
    assert (row["title"], row["year"]) == (movie.title, movie.year), where
    assert json.loads(row["provenance"]) == movie.provenance, where
    mid = row["id"]
    parts = {
        r["provider"]: dict(r)
        for r in conn.execute("SELECT * FROM provider_parts WHERE movie_id = ?", [mid])
    }
    assert set(parts) == set(providers), f"{where}: parts {sorted(parts)}"
    results: dict[str, ProviderResult] = {}
    for name, part in parts.items():
        if part["status"] == "ok":
            assert part["result"] is not None, f"{where}: ok part of {name} without a result"
            results[name] = from_json(ProviderResult, json.loads(unpack(part["result"])))
        else:
            assert part["status"] in ("not_found", "error", "rate_limited", "missing"), where
    answered = set(results)
    assert set(movie.provenance.values()) <= answered, f"{where}: provenance {movie.provenance}"
    for items in (movie.images, movie.ratings, movie.cast, movie.crew):
        assert {item.provider for item in items} <= answered, where
    return StoredMovie(id=mid, movie=movie, parts=parts, results=results)


def table_count(path: Path, table: str) -> int:
    """Rows in ``table`` (0 when the database or table does not exist)."""
    if not path.exists():
        return 0
    conn = sqlite3.connect(path, timeout=30)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


# -- the command line as a subprocess --------------------------------------------------------


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment (isolated XDG dirs, no stray METARR_*) plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["METARR_LOAD_PLUGINS"] = ",".join(PROVIDERS)
    env.update(extra or {})
    return env


def run_cli(
    args: Sequence[str], env: Mapping[str, str], *, timeout: float = 60, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``metarr ARGS`` to completion (bounded by ``timeout``)."""
    return subprocess.run(
        [str(METARR), *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def popen_cli(args: Sequence[str], env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``metarr ARGS``; it is killed when the block ends if still running."""
    process = subprocess.Popen(
        [str(METARR), *args],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


# -- a library to identify -------------------------------------------------------------------


def library(world: World, size: int, *, seed: int) -> list[dict[str, Any]]:
    """``size`` distinct world movies as batch rows: by TMDB, IMDb or TVDB id, or title+year."""
    rng = random.Random(seed)
    movies = [m for m in world if m.tmdb_id and m.imdb_id and m.year]
    rows: list[dict[str, Any]] = []
    for movie in rng.sample(movies, size):
        draw = rng.random()
        if draw < 0.4:
            rows.append({"tmdb_id": movie.tmdb_id})
        elif draw < 0.7:
            rows.append({"imdb_id": movie.imdb_id})
        elif draw < 0.85 and movie.in_tvdb:
            rows.append({"tvdb_id": movie.tvdb_id})
        else:
            rows.append({"title": movie.title, "year": movie.year})
    return rows


def write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write batch rows as JSON Lines."""
    path.write_text("".join(json.dumps(dict(row)) + "\n" for row in rows), encoding="utf-8")
    return path


def outcome_lines(stdout: bytes) -> list[dict[str, Any]]:
    """The complete JSON lines of ``metarr batch --json`` output (a cut last line is dropped)."""
    found = []
    for line in stdout.decode("utf-8", "replace").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "status" in data:
            found.append(data)
    return found


def movie_key(line: Mapping[str, Any]) -> tuple[Any, ...]:
    """The ids of the movie an identified output line names."""
    ids = line["movie"]["ids"]
    return (ids.get("tmdb"), ids.get("imdb"), ids.get("tvdb"))
