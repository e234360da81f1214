"""Manual identification benchmark: what a person's search costs, and reviewing 100 queued items.

    uv run python benchmarks/review_bench.py [--items 100] [--details 5]

Against the simulator (no latency), with a fresh cache:

- **search cost**: a person's search for each of the simulator's ambiguous titles (titles that
  two or more of its films share), without details and with ``--details``: requests per search
  (mean, max) and per provider; then the requests that choosing the first candidate of each
  detailed search sends (must be Fanart.tv only, one per movie);
- **review**: in a fresh cache, the same titles identified the automated way (most are queued
  as ambiguous), then ``metarr queue review`` driven through a pseudo-terminal, choosing
  candidate 1 for ``--items`` entries (each a full lookup: no search came before it): the wall
  time from the first prompt to the last, per item, and the requests the review sent.

Exit 1 when an invariant fails (a chosen detailed candidate asking a provider that gave its
details, a review entry not committed).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import click
import pexpect
from metarr.config import load_settings
from metarr.orchestrator import Orchestrator
from metarr.query import Query
from metarr_sim import SimServer, World
from metarr_sim.world import normalise

EXECUTABLE = Path(sys.executable).with_name("metarr")


def ambiguous_titles(world: World) -> list[str]:
    """Titles that two or more of the world's films share (any year)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for movie in world:
        groups[normalise(movie.title)].append(movie.title)
    return [titles[0] for titles in groups.values() if len(titles) > 1]


async def search_costs(titles: list[str], details: int) -> int:
    failures = 0
    async with Orchestrator(load_settings()) as orc:
        for label, shown in (("without details", 0), (f"with details ({details})", details)):
            totals: list[int] = []
            by_provider: Counter[str] = Counter()
            for title in titles:
                result = await orc.search(title, details=shown)
                totals.append(sum(result.requests.values()))
                by_provider.update(result.requests)
            per = ", ".join(f"{n} {c / len(titles):.1f}" for n, c in sorted(by_provider.items()))
            print(
                f"search {label}: {statistics.mean(totals):.1f} requests per search "
                f"(max {max(totals)}; {per})"
            )
        chosen: Counter[str] = Counter()
        for title in titles:
            result = await orc.search(title, details=details)
            if not result.candidates:
                continue
            before = Counter(orc.stats.requests)
            key = Query(title=title, key=f"bench:{title}").input_key
            await orc.choose(key, result.candidates[0], search=result)
            sent = Counter(orc.stats.requests) - before
            chosen.update(sent)
            failures += any(name != "fanart" for name in sent)
        print(f"choosing a detailed first candidate, {len(titles)} searches: {dict(chosen)}")
    return failures


def review(env: dict[str, str], count: int) -> tuple[float, int]:
    """Drive ``metarr queue review`` choosing 1 for ``count`` entries; (seconds, committed)."""
    child = pexpect.spawn(
        str(EXECUTABLE), ["queue", "review"], env=env, encoding="utf-8", timeout=60
    )
    screen = io.StringIO()
    child.logfile_read = screen
    started = time.perf_counter()
    for _ in range(count):
        child.expect_exact("q quit: ")
        child.sendline("1")
    child.expect_exact("q quit: ")
    took = time.perf_counter() - started
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    committed = click.unstyle(screen.getvalue()).count("→ identified")
    return took, committed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--details", type=int, default=5)
    args = parser.parse_args()
    world = World.load()
    titles = ambiguous_titles(world)
    with tempfile.TemporaryDirectory() as tmp, SimServer(world) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
        env.update(sim.settings_env(), METARR_DB=str(Path(tmp) / "bench.sqlite"), HOME=tmp)
        os.environ.update(env)
        failures = asyncio.run(search_costs(titles[: args.items], args.details))
        # the review starts from a fresh cache: each choice is a full lookup
        env["METARR_DB"] = os.environ["METARR_DB"] = str(Path(tmp) / "review.sqlite")
        async_titles = titles[: args.items * 2]

        async def queue_up() -> int:
            async with Orchestrator(load_settings()) as orc:
                count = 0
                for title in async_titles:
                    outcome = await orc.identify(Query(title=title))
                    count += outcome.status == "ambiguous"
                return count

        queued = asyncio.run(queue_up())
        count = min(args.items, queued)
        before = sim.total()
        took, committed = review(env, count)
        sent = sim.total() - before
        print(
            f"review: {count} queued items (of {queued}) chosen in {took:.2f} s "
            f"({took / count * 1000:.0f} ms per item, prompt to prompt); {committed} committed; "
            f"{sent} requests"
        )
        failures += committed != count
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
