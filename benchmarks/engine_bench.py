"""CPU per movie of everything a batch does besides HTTP and the cache, main against this tree.

    uv run python benchmarks/engine_bench.py [--movies 400] [--runs 3] [--main /tmp/main-ro]

Records the simulator's answers for ``--movies`` movies by IMDb id once (real HTTP on 127.0.0.1,
this tree's code), then replays them without sockets through the engine, the plugins' parsing,
the hook contract, sanitising, the models, the merge and the runner (`metarr.runner.Batch`,
``--concurrency`` at a time): each provider request is answered from the recording at
``ProviderHttp._send_once`` (the parsing of the body, `metarr.http`'s, is kept; httpx and the
sockets are not). Each run is its own process, importing either this tree or another checkout
(``--main``, e.g. ``git worktree add /tmp/main-ro main``) ahead of the installed packages; runs
alternate (main, this, main, this …). Prints the median CPU per movie of the batch (user + sys,
imports and set-up excluded), the part of it spent outside ``ProviderHttp.request`` (the
layers this benchmark is for: the request's memo, retries and body parsing are `metarr.http`'s)
and the outcomes' ``to_json``, and checks that both trees
give byte-identical outcomes (statuses, merged movies, provenance).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WARM_UP = 20  # movies identified before the measured batch (first calls build caches)
PACKAGES = ("core", "plugins/tmdb", "plugins/omdb", "plugins/fanart", "plugins/tvdb")

Key = tuple[str, str, str, str, str]
Recording = dict[Key, tuple[int, dict[str, str], bytes]]


def _key(provider: str, method: str, path: str, params: Any, json_body: Any) -> Key:
    query = json.dumps(sorted((str(k), str(v)) for k, v in (params or {}).items()))
    return (provider, method, path, query, json.dumps(json_body, sort_keys=True))


def _engine_run(
    concurrency: int, imdb_ids: list[str], measuring: Callable[[], None] = lambda: None
) -> tuple[float, float, list[str]]:
    """Identify ``imdb_ids`` with the settings of the environment: (batch CPU s, to_json CPU s,
    each outcome as JSON). ``measuring`` is called when the measured batch starts."""
    from metarr import Query, load_settings
    from metarr.convert import to_json
    from metarr.engine import Engine
    from metarr.http import TrafficStats, new_client, request_memo
    from metarr.plugins import build_registry
    from metarr.runner import Batch

    async def main() -> tuple[float, float, list[str]]:
        settings = load_settings()
        client = new_client(transport="httpx")
        registry = build_registry(settings, client, stats=TrafficStats())
        engine = Engine(
            registry,
            language=settings.language,
            priority=settings.priority,
            tmdb_policy=settings.tmdb_policy,
        )

        async def run_one(query: Query, retry_queued: bool) -> Any:
            with request_memo():
                assert query.ids is not None
                return await engine.lookup(query.ids)

        queries = [Query.from_input({"imdb_id": i}) for i in imdb_ids]
        warm = [r async for r in Batch(run_one, queries[:WARM_UP], concurrency=concurrency)]
        assert len(warm) == min(WARM_UP, len(queries))
        measuring()
        started = time.process_time()
        outcomes = [r.outcome async for r in Batch(run_one, queries, concurrency=concurrency)]
        batch_cpu = time.process_time() - started
        started = time.process_time()
        rows = [to_json(o) for o in outcomes]
        json_cpu = time.process_time() - started
        await client.aclose()
        by_input = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
        return batch_cpu, json_cpu, by_input

    return asyncio.run(main())


def _send_arguments(signature: inspect.Signature) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A reader of ``ProviderHttp._send_once``'s positional arguments (after ``self``) by name
    under its ``signature`` in either tree (the direct path added a ``query``): method, path,
    params, json_body, headers, classify. (Not `inspect.Signature.bind` per request: that was
    a tenth of the measured batch, the same in both trees.)"""
    parameters = list(signature.parameters.values())[1:]
    at = {p.name: i for i, p in enumerate(parameters)}
    default = {p.name: p.default for p in parameters}
    wanted = [(at[n], default[n]) for n in ("method", "path", "params", "json_body", "headers")]
    wanted.append((at["classify"], default["classify"]))

    def read(args: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(args[i] if i < len(args) else d for i, d in wanted)

    return read


def record(movies: int, seed: int, out: Path, work: Path) -> None:
    """Answer ``movies`` IMDb ids through the simulator and keep every response."""
    sys.path.insert(0, str(HERE))
    from metarr.http import ProviderHttp
    from metarr_sim import SimServer, World
    from side_by_side import imdb_movies

    world = World.load()
    chosen = [str(m.imdb_id) for m in imdb_movies(world, seed)[:movies]]
    recording: Recording = {}
    original = ProviderHttp._send_once
    arguments = _send_arguments(inspect.signature(original))

    async def recorded(self: ProviderHttp, *args: Any) -> Any:
        method, path, params, json_body, headers, _ = arguments(args)
        url = self.base_url + path
        request = self.client.build_request(method, url, params=params, json=json_body)
        request.headers.update(headers or {})
        response = await self.client.send(request)
        key = _key(self.provider, method, path, params, json_body)
        kept = {k: v for k, v in response.headers.items() if k.lower() in ("retry-after",)}
        recording[key] = (response.status_code, kept, response.content)
        return await original(self, *args)

    with SimServer(world) as sim:
        os.environ.update(sim.settings_env())
        os.environ["METARR_STATE_DIR"] = str(work / "state-record")
        ProviderHttp._send_once = recorded  # type: ignore[method-assign]
        try:
            rows = _engine_run(16, chosen)[2]
        finally:
            ProviderHttp._send_once = original  # type: ignore[method-assign]
        env = sim.settings_env()
    failed = [row for row in rows if json.loads(row)["status"] != "identified"]
    if failed:  # a recording of failures would measure the failure path
        raise SystemExit(f"{len(failed)} of {len(rows)} movies not identified: {failed[0][:300]}")
    out.write_bytes(pickle.dumps({"ids": chosen, "env": env, "responses": recording}))


def replay(path: Path, concurrency: int, work: Path) -> dict[str, Any]:
    """One measured run against the recording (in a child process importing one tree)."""
    import httpx
    from metarr.http import ProviderHttp

    data = pickle.loads(path.read_bytes())
    responses: Recording = data["responses"]
    os.environ.update(data["env"])
    os.environ["METARR_STATE_DIR"] = str(work)

    takes_response = "response" in inspect.signature(ProviderHttp._interpret).parameters
    arguments = _send_arguments(inspect.signature(ProviderHttp._send_once))

    async def answered(self: ProviderHttp, *args: Any) -> Any:
        method, path, params, json_body, _, classify = arguments(args)
        self.stats.requests[self.provider] += 1
        key = _key(self.provider, method, path, params, json_body)
        status, kept, body = responses[key]
        if takes_response:  # a tree from before the direct path (main at 192debd and older)
            return self._interpret(httpx.Response(status, headers=kept), body, classify)
        return self._interpret(status, kept.get("retry-after"), body, classify)

    in_http = [0.0]
    request = ProviderHttp.request

    async def timed(self: ProviderHttp, *args: Any, **kwargs: Any) -> Any:
        # Nothing inside waits on a socket here, so no other task runs in between (a request
        # waiting for an identical one in flight would count that one's time twice: rare).
        started = time.process_time()
        try:
            return await request(self, *args, **kwargs)
        finally:
            in_http[0] += time.process_time() - started

    ProviderHttp._send_once = answered  # type: ignore[method-assign]
    ProviderHttp.request = timed  # type: ignore[method-assign]
    batch_cpu, json_cpu, rows = _engine_run(
        concurrency, data["ids"], measuring=lambda: in_http.__setitem__(0, 0.0)
    )
    digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return {
        "batch_cpu": batch_cpu,
        "http_cpu": in_http[0],
        "json_cpu": json_cpu,
        "movies": len(rows),
        "digest": digest,
    }


def _child(tree: Path, args: argparse.Namespace, recording: Path, work: Path) -> dict[str, Any]:
    env = dict(os.environ)
    if tree != ROOT:
        env["PYTHONPATH"] = os.pathsep.join(str(tree / p / "src") for p in PACKAGES)
    command = [sys.executable, __file__, "--replay", str(recording)]
    command += ["--concurrency", str(args.concurrency)]
    state = tempfile.mkdtemp(dir=work)
    out = subprocess.run(
        [*command, "--work", state], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"replay in {tree} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3, help="runs of each tree, alternating")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--main", type=Path, default=None, help="another checkout to compare")
    parser.add_argument("--recording", type=Path, default=None, help="reuse a recording")
    parser.add_argument("--replay", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay is not None:
        print(json.dumps(replay(args.replay, args.concurrency, args.work)))
        return 0
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        work = Path(tmp)
        recording = args.recording or work / "recording.pickle"
        if not recording.exists():
            record(args.movies, args.seed, recording, work)
        trees = {"main": args.main.resolve()} if args.main else {}
        trees["this"] = ROOT
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        for _ in range(args.runs):
            for name, tree in trees.items():
                results[name].append(_child(tree, args, recording, work))
    digests = {name: {r["digest"] for r in runs} for name, runs in results.items()}
    for name, runs in results.items():
        n = runs[0]["movies"]
        per = [r["batch_cpu"] / n * 1000 for r in runs]
        outside = [(r["batch_cpu"] - r["http_cpu"]) / n * 1000 for r in runs]
        js = [r["json_cpu"] / n * 1000 for r in runs]
        print(
            f"{name:5} {n} movies: batch {statistics.median(per):.2f} ms/movie "
            f"(runs {', '.join(f'{p:.2f}' for p in per)}), outside ProviderHttp.request "
            f"{statistics.median(outside):.2f} (runs {', '.join(f'{p:.2f}' for p in outside)}); "
            f"to_json {statistics.median(js):.2f} ms/movie; "
            f"outcomes {sorted(digests[name])[0][:12]}"
        )
    same = len({d for ds in digests.values() for d in ds}) == 1
    print("outcomes identical across trees and runs" if same else "OUTCOMES DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
