"""Concurrency: processes sharing one database.

Two ``metarr batch`` processes over overlapping inputs run at once against the simulator (with
latency, so their identifications and commits interleave): at the end every movie is stored
exactly once, whole, and both agree on the movie behind each input they share. And ``batch``,
``refresh --stale``, ``refresh --incomplete`` and ``remerge`` run together: no update is lost.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from metarr.cache import Cache
from metarr.config import load_settings
from metarr.orchestrator import Orchestrator
from metarr_sim import Knobs, SimServer
from metarr_sim.world import World
from reliability.helpers import (
    PROVIDERS,
    check_db,
    cli_env,
    library,
    movie_key,
    outcome_lines,
    popen_cli,
    run_cli,
    write_jsonl,
)


def _run_together(
    env: dict[str, str], db: Path, files: Sequence[Path], concurrency: int
) -> list[list[dict[str, Any]]]:
    outputs: list[list[dict[str, Any]]] = []
    with (
        popen_cli(
            ["--db", str(db), "batch", str(files[0]), "--json", "--concurrency", str(concurrency)],
            env,
        ) as first,
        popen_cli(
            ["--db", str(db), "batch", str(files[1]), "--json", "--concurrency", str(concurrency)],
            env,
        ) as second,
    ):
        for process in (first, second):
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode in (0, 3), stderr.decode()[-2000:]
            assert b"Traceback" not in stderr
            outputs.append(outcome_lines(stdout))
    return outputs


@pytest.mark.slow
@pytest.mark.parametrize(("shared", "concurrency"), [(60, 6), (120, 8)])
def test_two_batches_store_every_movie_once(
    world: World, tmp_path: Path, shared: int, concurrency: int
) -> None:
    rows = library(world, 120 + 120 - shared, seed=shared)
    a = write_jsonl(tmp_path / "a.jsonl", rows[:120])
    # The second file lists the shared rows in reverse, so both reach them at different times.
    b = write_jsonl(tmp_path / "b.jsonl", list(reversed(rows[120 - shared :])))
    db = tmp_path / "cache.sqlite"
    with SimServer(world, knobs={"*": Knobs(latency=0.02, jitter=0.02)}, seed=5) as sim:
        out_a, out_b = _run_together(cli_env(sim.settings_env()), db, [a, b], concurrency)
    assert len(out_a) == 120
    assert len(out_b) == 120
    by_input: dict[str, set[tuple[Any, ...]]] = {}
    for line in out_a + out_b:
        assert line["status"] not in ("error", "rate_limited"), line["reasons"]
        if line["status"] == "identified":
            by_input.setdefault(line["key"], set()).add(movie_key(line))
    assert all(len(keys) == 1 for keys in by_input.values()), "processes disagree"
    identified = {next(iter(keys)) for keys in by_input.values()}
    stored = check_db(db)
    assert len(stored) == len(identified), "a movie is missing or stored twice"
    assert {(m.movie.ids.tmdb, m.movie.ids.imdb, m.movie.ids.tvdb) for m in stored} == identified


# -- batch, refresh --stale, refresh --incomplete and remerge at once -----------------------

TINY_TTL = "0.000001"  # days (0.09 s): every part is stale again by the next command
RECORD_PATHS = {
    "tmdb": re.compile(r"^/movie/\d+$"),
    "omdb": re.compile(r"^/?$"),
    "fanart": re.compile(r"^/movies/[^/]+$"),
    "tvdb": re.compile(r"^/movies/\d+/extended$"),
}


class StampingProxy:
    """A proxy in front of the simulator that stamps each movie record it serves with a serial
    number (``_served``, kept in the stored raw response) and remembers, per provider and
    movie, which serial was served last and when."""

    def __init__(self) -> None:
        self.upstream: SimServer | None = None
        self.lock = threading.Lock()
        self.serial = 0
        self.served: dict[tuple[str, int], tuple[str, float]] = {}  # serial -> movie, time
        self.last: dict[tuple[str, str], tuple[int, float]] = {}  # movie -> serial, time
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy._forward(self)

            def do_POST(self) -> None:
                proxy._forward(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def env(self, sim: SimServer) -> dict[str, str]:
        proxy_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return {k: v.replace(sim.url, proxy_url) for k, v in sim.settings_env().items()}

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        assert self.upstream is not None
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream.port, timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
        conn.request(handler.command, handler.path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        conn.close()
        data = self._stamp(urlsplit(handler.path).path, reply.status, data)
        handler.send_response(reply.status)
        for name in ("Content-Type", "Retry-After"):
            if reply.getheader(name):
                handler.send_header(name, reply.getheader(name))
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _stamp(self, path: str, status: int, data: bytes) -> bytes:
        if status != 200:
            return data
        for name, base in self.upstream.base_urls().items():  # type: ignore[union-attr]
            prefix = urlsplit(base).path
            if path.startswith(prefix) and RECORD_PATHS[name].match(path[len(prefix) :]):
                body = json.loads(data)
                record = body.get("data") if name == "tvdb" else body
                movie = _record_id(name, record)
                if movie is None:
                    return data
                with self.lock:
                    self.serial += 1
                    record["_served"] = self.serial
                    now = time.time()
                    self.served[(name, self.serial)] = (movie, now)
                    self.last[(name, movie)] = (self.serial, now)
                return json.dumps(body).encode()
        return data

    def __enter__(self) -> StampingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _record_id(provider: str, record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    key = {"tmdb": "id", "omdb": "imdbID", "fanart": "tmdb_id", "tvdb": "id"}[provider]
    value = record.get(key)
    return None if value in (None, "") else str(value)


def _serial(raw: Mapping[str, Any]) -> int | None:
    for value in raw.values():
        if isinstance(value, dict) and isinstance(value.get("_served"), int):
            return int(value["_served"])
    return None


def _loop(
    args: list[str], env: dict[str, str], stop: threading.Event, runs: list[int]
) -> list[str]:
    """Run ``metarr ARGS`` again and again until ``stop`` (at least 3 times); return problems."""
    problems = []
    while not stop.is_set() or len(runs) < 3:
        done = run_cli(args, env, timeout=300)
        runs.append(done.returncode)
        err = done.stderr.decode()
        if done.returncode not in (0, 3) or "Traceback" in err:
            problems.append(f"{' '.join(args[2:])}: exit {done.returncode}: {err[-500:]}")
    return problems


@pytest.mark.slow
def test_batch_refreshes_and_remerge_together_lose_no_update(world: World, tmp_path: Path) -> None:
    """``batch``, ``refresh --stale``, ``refresh --incomplete`` and ``remerge`` at once on one
    database: afterwards every part holds what its provider served last (unless a later fetch
    was still in flight when it was stored), every record is the merge of its stored parts, and
    every movie is stored under the ids the providers gave it, once."""
    rng = random.Random(11)
    movies = rng.sample([m for m in world if m.tmdb_id and m.imdb_id and m.year], 100)
    rows = [
        {"tmdb_id": m.tmdb_id} if n % 2 else {"imdb_id": m.imdb_id} for n, m in enumerate(movies)
    ]
    first = write_jsonl(tmp_path / "first.jsonl", rows[:80])
    both = write_jsonl(tmp_path / "both.jsonl", rng.sample(rows, len(rows)))
    db = tmp_path / "cache.sqlite"
    with StampingProxy() as proxy:
        # Before: 80 movies, OMDb's quota spent half-way (incomplete parts to fill in).
        with SimServer(world, knobs={"omdb": Knobs(daily_quota=40)}, seed=1) as sim:
            proxy.upstream = sim
            env = cli_env(proxy.env(sim))
            setup = run_cli(["--db", str(db), "batch", str(first), "--json"], env, timeout=120)
            assert setup.returncode in (0, 3), setup.stderr.decode()[-2000:]
        with Cache(db) as cache:
            incomplete = len(cache.incomplete())
            cache.resume_provider("omdb")  # the quota has reset
        assert incomplete >= 20
        # Together: everything is stale, OMDb answers again, 20 more movies come in.
        knobs = {"*": Knobs(latency=0.01, jitter=0.01)}
        with SimServer(world, knobs=knobs, seed=2) as sim:
            proxy.upstream = sim
            env = cli_env(proxy.env(sim))
            env.update({f"METARR_{name.upper()}_TTL_DAYS": TINY_TTL for name in PROVIDERS})
            base = ["--db", str(db)]
            refreshing, remerging = threading.Event(), threading.Event()
            runs: dict[str, list[int]] = {"stale": [], "incomplete": [], "remerge": []}
            commands = {
                "stale": [*base, "refresh", "--stale"],
                "incomplete": [*base, "refresh", "--incomplete"],
                "remerge": [*base, "remerge"],
            }
            stops = {"stale": refreshing, "incomplete": refreshing, "remerge": remerging}
            with ThreadPoolExecutor(max_workers=3) as pool:
                loops = {
                    name: pool.submit(_loop, args, env, stops[name], runs[name])
                    for name, args in commands.items()
                }
                batch = run_cli(
                    [*base, "batch", str(both), "--json", "--concurrency", "4"], env, timeout=300
                )
                refreshing.set()  # the refreshes end after the batch ...
                problems = loops["stale"].result() + loops["incomplete"].result()
                remerging.set()  # ... and remerge runs on until they have ended
                problems += loops["remerge"].result()
    assert batch.returncode in (0, 3), batch.stderr.decode()[-2000:]
    assert not problems, problems
    lines = outcome_lines(batch.stdout)
    assert len(lines) == len(rows)

    # Every movie once, under the ids the providers gave it.
    stored = check_db(db)
    truth = {(m.tmdb_id, m.imdb_id) for m in movies}
    rows_by_movie = {(m.movie.ids.tmdb, m.movie.ids.imdb): m for m in stored}
    identified = {movie_key(line)[:2] for line in lines if line["status"] == "identified"}
    merged_away = sorted(identified - set(rows_by_movie))
    assert set(rows_by_movie) <= truth, "a row holds ids of no single movie"
    assert not merged_away, merged_away
    assert len(identified) >= 0.9 * len(rows)

    # Every record is the merge of its stored parts; every part is what was served last.
    settings = load_settings(list(PROVIDERS), env=env, db_path=db)
    merge = Orchestrator(settings).engine.merge
    stale_records = [m.id for m in stored if m.movie != merge(m.results)]
    parts_checked = lost = in_flight = 0
    for movie in stored:
        for name, result in movie.results.items():
            serial = _serial(result.raw)
            assert serial is not None, f"movie {movie.id}: {name} part was never served"
            parts_checked += 1
            key, _ = proxy.served[(name, serial)]
            last, served_at = proxy.last[(name, key)]
            if last != serial:
                fetched_at = datetime.fromisoformat(movie.parts[name]["fetched_at"]).timestamp()
                if served_at > fetched_at:
                    lost += 1  # a newer answer arrived before this part was even fetched
                else:
                    in_flight += 1  # the newer answer was fetched while this one was stored
    counts = {name: len(r) for name, r in runs.items()}
    print(
        f"movies {len(stored)}, parts checked {parts_checked}, lost updates {lost}, "
        f"newer answers still in flight {in_flight}, records not matching their parts "
        f"{len(stale_records)}, merged-away movies {len(merged_away)}, "
        f"runs {counts}, incomplete before {incomplete}"
    )
    assert not stale_records, stale_records
    assert lost == 0
    assert all(n >= 3 for n in counts.values())
