"""CPU the cache thread spends per identified movie: `_plan` and `_persist` (`Cache.commit`).

    uv run python benchmarks/commit_bench.py [--movies 400] [--runs 3] [--baseline main]
        [--group 1]

Once, ``--movies`` real identifications (by IMDb id, through the simulator: every provider's
result with its raw payload) are captured to a JSON file. Then each side replays them into a
fresh cache in its own process, one after another as a batch's cache thread does: for each
movie `Orchestrator._plan` (the reads before the requests), then `Orchestrator._persist`
(the commit), each timed in thread CPU; with ``--group N``, N movies are planned, then
persisted in one group commit (`Cache.together`; a tree without it persists them one by
one), as a batch's cache thread does with the persists waiting for it. The sides alternate
(baseline, this tree, baseline, …) and the medians over ``--runs`` are printed, with the
SQL statements run per movie. The baseline is ``--baseline``'s ``core/src`` (a git
revision, exported with ``git archive`` into a temporary folder, or a folder holding
``metarr/``), imported in place of this tree's package; plugins are this tree's.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS = ("fanart", "omdb", "tmdb", "tvdb")


def capture(out: Path, movies: int, seed: int) -> None:
    """Identify ``movies`` random movies of the simulated world and write their parts."""
    from metarr import Ids, Orchestrator, load_settings
    from metarr.cache import Cache
    from metarr.convert import to_json
    from metarr.plugins import discover
    from metarr_sim import SimServer, World

    world = World.load()
    imdb = sorted({m.imdb_id for m in world.movies if m.imdb_id})
    chosen = random.Random(seed).sample(imdb, movies)
    plugins = [info for info in discover() if info.name in PROVIDERS]
    with tempfile.TemporaryDirectory() as tmp, SimServer(world) as sim:
        db = Path(tmp) / "capture.sqlite"
        settings = load_settings(plugins, env=sim.settings_env(), db_path=db)

        async def run() -> None:
            async with Orchestrator(settings) as orc:
                gate = asyncio.Semaphore(16)

                async def one(value: str) -> None:
                    async with gate:
                        await orc.lookup(Ids(imdb=value))

                await asyncio.gather(*(one(value) for value in chosen))

        asyncio.run(run())
        items = []
        with Cache(db) as cache:
            for cached in cache.iter_movies():
                if cached.movie.ids.imdb is None:
                    continue
                items.append(
                    {
                        "imdb": cached.movie.ids.imdb,
                        "parts": {
                            name: {
                                "status": part.status,
                                "error": part.error,
                                "result": to_json(part.result) if part.result else None,
                            }
                            for name, part in cached.parts.items()
                        },
                    }
                )
    out.write_text(json.dumps(items))


def replay(fixture: Path, db: Path, group: int = 1) -> dict[str, float]:
    """Replay the captured identifications into ``db``; thread CPU per movie, in ms. With
    ``group`` above 1, ``group`` movies at a time are planned, then persisted together
    (`Cache.together`, as a batch's cache thread does with the persists waiting for it).

    The SQL statements are counted in a separate, untimed replay into a second file: a trace
    callback writes out every bound value (each blob in hex), which made the statements it
    traced look several times slower than they are."""
    import metarr

    statements: list[str] = []
    _replay(fixture, db.with_name(db.name + ".count"), group, statements.append)
    plan, persist, count = _replay(fixture, db, group, None)
    return {
        "movies": count,
        "plan_ms": plan * 1000 / count,
        "persist_ms": persist * 1000 / count,
        "total_ms": (plan + persist) * 1000 / count,
        "statements": len(statements) / count,
        "package": str(Path(metarr.__file__).parent),
    }


def _replay(
    fixture: Path, db: Path, group: int, trace: Callable[[str], object] | None
) -> tuple[float, float, int]:
    """One replay into ``db``: the thread CPU of the plans and of the persists, in seconds,
    and the number of movies; ``trace`` (if any) sees every SQL statement."""
    from metarr import Ids, Orchestrator, load_settings
    from metarr.cache import Cache
    from metarr.convert import from_json
    from metarr.engine import Identification, ProviderReport
    from metarr.models import Outcome, ProviderResult
    from metarr.plugins import discover
    from metarr.query import Query

    env = {f"METARR_{name.upper()}_API_KEY": "bench-not-a-key" for name in PROVIDERS}
    env |= {f"METARR_{name.upper()}_BASE_URL": "http://127.0.0.1:9" for name in PROVIDERS}
    plugins = [info for info in discover() if info.name in PROVIDERS]
    settings = load_settings(plugins, env=env, db_path=db)
    built = Orchestrator(settings)
    cache = Cache(db, ttl_days=built.ttl_days, rules=settings.refresh)
    orc = Orchestrator.from_parts(registry=built.registry, settings=settings, cache=cache)
    items = json.loads(fixture.read_text())
    work = []
    for item in items:
        reports = {
            name: ProviderReport(
                status=part["status"],
                result=from_json(ProviderResult, part["result"]) if part["result"] else None,
                detail=part["error"],
            )
            for name, part in item["parts"].items()
        }
        work.append((Query(ids=Ids(imdb=item["imdb"])), reports))

    def identified(reports: dict[str, Any]) -> Any:
        """The engine's identification, merged (untimed) just before its persist, as in a
        batch: the commit's merge of the same results is then the engine's (round 5)."""
        results = {n: r.result for n, r in reports.items() if r.result is not None}
        outcome = Outcome(
            status="identified",
            movie=orc.engine.merge(results),
            providers={n: r.status for n, r in reports.items()},
        )
        return Identification(outcome=outcome, reports=reports)

    if trace is not None:
        cache.conn.set_trace_callback(trace)
    plan = persist = 0.0
    together = getattr(cache, "together", None)  # group commit (absent from older trees)
    for start in range(0, len(work), group):
        chunk = [(query, identified(reports)) for query, reports in work[start : start + group]]
        now = orc._clock()
        begin = time.thread_time()
        calls = []
        for query, identification in chunk:
            planned = orc._plan(  # the cache it reads comes first (round 5)
                cache,
                query=query,
                now=now,
                interactive=False,
                refresh=False,
                retry_queued=False,
                by=None,
            )
            calls.append(
                functools.partial(
                    orc._persist, query, identification, "lookup", now, asked=planned.todo
                )
            )
        middle = time.thread_time()
        if together is not None:
            failed = [error for _, error in together(calls) if error is not None]
            if failed:
                raise failed[0]
        else:
            for call in calls:
                call()
        persist += time.thread_time() - middle
        plan += middle - begin
    cache.close()
    return plan, persist, len(work)


def baseline_source(rev: str, tmp: Path) -> Path:
    """A folder to import the baseline's ``metarr`` from."""
    if (Path(rev) / "metarr").is_dir():
        return Path(rev)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "core/src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    return tmp / "core" / "src"


def side(fixture: Path, db: Path, source: Path | None, group: int) -> dict[str, Any]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--replay",
            str(fixture),
            "--db",
            str(db),
            "--group",
            str(group),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movies", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--baseline", default="main", help="git revision or folder (none: skip)")
    parser.add_argument(
        "--group", type=int, default=1, help="movies persisted together (a batch: up to 16)"
    )
    parser.add_argument("--fixture", type=Path, help="reuse (or keep) the captured movies here")
    parser.add_argument("--replay", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay is not None:
        print(json.dumps(replay(args.replay, args.db, args.group)))
        return
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        fixture = args.fixture or tmp / "fixture.json"
        if not fixture.exists():
            capture(fixture, args.movies, args.seed)
        sides: dict[str, Path | None] = {}
        if args.baseline != "none":
            sides[f"baseline ({args.baseline})"] = baseline_source(args.baseline, tmp)
        sides["this tree"] = None
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        for run in range(args.runs):
            for name, source in sides.items():
                db = tmp / f"replay-{run}-{len(runs[name])}-{name[:4]}.sqlite"
                runs[name].append(side(fixture, db, source, args.group))
        movies = runs["this tree"][0]["movies"]
        print(f"{movies} movies, {args.group} at a time, {args.runs} runs each, medians:")
        print(f"{'side':<24} {'_plan ms':>9} {'_persist ms':>12} {'total ms':>9} {'SQL':>5}")
        for name, results in runs.items():
            med = {
                k: statistics.median(r[k] for r in results)
                for k in results[0]
                if k[-3:] == "_ms" or k == "statements"
            }
            print(
                f"{name:<24} {med['plan_ms']:9.3f} {med['persist_ms']:12.3f} {med['total_ms']:9.3f}"
                f" {med['statements']:5.1f}"
            )


if __name__ == "__main__":
    main()
