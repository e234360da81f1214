"""CPU per request of metarr's HTTP layer (`ProviderHttp.get_json`), path against path.

The simulator runs in its own process at 0 ms latency, so this process's CPU is the client's
alone. Each round sends the same requests (one movie's by IMDb id: TMDB find and details,
OMDb, Fanart.tv, TVDB remote id and extended record — the batch's mix of bodies) through
each path in turn, ``--concurrency`` in flight, each request in its own `request_memo` (as a
batch does), and the paths alternate round by round so the machine's load falls on each alike.

Paths: ``httpx`` (httpcore throughout), ``through`` (metarr's wire transport under httpx's
client: build_request, send, the httpx response), ``direct`` (the same transport, the URL and
headers handed to it directly: the default). ``--against DIR`` adds another checkout's
``direct`` path (its own venv, its own process and simulator) to every round, so two
versions are compared in one run:

    uv run python benchmarks/http_bench.py --requests 3000 --rounds 3 --against /work/main
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from metarr.errors import NotFoundError, ProviderError
from metarr.http import ProviderHttp, new_client, request_memo

SERVE = """
import sys
from metarr_sim import SimServer, World
server = SimServer(World.load()).start()
print(server.url, flush=True)
sys.stdin.read()
server.stop()
"""
APPEND = "external_ids,credits,images,release_dates,alternative_titles"
PATHS = ("httpx", "through", "direct")


def plan(world_size: int, count: int, seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    """``count`` requests (provider, path, params) cycling through movies' six requests."""
    from metarr_sim import World

    world = World.load()
    movies = [m for m in world.movies if m.imdb_id and m.tmdb_id]
    random.Random(seed).shuffle(movies)
    requests: list[tuple[str, str, dict[str, Any]]] = []
    for movie in movies[:world_size]:
        requests += [
            ("tmdb", f"/find/{movie.imdb_id}", {"external_source": "imdb_id"}),
            ("tmdb", f"/movie/{movie.tmdb_id}", {"append_to_response": APPEND, "language": "en"}),
            ("omdb", "/", {"i": movie.imdb_id, "plot": "full"}),
            ("fanart", f"/movies/{movie.tmdb_id}", {}),
            ("tvdb", f"/search/remoteid/{movie.imdb_id}", {}),
            ("tvdb", f"/movies/{movie.tmdb_id}/extended", {"meta": "translations"}),
        ]
    return (requests * (count // len(requests) + 1))[:count]


async def run_path(
    name: str,
    base: str,
    requests: Sequence[tuple[str, str, dict[str, Any]]],
    concurrency: int,
) -> tuple[float, int]:
    """CPU seconds of this process for ``requests`` through path ``name``; requests sent."""
    from metarr_sim import SimKeys

    keys = SimKeys()
    client = new_client(transport="httpx" if name == "httpx" else "wire")
    urls = {"tmdb": "/tmdb/3", "omdb": "/omdb", "fanart": "/fanart/v3", "tvdb": "/tvdb/v4"}
    auth: dict[str, tuple[dict[str, str], dict[str, str]]] = {
        "tmdb": ({"api_key": keys.tmdb_api_key}, {}),
        "omdb": ({"apikey": keys.omdb_api_key}, {}),
        "fanart": ({"api_key": keys.fanart_api_key}, {}),
    }
    https = {
        p: ProviderHttp(client, provider=p, base_url=base + urls[p], secrets=keys_of(keys, p))
        for p in urls
    }
    if name == "through":
        for http in https.values():
            http._direct = False  # the httpx client's own send over the same transport
    login = await https["tvdb"].request(
        "POST", "/login", json_body={"apikey": keys.tvdb_api_key}, memo=False
    )
    auth["tvdb"] = ({}, {"Authorization": f"Bearer {login['data']['token']}"})
    gate = asyncio.Semaphore(concurrency)
    failed: Counter[str] = Counter()

    async def one(provider: str, path: str, params: dict[str, Any]) -> None:
        query, headers = auth[provider]
        async with gate:
            with request_memo():
                try:
                    await https[provider].get_json(
                        path,
                        params={**params, **query},
                        headers=headers or None,
                        classify=_not_found,
                    )
                except NotFoundError:  # a movie the provider does not know: still a request
                    pass
                except ProviderError as exc:
                    failed[type(exc).__name__] += 1

    # warm-up outside the measurement: connections, first-use imports
    await asyncio.gather(*(one(*r) for r in requests[: 2 * concurrency]))
    started = time.process_time()
    await asyncio.gather(*(one(*r) for r in requests))
    spent = time.process_time() - started
    await client.aclose()
    if failed:
        raise SystemExit(f"{name}: requests failed: {dict(failed)}")
    return spent, len(requests)


def _not_found(status: int, body: Any) -> ProviderError | None:
    return NotFoundError("sim", "no such movie") if status == 404 else None


def keys_of(keys: Any, provider: str) -> tuple[str, ...]:
    return {
        "tmdb": (keys.tmdb_api_key,),
        "omdb": (keys.omdb_api_key,),
        "fanart": (keys.fanart_api_key,),
        "tvdb": (keys.tvdb_api_key,),
    }[provider]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per path per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    parser.add_argument(
        "--against", type=Path, help="another checkout whose direct path runs in every round too"
    )
    args = parser.parse_args(argv)
    paths = [p for p in args.paths.split(",") if p]
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown path(s): {', '.join(sorted(unknown))}")
    requests = plan(200, args.requests, args.seed)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        per_request: dict[str, list[float]] = {p: [] for p in paths}
        other = f"{args.against.name}:direct" if args.against else ""
        if other:
            per_request = {other: [], **per_request}
        for _ in range(args.rounds):
            if args.against:
                per_request[other].append(against(args.against, args))
            for name in paths:
                cpu, sent = asyncio.run(run_path(name, base, requests, args.concurrency))
                per_request[name].append(cpu / sent * 1000)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    report(per_request, args.json)


def against(checkout: Path, args: argparse.Namespace) -> float:
    """One round of ``checkout``'s own direct path, in its own process: CPU ms per request."""
    done = subprocess.run(
        [str(checkout / ".venv/bin/python"), str(checkout / "benchmarks/http_bench.py"),
         "--paths", "direct", "--rounds", "1", "--json", "--requests", str(args.requests),
         "--concurrency", str(args.concurrency), "--seed", str(args.seed)],
        capture_output=True, text=True, check=True, cwd=checkout,
    )  # fmt: skip
    return float(json.loads(done.stdout.splitlines()[-1])["median"]["direct"])


def report(per_request: dict[str, list[float]], as_json: bool) -> None:
    medians = {p: statistics.median(v) for p, v in per_request.items()}
    if as_json:
        print(json.dumps({"ms_per_request": per_request, "median": medians}))
        return
    first: Callable[[str], float] = lambda p: medians[p]  # noqa: E731
    base = first(next(iter(medians)))
    width = max(8, *map(len, per_request))
    print(f"{'path':<{width}} {'CPU ms/request (median)':>24} {'runs':>30} {'vs first':>9}")
    for name, values in per_request.items():
        runs = " ".join(f"{v:.3f}" for v in values)
        print(f"{name:<{width}} {medians[name]:>24.3f} {runs:>30} {medians[name] / base:>8.2f}×")


if __name__ == "__main__":
    main()
