"""Library scan benchmark: parse CPU per item, and a rescan of an unchanged library.

    uv run python benchmarks/scan_bench.py [--items 10000] [--library DIR]

Builds a library of ``--items`` movie items (empty video files; every layout: Radarr folders,
id tags, multi-part sets, DVD and Blu-ray structures, loose release names, collections, NFOs
for some, contradicting NFOs, extras, samples, TV shows and NAS folders that are not items)
in a temporary folder (or ``--library``), then scans it twice into a fresh cache:

- **cold**: every item is read; prints the parse CPU per item (median, p95; target: median
  ≤ 2 ms), guessit's import and the walk's traced peak memory;
- **rescan**: nothing changed; prints the wall time (target ≤ 10 s for 10,000 items) and how
  many items were read (must be 0).

Exit 1 when an invariant fails (a rescan that reads an item, items lost between scans).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import metarr.scan.evidence as evidence_module  # noqa: E402
import psutil  # type: ignore[import-untyped]  # noqa: E402
from metarr.cache import Cache  # noqa: E402
from metarr.scan import Evidence, Item, scan_library  # noqa: E402
from scan.libraries import mixed_library  # noqa: E402

PARSE_TARGET_MS = 2.0
RESCAN_TARGET_S = 10.0  # for 10,000 items


def _scan(
    library: Path, cache: Cache, cpu: list[float], *, traced: bool = False
) -> tuple[Counter[str], float, int]:
    """Scan once; (counts, wall seconds, traced peak bytes — only when ``traced``, which slows
    Python down, so timed runs are not traced)."""
    real: Callable[[Item], Evidence] = evidence_module.gather

    def timed(item: Item) -> Evidence:
        start = time.process_time()
        try:
            return real(item)
        finally:
            cpu.append(time.process_time() - start)

    setattr(evidence_module, "gather", timed)  # noqa: B010 - a function, not an attribute
    counts: Counter[str] = Counter()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        for entry in scan_library(library, cache.db):
            counts[entry.status] += 1
            if entry.change:
                counts[entry.change] += 1
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
    finally:
        if traced:
            tracemalloc.stop()
        setattr(evidence_module, "gather", real)  # noqa: B010
    return counts, elapsed, peak


def _mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--library", type=Path, help="build the library here (kept)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="metarr-scan-bench-"))
    library = args.library or work / "library"
    try:
        started = time.perf_counter()
        made = mixed_library(library, args.items)
        print(f"library   {made} movie items built in {time.perf_counter() - started:.1f} s")
        start = time.process_time()
        importlib.import_module("guessit")
        guessit_import = time.process_time() - start
        with Cache(work / "cache.sqlite") as cache:
            cold_cpu: list[float] = []
            rss = psutil.Process().memory_info().rss
            cold, cold_s, _ = _scan(library, cache, cold_cpu)
            cold_rss = psutil.Process().memory_info().rss - rss
            warm_cpu: list[float] = []
            warm, warm_s, _ = _scan(library, cache, warm_cpu)
            _, _, warm_peak = _scan(library, cache, warm_cpu, traced=True)
        median = statistics.median(cold_cpu) * 1000 if cold_cpu else 0.0
        p95 = statistics.quantiles(cold_cpu, n=20)[-1] * 1000 if len(cold_cpu) > 1 else median
        guessed = sum(1 for cpu in cold_cpu if cpu > 0.004)
        target = RESCAN_TARGET_S * args.items / 10_000
        ok = median <= PARSE_TARGET_MS
        print(
            f"cold      {cold['item']} items, {cold['skipped']} skipped, {cold['problem']} "
            f"problems in {cold_s:.2f} s (RSS +{cold_rss / 1e6:.1f} MB)"
        )
        print(
            f"          parse CPU per item: median {median:.3f} ms, p95 {p95:.3f} ms "
            f"(target median <= {PARSE_TARGET_MS} ms: {_mark(ok)}); {guessed} items over 4 ms "
            "(release names read by guessit)"
        )
        print(f"          guessit import {guessit_import * 1000:.0f} ms CPU (once, on first use)")
        print(
            f"rescan    {warm['unchanged']} unchanged of {warm['item']} items in {warm_s:.2f} s "
            f"({warm_s / max(1, warm['item']) * 1000:.3f} ms per item), {len(warm_cpu)} items "
            f"read (target <= {target:.1f} s: {_mark(warm_s <= target)}); traced peak "
            f"{warm_peak / 1e6:.2f} MB"
        )
        failures = []
        if warm_cpu:
            failures.append(f"the rescan read {len(warm_cpu)} items")
        if cold["item"] != made or warm["unchanged"] != made:
            failures.append(f"built {made} items, found {cold['item']} then {warm['unchanged']}")
        for failure in failures:
            print(f"FAIL      {failure}")
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
