"""Issue 15's performance table, every row measured in one run beside the plain script.

    uv run python benchmarks/side_by_side.py [--quick] [--rows cpu,throughput,startup,cold,cache]

The simulator (in this process) serves every request; metarr runs as its real CLI and the
yardstick (`plain_script.py`: tmdbsimple + omdb + requests, providers one after another, 3 movies
at once, nothing stored) as its own process, both against the same world in the same run. Rows:

- ``cpu``        CPU per movie: a batch of 400 by IMDb id at 0 ms latency; the whole process's
                 CPU (start-up included) ÷ movies, metarr's batch against the script's, run in
                 turn ``--cpu-pairs`` times (5): the target is on the median of the per-pair
                 ratios (one pair alone moved by ±10 % on this machine).
- ``throughput`` 150 movies by IMDb id at 50 ms latency: movies/s (the batch's own elapsed time,
                 start-up excluded, both) and requests per movie (TVDB login included).
- ``startup``    ``metarr --version``, a cached ``lookup`` and ``cache show`` against a bare
                 ``python -c pass`` of the same interpreter: pairs run in turn (A B A B …), the
                 median of the per-pair ratios.
- ``cold``       a cold ``metarr lookup --imdb`` (fresh cache) at 100 ms latency against its floor:
                 the same command answered from the cache (start-up, imports, database, output)
                 plus the 2 round trips an IMDb id forces (TMDB find → details ‖ TVDB remote id →
                 record); run in turn with the floor's command. The TVDB token is kept from an
                 earlier process, as it would be on a user's machine; the first process (no
                 token) is shown too. For information, the same ratio against the *full*
                 command's cached floor: the same cached lookup with the cached read
                 (`metarr.cli.cached`) bypassed by ``--without ''`` (no provider left out, an
                 option the cached read does not answer), so the full command tree loads.
- ``cache``      database bytes per movie and the read time of `get()` (`CacheReader`: the
                 merged movie) and of ``get(parts=True)``, on a cache of the whole
                 world (9,742 movies; ``--quick``: the 400 of the cpu row).

Bytecode: every child writes its bytecode under the work directory (``PYTHONPYCACHEPREFIX``),
which starts empty, where an installed tool has its bytecode from the start (pip compiles at
install). So before any measured run both tools run once, unmeasured, on the same few movies
(`warm_bytecode`: a metarr batch and a lookup, then the plain script), and no measured
process compiles its imports from source.

Prints target, today (main, measured by this script: `TODAY`) and result for each row, and
writes the raw numbers to ``--out``. Exits 1 only when a run fails (a batch that crashes, a
lookup that finds nothing); a missed target prints MISS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from metarr import CacheReader, Ids  # noqa: E402
from metarr.cache import Cache  # noqa: E402
from metarr.runner import DEFAULT_CONCURRENCY  # noqa: E402
from metarr_sim import Knobs, Movie, SimServer, World  # noqa: E402
from run import Report, metarr_command, owns, run_batch, sim_env, write_csv  # noqa: E402

SCRIPT = HERE / "plain_script.py"
ROWS = ("cpu", "throughput", "startup", "cold", "cache")
IMDB_ROUNDS = 2  # tmdb find → details ‖ tvdb remote id → extended record

# Round 6 starts from main at f7d63b0: its cpu row is this script's (15 pairs alternating with
# the round's result: medians); the other rows are main at 26fbf18's (round 5's start), measured
# the same way; the cache row is round 4's result (see benchmarks/README.md).
TODAY: dict[str, float] = {
    "cpu_ms": 4.73,
    "script_ms": 8.02,
    "cpu_ratio": 0.559,
    "throughput": 85.7,
    "requests": 5.97,
    "startup_version": 2.6,
    "startup_lookup": 11.6,
    "startup_show": 11.4,
    "cold": 1.28,
    "cache_kb": 11.1,
    "get_ms": 0.178,
    "full_get_ms": 1.44,
}


# ------------------------------------------------------------------------------ processes


def script_env(sim: SimServer, work: Path) -> dict[str, str]:
    """The plain script's environment: the simulator's base URLs and keys, its own names."""
    metarr = sim.settings_env()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    for name in ("TMDB", "OMDB", "FANART", "TVDB"):
        env[f"{name}_BASE_URL"] = metarr[f"METARR_{name}_BASE_URL"]
        env[f"{name}_API_KEY"] = metarr[f"METARR_{name}_API_KEY"]
    return env


def child_env(sim: SimServer, work: Path) -> dict[str, str]:
    """metarr's environment (see `run.sim_env`), bytecode written under ``work``."""
    env = {**os.environ, **sim_env(sim, work)}
    del env["PYTHONDONTWRITEBYTECODE"]
    return env


def run_script(sim: SimServer, ids_file: Path, work: Path, *, threads: int = 3) -> dict[str, Any]:
    """Run the plain script once: its CPU (whole process), its own seconds, the requests."""
    sim.reset_counts()
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(ids_file), "--threads", str(threads)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=script_env(sim, work),
    )
    out, err = child.communicate()  # reaps with waitpid; rusage comes from wait4 below
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"plain script failed: {err.decode(errors='replace')[-1500:]}")
    summary = json.loads(out.decode().strip().splitlines()[-1])
    return {
        **summary,
        "wall": wall,
        "cpu": _children_cpu_delta(),
        "requests": sum(sum(c.values()) for c in sim.counts().values()),
    }


_cpu_seen = 0.0


def _children_cpu_delta() -> float:
    """CPU of the children reaped since the last call (``RUSAGE_CHILDREN`` grows by each)."""
    global _cpu_seen
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    delta, _cpu_seen = total - _cpu_seen, total
    return delta


def timed(command: Sequence[str], env: Mapping[str, str]) -> tuple[float, str]:
    """Wall seconds of one run of ``command`` (its output, for checks)."""
    started = time.perf_counter()
    done = subprocess.run(command, env=dict(env), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    _children_cpu_delta()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-800:]}")
    return wall, done.stdout


def wall(command: Sequence[str], env: Mapping[str, str]) -> float:
    """Wall seconds of one run of ``command``."""
    return timed(command, env)[0]


def paired(
    a: Callable[[], float],
    b: Callable[[], float],
    runs: int,
    warmup: int = 1,
    floor: float = 0.0,
) -> dict[str, float]:
    """A and B in turn (A B A B …) after ``warmup`` rounds: medians of each and of the
    per-pair ratios A / (B + ``floor``), which hold when the machine's speed drifts."""
    for _ in range(warmup):
        a()
        b()
    pairs = [(a(), b()) for _ in range(runs)]
    ratios = [x / (y + floor) for x, y in pairs]
    return {
        "a": statistics.median(x for x, _ in pairs),
        "b": statistics.median(y for _, y in pairs),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "runs": runs,
    }


# ----------------------------------------------------------------------------------- rows


WARM_MOVIES = 16
"""Movies of the unmeasured warm-up runs (~95 requests): enough for a batch to import all it
imports when measured (retries aside)."""


def warm_bytecode(world: World, work: Path, movies: Sequence[Movie], concurrency: int) -> None:
    """Run both tools once, unmeasured, on the same ``movies`` (and one metarr ``lookup``), so
    that every measured process finds the bytecode of its imports under ``work``, as an
    installed tool finds its own."""
    rows_csv, ids = batch_input(work, "warm", movies)
    with SimServer(world) as sim:
        run_batch(sim, rows_csv, work / "warm.sqlite", rows=len(movies), concurrency=concurrency)
        run_script(sim, ids, work)
        lookup = ["--db", str(work / "warm-lookup.sqlite"), "lookup", "--imdb"]
        timed([*metarr_command(), *lookup, str(movies[0].imdb_id)], child_env(sim, work))
    _children_cpu_delta()


def imdb_movies(world: World, seed: int) -> list[Movie]:
    """Movies TMDB finds by their IMDb id, in a repeatable random order."""
    movies = [m for m in world.movies if owns(world, m, "imdb") and owns(world, m, "tmdb")]
    random.Random(seed).shuffle(movies)
    return movies


def batch_input(work: Path, name: str, movies: Sequence[Movie]) -> tuple[Path, Path]:
    """The same movies as a metarr batch CSV and as the script's id list."""
    rows_csv = write_csv(work / f"{name}.csv", [{"imdb_id": m.imdb_id} for m in movies])
    ids = work / f"{name}.txt"
    ids.write_text("".join(f"{m.imdb_id}\n" for m in movies), encoding="utf-8")
    return rows_csv, ids


def row_cpu(
    world: World, work: Path, movies: Sequence[Movie], concurrency: int, pairs: int
) -> dict[str, Any]:
    """CPU per movie at 0 ms latency: metarr's batch process against the plain script's, run
    in turn ``pairs`` times (A B A B …, each batch on a new cache file): the medians of each and
    of the per-pair ratios, which hold when the machine's speed drifts between runs."""
    rows_csv, ids = batch_input(work, "cpu", movies)
    metarr_ms: list[float] = []
    script_ms: list[float] = []
    found: list[int] = []
    db = work / "cpu.sqlite"  # the first pair's cache: the startup and cache rows read it
    with SimServer(world) as sim:
        for pair in range(pairs):
            target = db if pair == 0 else work / f"cpu-{pair}.sqlite"
            metarr = run_batch(sim, rows_csv, target, rows=len(movies), concurrency=concurrency)
            _children_cpu_delta()
            _check_batch("cpu", metarr.exit_code, metarr.statuses, len(movies))
            script = run_script(sim, ids, work)
            metarr_ms.append(1000 * metarr.cpu_seconds / len(movies))
            script_ms.append(1000 * script["cpu"] / len(movies))
            found.append(script["found"])
    ratios = [m / s for m, s in zip(metarr_ms, script_ms, strict=True)]
    return {
        "movies": len(movies),
        "pairs": pairs,
        "metarr_ms": statistics.median(metarr_ms),
        "script_ms": statistics.median(script_ms),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "metarr_runs_ms": metarr_ms,
        "script_runs_ms": script_ms,
        "metarr_identified": len(movies),
        "script_found": min(found),
        "db": str(db),
    }


def row_throughput(
    world: World, work: Path, movies: Sequence[Movie], concurrency: int, latency: float
) -> dict[str, Any]:
    """Movies/s and requests per movie at ``latency``, both tools, the same movies."""
    rows_csv, ids = batch_input(work, "tput", movies)
    with SimServer(world, knobs={"*": Knobs(latency=latency)}) as sim:
        metarr = run_batch(
            sim, rows_csv, work / "tput.sqlite", rows=len(movies), concurrency=concurrency
        )
        _children_cpu_delta()
        script = run_script(sim, ids, work)
    _check_batch("throughput", metarr.exit_code, metarr.statuses, len(movies))
    n = len(movies)
    return {
        "movies": n,
        "latency": latency,
        "metarr_per_s": metarr.rate,
        "script_per_s": n / script["seconds"],
        "metarr_requests": metarr.total / n,
        "script_requests": script["requests"] / n,
    }


def row_startup(world: World, work: Path, db: Path, movie: Movie, runs: int) -> dict[str, Any]:
    """``--version``, a cached ``lookup`` and ``cache show`` against ``python -c pass``."""
    bare = [sys.executable, "-c", "pass"]
    metarr = metarr_command()
    with SimServer(world) as sim:
        env = child_env(sim, work)
        commands = {
            "version": [*metarr, "--version"],
            "lookup": [*metarr, "--db", str(db), "lookup", "--imdb", str(movie.imdb_id)],
            "show": [*metarr, "--db", str(db), "cache", "show", f"imdb:{movie.imdb_id}"],
        }
        out: dict[str, Any] = {}
        for name, command in commands.items():
            sim.reset_counts()
            out[name] = paired(partial(wall, command, env), partial(wall, bare, env), runs)
            out[name]["requests"] = sim.total()
    return out


def row_cold(
    world: World, work: Path, movies: Sequence[Movie], latency: float, runs: int
) -> dict[str, Any]:
    """A cold ``lookup --imdb`` at ``latency`` against the same command answered from cache,
    and (for information) against the full command answering it from cache."""
    metarr = metarr_command()
    cached_db = work / "cold-cached.sqlite"
    picks = iter(movies[1:])
    counter = iter(range(10_000))
    with SimServer(world, knobs={"*": Knobs(latency=latency)}) as sim:
        env = child_env(sim, work)
        state = work / "cold-state"
        env["METARR_STATE_DIR"] = str(state)  # no token yet: the first process logs in

        def lookup(db: Path, movie: Movie, *options: str) -> float:
            command = [*metarr, *options, "--db", str(db), "lookup", "--imdb", str(movie.imdb_id)]
            return timed(command, env)[0]

        def cold() -> float:
            return lookup(work / f"cold-{next(counter)}.sqlite", next(picks))

        sim.reset_counts()
        first = lookup(work / "cold-first.sqlite", movies[0])
        first_logins = sim.counts()["tvdb"].get("/login", 0)
        lookup(cached_db, movies[0])  # fills the cache the floor reads from
        _check_full_command(env, [*metarr, *FULL, "--db", str(cached_db)], movies[0])
        sim.reset_counts()
        floor_extra = IMDB_ROUNDS * latency
        times = in_turn(
            [
                cold,
                lambda: lookup(cached_db, movies[0]),
                lambda: lookup(cached_db, movies[0], *FULL),
            ],
            runs,
        )
        logins = sim.counts()["tvdb"].get("/login", 0)
    ratios = [c / (f + floor_extra) for c, f, _ in times]
    full_ratios = [c / (f + floor_extra) for c, _, f in times]
    cold_s, cached_s, full_s = (statistics.median(t) for t in zip(*times, strict=True))
    return {
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "cold_s": cold_s,
        "cached_s": cached_s,
        "floor_s": cached_s + floor_extra,
        "full_cached_s": full_s,
        "full_floor_s": full_s + floor_extra,
        "full_ratio": statistics.median(full_ratios),
        "latency": latency,
        "runs": runs,
        "first_s": first,
        "first_ratio": first / (cached_s + floor_extra),
        "first_logins": first_logins,
        "logins_after_first": logins,
    }


FULL = ("--without", "")
"""Global options that leave no provider out and that the cached read does not answer: the
same lookup through the full command tree."""


def _check_full_command(env: Mapping[str, str], command: Sequence[str], movie: Movie) -> None:
    """Make sure ``command`` (a cached lookup with `FULL`) runs the full command: the
    orchestrator is imported, which the cached read never does."""
    probe = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(
        [*command, "lookup", "--imdb", str(movie.imdb_id)],
        env=probe,
        capture_output=True,
        text=True,
        check=False,
    )
    _children_cpu_delta()
    modules = (line.rpartition("|")[2].strip() for line in done.stderr.splitlines())
    if done.returncode != 0 or "metarr.orchestrator" not in modules:
        raise RuntimeError(f"{' '.join(command)}: not the full command: {done.stderr[-800:]}")


def in_turn(
    runs_of: Sequence[Callable[[], float]], runs: int, warmup: int = 1
) -> list[list[float]]:
    """Each of ``runs_of`` in turn (A B C A B C …) after ``warmup`` rounds: one list of
    their times per round."""
    for _ in range(warmup):
        for run in runs_of:
            run()
    return [[run() for run in runs_of] for _ in range(runs)]


def row_cache(
    world: World, work: Path, movies: Sequence[Movie], concurrency: int, db: Path | None, reads: int
) -> dict[str, Any]:
    """Bytes per movie and `Cache.get` time on a cache of ``movies`` (or the given ``db``)."""
    if db is None:
        rows_csv, _ = batch_input(work, "cache", movies)
        db = work / "cache.sqlite"
        with SimServer(world) as sim:
            run = run_batch(sim, rows_csv, db, rows=len(movies), concurrency=concurrency)
        _check_batch("cache", run.exit_code, run.statuses, len(movies))
    sample = random.Random(7).sample(list(movies), min(reads, len(movies)))
    cache = Cache(db)
    try:
        count = cache.stats().movies
        full = _read_times(lambda m: cache.get("imdb", str(m.imdb_id)), sample)
    finally:
        cache.close()  # the last connection checkpoints the WAL into the file
    with CacheReader(db) as reader:
        light = _read_times(lambda m: reader.get(Ids(imdb=str(m.imdb_id))), sample)
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    return {
        "movies": count,
        "bytes": size,
        "kb_per_movie": size / count / 1000,
        "get_ms": 1000 * statistics.median(light),
        "get_p95_ms": 1000 * light[int(0.95 * (len(light) - 1))],
        "full_get_ms": 1000 * statistics.median(full),
        "reads": len(light),
    }


def _read_times(read: Callable[[Movie], object], sample: Sequence[Movie]) -> list[float]:
    """Seconds per read, sorted; each read must find its movie."""
    times = []
    for movie in sample:
        started = time.perf_counter()
        found = read(movie)
        times.append(time.perf_counter() - started)
        if found is None:
            raise RuntimeError(f"cache: {movie.imdb_id} not cached")
    return sorted(times)


def _check_batch(row: str, code: int, statuses: Mapping[str, int], rows: int) -> None:
    if code not in (0, 3) or statuses.get("identified", 0) < rows * 0.95:
        raise RuntimeError(f"{row}: batch exited {code} with {dict(statuses)}")


# -------------------------------------------------------------------------------- report


def table(report: Report, results: Mapping[str, Any]) -> None:
    """The issue's table: figure, target, today (main), result, verdict."""
    lines: list[tuple[str, str, str, str, str]] = []

    def add(figure: str, target: str, key: str, value: float, fmt: str, ok: bool | None) -> None:
        """A row of the table; ``ok`` None: shown for information, not a target."""
        today = TODAY.get(key)
        lines.append(
            (
                figure,
                target,
                "–" if today is None else fmt.format(today),
                fmt.format(value),
                "" if ok is None else "PASS" if ok else "MISS",
            )
        )
        if ok is not None:
            report.target(figure, fmt.format(value), target, ok)

    if "cpu" in results:
        r = results["cpu"]
        add(
            f"CPU per movie, {r['movies']} by IMDb id, 0 ms (medians of {r['pairs']} pairs)",
            "–",
            "cpu_ms",
            r["metarr_ms"],
            "{:.2f} ms",
            None,
        )
        add("  the plain script's", "–", "script_ms", r["script_ms"], "{:.2f} ms", None)
        add(
            f"  metarr ÷ script, median of the pairs ({r['ratio_min']:.2f}–{r['ratio_max']:.2f})",
            "≤ 0.50 ×",
            "cpu_ratio",
            r["ratio"],
            "{:.2f} ×",
            r["ratio"] <= 0.5,
        )
    if "throughput" in results:
        r = results["throughput"]
        goal = 10 * r["script_per_s"]
        add(
            f"throughput, {r['movies']} by IMDb id, {r['latency'] * 1000:.0f} ms "
            f"(script {r['script_per_s']:.1f}/s)",
            f"≥ {goal:.1f} movies/s",
            "throughput",
            r["metarr_per_s"],
            "{:.1f} movies/s",
            r["metarr_per_s"] >= goal,
        )
        add(
            f"requests per movie (script {r['script_requests']:.2f})",
            f"≤ {r['script_requests']:.2f}",
            "requests",
            r["metarr_requests"],
            "{:.2f}",
            r["metarr_requests"] <= r["script_requests"] + 1e-9,
        )
    if "startup" in results:
        for name, label, goal in (
            ("version", "`metarr --version`", 8.0),
            ("lookup", "cached `metarr lookup`", 15.0),
            ("show", "`metarr cache show`", 15.0),
        ):
            r = results["startup"][name]
            add(
                f"{label} ({r['a'] * 1000:.0f} ms; bare {r['b'] * 1000:.0f} ms)",
                f"≤ {goal:g} × bare",
                f"startup_{name}",
                r["ratio"],
                "{:.1f} ×",
                r["ratio"] <= goal,
            )
    if "cold" in results:
        r = results["cold"]
        add(
            f"cold `lookup --imdb`, {r['latency'] * 1000:.0f} ms ({r['cold_s']:.2f} s; floor "
            f"{r['floor_s']:.2f} s)",
            "≤ 1.2 × floor",
            "cold",
            r["ratio"],
            "{:.2f} ×",
            r["ratio"] <= 1.2,
        )
        add(
            f"cold `lookup --imdb` against the full command's cached floor "
            f"({r['full_floor_s']:.2f} s)",
            "(information)",
            "cold_full",
            r["full_ratio"],
            "{:.2f} ×",
            None,
        )
    if "cache" in results:
        r = results["cache"]
        add(
            f"cache size per movie ({r['movies']:,} movies)",
            "≤ 12 KB",
            "cache_kb",
            r["kb_per_movie"],
            "{:.1f} KB",
            r["kb_per_movie"] <= 12,
        )
        add(
            f"`get()` read (the merged movie), median of {r['reads']}",
            "≤ 0.3 ms",
            "get_ms",
            r["get_ms"],
            "{:.3f} ms",
            r["get_ms"] <= 0.3,
        )
        add(
            f"`get(parts=True)` (every part and raw payload), median of {r['reads']}",
            "(information)",
            "full_get_ms",
            r["full_get_ms"],
            "{:.3f} ms",
            None,
        )
    report.table(("figure", "target", "today (main)", "result", ""), lines)


# ---------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", default=",".join(ROWS), help="which rows to measure")
    parser.add_argument("--quick", action="store_true", help="small runs (the smoke test)")
    parser.add_argument("--cpu-movies", type=int, default=400)
    parser.add_argument("--cpu-pairs", type=int, default=5, help="metarr/script pairs, cpu row")
    parser.add_argument("--tput-movies", type=int, default=150)
    parser.add_argument("--tput-latency", type=float, default=0.05)
    parser.add_argument("--cold-latency", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=9, help="pairs per start-up figure")
    parser.add_argument("--cache-movies", default="all", help="movies in the cache row ('all')")
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="metarr batch --concurrency"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--out", type=Path, default=HERE / "side_by_side.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.cpu_movies, args.tput_movies, args.runs, args.cpu_pairs = 40, 30, 3, 1
        args.cache_movies = "cpu"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the chosen rows; 1 when a run failed."""
    args = parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = set(rows) - set(ROWS)
    if unknown:
        raise SystemExit(f"unknown row(s): {', '.join(sorted(unknown))}")
    started = time.monotonic()
    world = World.load()
    movies = imdb_movies(world, args.seed)
    report = Report()
    print(
        f"# metarr side by side with the plain script — {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}; {platform.platform()}; load {os.getloadavg()[0]:.1f}"
    )
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    work = Path(tempfile.mkdtemp(prefix="metarr-side-"))
    try:
        warm_bytecode(world, work, movies[-WARM_MOVIES:], args.concurrency)
        cpu_movies = movies[: args.cpu_movies]
        if "cpu" in rows or "startup" in rows or args.cache_movies == "cpu":
            results["cpu"] = row_cpu(world, work, cpu_movies, args.concurrency, args.cpu_pairs)
        if "throughput" in rows:
            results["throughput"] = row_throughput(
                world, work, movies[: args.tput_movies], args.concurrency, args.tput_latency
            )
        if "startup" in rows:
            db = Path(results["cpu"]["db"])
            results["startup"] = row_startup(world, work, db, cpu_movies[0], args.runs)
        if "cold" in rows:
            picks = movies[args.cpu_movies : args.cpu_movies + args.runs + 3]
            results["cold"] = row_cold(world, work, picks, args.cold_latency, args.runs)
        if "cache" in rows:
            if args.cache_movies == "cpu":
                results["cache"] = row_cache(
                    world, work, cpu_movies, args.concurrency, Path(results["cpu"]["db"]), 400
                )
            else:
                size = len(movies) if args.cache_movies == "all" else int(args.cache_movies)
                results["cache"] = row_cache(
                    world, work, movies[:size], args.concurrency, None, 1000
                )
        if "cpu" not in rows:
            results.pop("cpu", None)
        report.heading("Issue 15's table, measured side by side")
        table(report, results)
    except RuntimeError as exc:
        report.invariant("every run finished", False, str(exc))
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["targets"] = report.targets
    results["failures"] = report.failures
    results["seconds"] = time.monotonic() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    report.note(f"raw numbers: {args.out}; took {results['seconds']:.0f} s")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
