"""Peak memory against library size: batch, scan, refresh, remerge and export.

    uv run python benchmarks/memory_bench.py [--sizes 1000,5000]

For each size, caches that many movies of the simulated world (by TMDB id, in-process against
the simulator), then runs each command as its own ``metarr`` process on a copy of that cache
and reads the process's own peak RSS (``VmHWM``, read by the process itself at exit: a
child's ``ru_maxrss`` carries its parent's high-water mark on Linux, see benchmarks/README):

- ``batch``    ``metarr batch`` of the cached movies' rows (warm: answered from the cache);
- ``scan``     ``metarr scan --dry-run`` of a generated library of that many items;
- ``refresh``  ``metarr refresh --stale`` with Fanart.tv's TTL at a second (flat, whatever the
               film's age): every movie refetched
               from one provider (the others fresh);
- ``remerge``  ``metarr remerge`` of every movie;
- ``export``   ``metarr cache export``.

Prints peak RSS per size and the ratio largest / smallest (target: ≤ 1.2, memory flat in
library size). Exit 1 when a command fails.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
from metarr.config import load_settings
from metarr.ids import Ids
from metarr.orchestrator import Orchestrator
from metarr.plugins import discover
from metarr.query import Query
from metarr_sim import SimServer, World

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
PROVIDERS = ("tmdb", "omdb", "fanart", "tvdb")
TARGET = 1.2
# Runs the CLI in this process and reports its own peak RSS on stderr as the last line.
CHILD = """
import sys
from metarr.cli import main
try:
    main(sys.argv[1:], prog_name="metarr")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
sys.stderr.write(f"\\nPEAK_KB {peak}\\n")
sys.exit(code if isinstance(code, int) else 1)
"""


async def load(sim: SimServer, db: Path, movies: list[Any]) -> int:
    plugins = [p for p in discover() if p.name in PROVIDERS]
    settings = load_settings([p.name for p in plugins], env=sim.settings_env(), db_path=db)
    async with Orchestrator(attrs.evolve(settings, plugins=plugins)) as orc:
        queries = (Query(ids=Ids(tmdb=m.tmdb_id)) for m in movies)
        identified = 0
        async with orc.identify_many(queries, concurrency=16) as batch:
            async for result in batch:
                identified += result.outcome.status == "identified"
    return identified


def peak_mb(args: list[str], env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stderr.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("PEAK_KB"):
        raise RuntimeError(f"metarr {' '.join(args)}: exit {done.returncode}: {done.stderr[-800:]}")
    return int(lines[-1].split()[1]) / 1024


def measure(size: int, world: World, sim: SimServer, work: Path, seed: int) -> dict[str, float]:
    movies = random.Random(seed).sample([m for m in world if m.tmdb_id], size)
    base = work / f"cache-{size}.sqlite"
    started = time.perf_counter()
    identified = asyncio.run(load(sim, base, movies))
    print(f"{size}: cached {identified} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rows = work / f"rows-{size}.csv"
    with rows.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tmdb_id"])
        writer.writerows([m.tmdb_id] for m in movies)
    library = work / f"library-{size}"
    sys.path.insert(0, str(ROOT / "tests"))
    from scan.libraries import mixed_library

    mixed_library(library, size)
    config = work / "config.toml"  # every movie's part is due, whatever the film's age
    config.write_text("[refresh]\nage_ttl = [[inf, 1]]\n")
    env = {**os.environ, **sim.settings_env(), "METARR_CONFIG": str(config)}
    commands = {
        "batch": (["batch", str(rows)], {}),
        "scan": (["scan", "--dry-run", str(library)], {}),
        "refresh": (["refresh", "--stale"], {"METARR_FANART_TTL_DAYS": "0.00001"}),
        "remerge": (["remerge"], {}),
        "export": (["cache", "export"], {}),
    }
    peaks = {}
    for name, (args, extra) in commands.items():
        db = work / f"{name}-{size}.sqlite"
        shutil.copy(base, db)
        peaks[name] = peak_mb(["--db", str(db), *args], {**env, **extra})
        print(f"{size}: {name} {peaks[name]:.1f} MB", file=sys.stderr)
    return peaks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,5000", help="library sizes (default 1000,5000)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--out", type=Path, default=HERE / "memory_bench.json")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    world = World.load()
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="metarr-memory-") as tmp, SimServer(world) as sim:
        for size in sizes:
            results[size] = measure(size, world, sim, Path(tmp), args.seed)
    small, large = sizes[0], sizes[-1]
    print(f"\nPeak RSS (MB) by library size; target: {large:,} / {small:,} ≤ {TARGET}\n")
    print("| command | " + " | ".join(f"{s:,} movies" for s in sizes) + " | ratio | |")
    print("|---|" + "---|" * len(sizes) + "---|---|")
    ratios = {}
    for name in results[small]:
        ratio = results[large][name] / results[small][name]
        ratios[name] = ratio
        cells = " | ".join(f"{results[s][name]:.1f}" for s in sizes)
        verdict = "PASS" if ratio <= TARGET else "MISS"
        print(f"| {name} | {cells} | ×{ratio:.2f} | {verdict} |")
    args.out.write_text(json.dumps({"peaks_mb": results, "ratios": ratios}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
