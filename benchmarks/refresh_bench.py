"""What keeping a library fresh costs: steady-state requests per day, per provider.

    uv run python benchmarks/refresh_bench.py [--movies 2000|all] [--days 4] [--quick]

Caches a library of ``--movies`` movies of the simulated world (by TMDB id, against the
simulator), then simulates ``--days`` days of a daily ``refresh --stale`` (an in-process
`Orchestrator` whose clock is the simulated day) under two sets of rules, each from the same
cache:

- **before** (the rules before issue 15): each provider's flat TTL (TMDB, OMDb, TheTVDB 7 days,
  Fanart.tv 1 day), no change feed;
- **ages** (``--scenarios``, not run by default): the age rule alone, no change feed;
- **after** (this branch's defaults): TTLs stretched by the film's age (< 1 year × 1, 1-5 years
  × 4, older × 12), TMDB's change feed (`changed_since`).

*Steady state.* A library that has been refreshed for a long time has its parts' ages spread
evenly over each refresh period; right after a cold load they are all the same age and come
due on the same day. So before the simulated days the cache's fetch times are spread evenly
over each part's period under the scenario's rules (TTL × the film's factor), and the first
``--warmup`` day (TMDB's first, longer feed window) is left out of the averages.

*Change rate* (an assumption; ``--change-rates``): TMDB's feed lists a movie when any of its
data changes (images, translations, release dates, credits). New releases are edited almost
daily around their release, catalogue films now and then: a film changes on a given day with
probability 10 % in its first year, 3 % from 1 to 5 years, 1 % after; drawn for every movie of
the world (the feed is TMDB's, not the library's), from 100 days before the first simulated
day. Today is 2018-10-01 (MovieLens' films run to 2018, so the age mix is a real library's).

The library-dependent requests scale with its size; the feed's pages do not (they depend on
TMDB's changes): "per 10,000" = the rest × 10,000 / movies + the feed requests. Exit 1 when
an invariant fails (a movie lost or turned unidentified by a refresh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from metarr.config import load_settings
from metarr.freshness import RefreshRules, rules_from
from metarr.ids import Ids
from metarr.orchestrator import Orchestrator
from metarr.plugins import discover
from metarr.query import Query
from metarr_sim import Movie, SimServer, World

HERE = Path(__file__).resolve().parent
PROVIDERS = ("tmdb", "omdb", "fanart", "tvdb")
TODAY = datetime(2018, 10, 1, 3, 0, tzinfo=UTC)
FEED = "/movie/changes"
SCENARIOS: dict[str, dict[str, Any]] = {
    "before": {"age_ttl": [[math.inf, 1]], "feed_lookback_days": 0},
    "ages": {"feed_lookback_days": 0},  # the age rule alone (no change feed)
    "after": {},  # the defaults
}
# before: no daily share
ENV: dict[str, dict[str, str]] = {"before": {"METARR_OMDB_DAILY_REQUESTS": "0"}}
DEFAULT_TTL = {"tmdb": 7.0, "omdb": 7.0, "fanart": 1.0, "tvdb": 7.0}


def change_log(
    world: World, rates: tuple[float, float, float], start: datetime, days: int, seed: int
) -> dict[int, list[datetime]]:
    """When each movie of the world changed on TMDB, drawn day by day from its age's rate."""
    rng = random.Random(seed)
    bands = RefreshRules().age_ttl  # the same age bands: < 1 year, 1-5 years, older
    changes: dict[int, list[datetime]] = {}
    for movie in world:
        if movie.tmdb_id is None:
            continue
        for day in range(days):
            when = start + timedelta(days=day, seconds=rng.uniform(0, 86_400))
            age = (
                (when - datetime(movie.year + 1, 1, 1, tzinfo=UTC)).days / 365.25
                if movie.year
                else 0
            )
            rate = rates[0] if age < bands[0][0] else rates[1] if age < bands[1][0] else rates[2]
            if rng.random() < rate:
                changes.setdefault(movie.tmdb_id, []).append(when)
    return changes


def settings_for(
    sim: SimServer, db: Path, refresh: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> Any:
    plugins = [p for p in discover() if p.name in PROVIDERS]
    env = {**sim.settings_env(), **(env or {})}
    settings = load_settings([p.name for p in plugins], env=env, db_path=db)
    return attrs.evolve(settings, plugins=plugins, refresh=refresh)


async def load(sim: SimServer, db: Path, library: list[Movie], concurrency: int) -> int:
    """Cache the library by TMDB id; return how many were identified."""
    async with Orchestrator(settings_for(sim, db, {}), clock=lambda: TODAY) as orc:
        queries = (Query(ids=Ids(tmdb=m.tmdb_id)) for m in library)
        identified = 0
        async with orc.identify_many(queries, concurrency=concurrency) as batch:
            async for result in batch:
                identified += result.outcome.status == "identified"
    return identified


def spread(db: Path, rules: RefreshRules, ttl_days: Mapping[str, float], seed: int) -> None:
    """Spread every part's fetch time evenly over its refresh period before today."""
    rng = random.Random(seed)
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.movie_id, p.provider, m.year FROM provider_parts p "
            "JOIN provider_cache_movies m ON m.id = p.movie_id"
        ).fetchall()
        updates = []
        for movie_id, provider, year in rows:
            period = ttl_days[provider] * rules.factor(year, TODAY)
            when = TODAY - timedelta(days=rng.uniform(1, period + 1))  # due from day 0 on
            updates.append((when.isoformat(timespec="microseconds"), movie_id, provider))
        conn.executemany(
            "UPDATE provider_parts SET fetched_at = ? WHERE movie_id = ? AND provider = ?",
            updates,
        )


async def one_day(sim: SimServer, db: Path, name: str, now: datetime) -> dict[str, Any]:
    settings = settings_for(sim, db, SCENARIOS[name], ENV.get(name))
    async with Orchestrator(settings, clock=lambda: now) as orc:
        started = time.perf_counter()
        outcomes = await orc.refresh_stale()
        elapsed = time.perf_counter() - started
    statuses = Counter(o.status for o in outcomes)
    counts = sim.counts()
    sim.reset_counts()
    return {
        "refreshed": len(outcomes),
        "statuses": dict(statuses),
        "requests": {p: sum(counts[p].values()) for p in PROVIDERS},
        "feed": counts["tmdb"].get(FEED, 0),
        "login": counts["tvdb"].get("/login", 0),
        "seconds": round(elapsed, 1),
    }


def movies_in(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM provider_cache_movies").fetchone()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--movies", default="2000", help="library size, or 'all' (default 2000)")
    parser.add_argument("--days", type=int, default=4, help="days averaged (default 4)")
    parser.add_argument("--warmup", type=int, default=1, help="days left out first (default 1)")
    parser.add_argument(
        "--change-rates",
        default="0.10,0.03,0.01",
        help="daily change probability: < 1 year, 1-5 years, older",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--scenarios", default="before,after", help="before, ages (age rule, no feed), after"
    )
    parser.add_argument("--quick", action="store_true", help="300 movies, 2 days")
    parser.add_argument("--out", type=Path, default=HERE / "refresh_bench.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.movies, args.days = "300", 2
    rates = tuple(float(r) for r in args.change_rates.split(","))
    if len(rates) != 3:
        parser.error("--change-rates takes three probabilities")
    world = World.load()
    pool = [m for m in world if m.tmdb_id is not None]
    size = len(pool) if args.movies == "all" else min(int(args.movies), len(pool))
    library = sorted(random.Random(args.seed).sample(pool, size), key=lambda m: m.movie_id)
    total_days = args.warmup + args.days
    changes = change_log(world, rates, TODAY - timedelta(days=100), 100 + total_days + 1, args.seed)  # type: ignore[arg-type]
    results: dict[str, Any] = {
        "movies": size,
        "days": args.days,
        "warmup": args.warmup,
        "rates": rates,
        "scenarios": {},
    }
    failed = False
    with tempfile.TemporaryDirectory(prefix="metarr-refresh-bench-") as tmp:
        base = Path(tmp) / "library.sqlite"
        clock_now = [TODAY]
        with SimServer(world, changes=changes, clock=lambda: clock_now[0], seed=args.seed) as sim:
            started = time.perf_counter()
            identified = asyncio.run(load(sim, base, library, args.concurrency))
            print(
                f"cached {identified} of {size} movies in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            sim.reset_counts()
            for name in args.scenarios.split(","):
                refresh = SCENARIOS[name]
                db = Path(tmp) / f"{name}.sqlite"
                shutil.copy(base, db)
                cached = movies_in(db)  # two TMDB ids may name one movie: fewer than identified
                spread(db, rules_from(refresh), DEFAULT_TTL, args.seed)
                days = []
                for day in range(total_days):
                    now = TODAY + timedelta(days=day)
                    clock_now[0] = now
                    report = asyncio.run(one_day(sim, db, name, now))
                    print(f"{name} day {day}: {report}", file=sys.stderr)
                    days.append(report)
                    bad = {s: n for s, n in report["statuses"].items() if s != "identified"}
                    if bad:
                        print(
                            f"INVARIANT: {name} day {day}: refresh outcomes {bad}", file=sys.stderr
                        )
                        failed = True
                if movies_in(db) != cached:
                    print(
                        f"INVARIANT: {name}: {movies_in(db)} movies left of {cached}",
                        file=sys.stderr,
                    )
                    failed = True
                steady = days[args.warmup :]
                per_day = {
                    p: sum(d["requests"][p] for d in steady) / len(steady) for p in PROVIDERS
                }
                feed = sum(d["feed"] for d in steady) / len(steady)
                results["scenarios"][name] = {"per_day": per_day, "feed": feed, "days": days}
    if {"before", "after"} <= set(results["scenarios"]):
        print_table(results, identified)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 1 if failed else 0


def scaled(per_day: float, feed: float, movies: int) -> float:
    return (per_day - feed) * 10_000 / movies + feed


def print_table(results: Mapping[str, Any], movies: int) -> None:
    before, after = results["scenarios"]["before"], results["scenarios"]["after"]
    print(
        f"\nSteady-state requests per day, daily refresh --stale, {movies:,} movies "
        f"(mean of {results['days']} days after {results['warmup']} warm-up)\n"
    )
    print("| provider | before | after | per 10,000 before | per 10,000 after | after / before |")
    print("|---|---|---|---|---|---|")
    totals = [0.0, 0.0, 0.0, 0.0]
    for provider in PROVIDERS:
        b, a = before["per_day"][provider], after["per_day"][provider]
        bf = before["feed"] if provider == "tmdb" else 0.0
        af = after["feed"] if provider == "tmdb" else 0.0
        b10, a10 = scaled(b, bf, movies), scaled(a, af, movies)
        for i, v in enumerate((b, a, b10, a10)):
            totals[i] += v
        note = f" (feed {af:.0f})" if af else ""
        ratio = a10 / b10 if b10 else 0.0
        print(f"| {provider} | {b:,.0f} | {a:,.0f}{note} | {b10:,.0f} | {a10:,.0f} | {ratio:.2f} |")
    b, a, b10, a10 = totals
    print(
        f"| all | {b:,.0f} | {a:,.0f} | {b10:,.0f} | {a10:,.0f} | {a10 / b10 if b10 else 0:.2f} |"
    )


if __name__ == "__main__":
    sys.exit(main())
