"""metarr benchmarks against the offline simulator (real HTTP on 127.0.0.1, no network).

    uv run python benchmarks/run.py [--latency 0.05] [--sizes 100,1000,all] [--quick]

Starts `metarr_sim.SimServer` itself and measures, printing one table per section and each
target beside its measurement (PASS/MISS); the raw numbers go to ``benchmarks/results.json``
(``--out``). Sections (``--sections``):

- ``library``    cold then warm `metarr batch` runs (a subprocess each, fresh ``--db``) of
                 title+year libraries of each size: wall time, movies/s, requests per movie per
                 provider, 429s, the child's peak RSS (VmHWM), database size; warm sends 0.
- ``requests``   cold requests per movie for each input type beside the minimum the APIs allow.
- ``latency``    one cold lookup per id type (in-process `Orchestrator`) beside the minimum
                 sequential round trips × latency, first in a process and in a warm process.
- ``throughput`` movies/s against ``--concurrency`` 1…64 under a TMDB token-bucket limit.
- ``memory``     peak RSS of the 1,000-movie run against the whole world (from ``library``).
- ``quality``    identification from title + year against the world's ids (from ``library``).

The exit code is 1 when an invariant fails (a warm run that sends a request, a wrong
identification, a batch that crashes); a missed performance target only prints MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from metarr.config import load_settings
from metarr.ids import Ids
from metarr.orchestrator import Orchestrator
from metarr.plugins import PluginInfo, discover
from metarr.query import Query
from metarr_sim import Knobs, Movie, SimServer, World

HERE = Path(__file__).resolve().parent
PROVIDERS = ("tmdb", "omdb", "fanart", "tvdb")
KINDS = ("tmdb", "imdb", "tvdb", "title")
SECTIONS = ("library", "requests", "latency", "throughput", "memory", "quality")
LOGIN = "/login"

# Cold requests per movie the APIs allow at best (the TVDB login, once per process, apart).
MINIMUM_REQUESTS = {"tmdb": 5, "imdb": 6, "tvdb": 4, "title": 7}
MINIMUM_WHY = {
    "tmdb": "tmdb details+append_to_response; fanart by tmdb; omdb by imdb; tvdb remoteid+extended",
    "imdb": "tmdb find+details; omdb; fanart; tvdb remoteid+extended",
    "tvdb": "tvdb extended; tmdb details; omdb; fanart",
    "title": "3 searches (tmdb, omdb, tvdb); tmdb details (reused); omdb; fanart; tvdb extended",
}
# Sequential round trips the APIs force for one cold lookup (+1 for the first TVDB login).
MINIMUM_ROUNDS = {"tmdb": 3, "imdb": 2, "tvdb": 2, "title": 2}
ROUNDS_WHY = {
    "tmdb": "tmdb → imdb → tvdb remoteid → tvdb extended",
    "imdb": "tmdb find → details ‖ tvdb remoteid → extended",
    "tvdb": "tvdb extended → tmdb details ‖ omdb ‖ fanart",
    "title": "searches → details ‖ omdb ‖ fanart ‖ tvdb extended",
}
LATENCY_TARGET = 1.2
HOLD_TARGET = 0.9
LINEAR_TARGET = 0.8
LIMITED_TARGET = 0.01
MEMORY_TARGET = 1.2
_SUMMARY = re.compile(r"(\d+) rows in ([\d.]+) s")


# ---------------------------------------------------------------------------------- output


class Report:
    """Collects printed tables, target checks and invariant failures."""

    def __init__(self) -> None:
        self.targets: list[dict[str, Any]] = []
        self.failures: list[str] = []

    def heading(self, text: str) -> None:
        print(f"\n## {text}\n", flush=True)

    def note(self, text: str) -> None:
        print(text, flush=True)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        cells = [[_cell(v) for v in row] for row in rows]
        widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        print(line)
        print("  ".join("-" * w for w in widths))
        for row in cells:
            print(
                "  ".join(
                    v.rjust(w) if _numeric(v) else v.ljust(w)
                    for v, w in zip(row, widths, strict=True)
                )
            )
        print(flush=True)

    def target(self, name: str, measured: str, target: str, ok: bool) -> None:
        self.targets.append({"name": name, "measured": measured, "target": target, "pass": ok})
        print(f"  [{'PASS' if ok else 'MISS'}] {name}: {measured} (target {target})", flush=True)

    def invariant(self, name: str, ok: bool, detail: str) -> None:
        print(f"  [{'OK' if ok else 'FAIL'}] {name}: {detail}", flush=True)
        if not ok:
            self.failures.append(f"{name}: {detail}")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return bool(text) and text.replace(",", "").replace(".", "").replace("-", "").isdigit()


# ----------------------------------------------------------------------------- libraries


def shuffled(world: World, seed: int) -> list[Movie]:
    """The world in a repeatable random order (libraries are its prefixes)."""
    movies = list(world.movies)
    random.Random(seed).shuffle(movies)
    return movies


def owns(world: World, movie: Movie, kind: str) -> bool:
    """Whether ``movie`` is what the provider of ``kind`` ids returns for its id."""
    if kind == "tmdb":
        return movie.tmdb_id is not None and world.tmdb(movie.tmdb_id) is movie
    if kind == "imdb":
        return movie.imdb_id is not None and world.imdb(movie.imdb_id) is movie
    if kind == "tvdb":
        return world.tvdb(movie.tvdb_id) is movie
    return True


def row_for(movie: Movie, kind: str) -> dict[str, Any]:
    """One batch row asking for ``movie`` by one input type."""
    if kind == "title":
        return {"title": movie.title, "year": movie.year or ""}
    value = {"tmdb": movie.tmdb_id, "imdb": movie.imdb_id, "tvdb": movie.tvdb_id}[kind]
    return {f"{kind}_id": value}


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """A batch CSV with the columns of the first row."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# --------------------------------------------------------------------------------- batch


@dataclass
class BatchRun:
    """One `metarr batch` subprocess and what the simulator saw."""

    rows: int
    concurrency: int
    wall: float
    batch_seconds: float
    exit_code: int
    peak_rss_mb: float
    db_mb: float
    cpu_seconds: float
    """The child's user + system CPU time (its whole life: start-up included)."""
    requests: dict[str, dict[str, int]]
    limited: dict[str, dict[str, int]]
    statuses: dict[str, int]
    results: list[dict[str, Any]] = field(default_factory=list, repr=False)
    series: list[tuple[float, int, int, int, int]] = field(default_factory=list, repr=False)
    """(seconds, rows done, requests, tmdb requests, tmdb 429s) polled during the run."""
    stderr_tail: str = ""

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.requests.values())

    @property
    def logins(self) -> int:
        return self.requests.get("tvdb", {}).get(LOGIN, 0)

    @property
    def total_limited(self) -> int:
        return sum(sum(c.values()) for c in self.limited.values())

    def by_provider(self, *, logins: bool = False) -> dict[str, int]:
        out = {}
        for name in PROVIDERS:
            counts = self.requests.get(name, {})
            out[name] = sum(n for ep, n in counts.items() if logins or ep != LOGIN)
        return out

    @property
    def rate(self) -> float:
        return self.rows / self.batch_seconds if self.batch_seconds > 0 else 0.0


def sim_env(sim: SimServer, work: Path) -> dict[str, str]:
    """The environment of a child: ``METARR_*`` for the simulator, an empty config file (the
    user's own is ignored), provider state (the TVDB token) and bytecode cached under the work
    directory.

    Children write bytecode as an installed Python normally does, but into the work directory
    (``PYTHONPYCACHEPREFIX``), never into the environment; with ``PYTHONDONTWRITEBYTECODE``
    set, every process would compile all its imports from source again (≈1 s of start-up and
    ≈80 ms on the first request, which imports anyio's asyncio backend lazily).
    """
    config = work / "metarr.toml"
    config.touch()
    return {
        **sim.settings_env(),
        "METARR_CONFIG": str(config),
        "METARR_STATE_DIR": str(work / "state"),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        "PYTHONDONTWRITEBYTECODE": "",
    }


def metarr_command() -> list[str]:
    """The installed ``metarr`` console script (the real CLI), else ``python -m``-style."""
    script = Path(sys.executable).with_name("metarr")
    if script.exists():
        return [str(script)]
    found = shutil.which("metarr")
    if found:
        return [found]
    return [sys.executable, "-c", "from metarr.cli import main; main()"]


def run_batch(
    sim: SimServer,
    rows_csv: Path,
    db: Path,
    *,
    rows: int,
    concurrency: int,
    keep_results: bool = False,
    poll: float = 0.25,
) -> BatchRun:
    """Run ``metarr --db DB batch FILE --json`` in its own process and measure it."""
    sim.reset_counts()
    stem = f"{db.stem}-{time.monotonic_ns()}"
    out_path = db.with_name(stem + ".jsonl")
    err_path = db.with_name(stem + ".stderr")
    env = {**os.environ, **sim_env(sim, db.parent)}
    if not env["PYTHONDONTWRITEBYTECODE"]:
        del env["PYTHONDONTWRITEBYTECODE"]
    command = [
        *metarr_command(),
        "--db",
        str(db),
        "batch",
        str(rows_csv),
        "--concurrency",
        str(concurrency),
        "--json",
        "--no-progress",
    ]
    series: list[tuple[float, int, int, int, int]] = []
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _peak_rss_kb(child.pid))
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            counts, limited = sim.counts(), sim.rate_limited_counts()
            series.append(
                (
                    time.monotonic() - started,
                    _count_lines(out_path),
                    sum(sum(c.values()) for c in counts.values()),
                    sum(counts["tmdb"].values()),
                    sum(limited["tmdb"].values()),
                )
            )
            time.sleep(poll if time.monotonic() - started > 1 else 0.02)
        wall = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    found = _SUMMARY.findall(stderr)
    batch_seconds = float(found[-1][1]) if found else wall
    statuses: Counter[str] = Counter()
    results = []
    with out_path.open(encoding="utf-8") as handle:
        for line in handle:
            data = json.loads(line)
            statuses[data["status"]] += 1
            if keep_results:
                results.append(_slim(data))
    db_bytes = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    return BatchRun(
        rows=rows,
        concurrency=concurrency,
        wall=wall,
        batch_seconds=batch_seconds,
        exit_code=child.returncode,
        peak_rss_mb=peak_kb / 1024,
        db_mb=db_bytes / 1e6,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        requests=sim.counts(),
        limited=sim.rate_limited_counts(),
        statuses=dict(statuses),
        results=results,
        series=series,
        stderr_tail=stderr[-2000:],
    )


def _peak_rss_kb(pid: int) -> int:
    """The process's peak RSS so far (``VmHWM``; psutil's current RSS where there is no /proc).

    Not ``ru_maxrss`` from ``wait4``: Linux carries the parent's high-water mark over into a
    child started with vfork + exec (as `subprocess` does), so a child would report at least
    the benchmark process's own peak (the simulator and its world).
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    try:
        return int(psutil.Process(pid).memory_info().rss) // 1024
    except (psutil.Error, OSError):
        return 0


def _outcomes(run: BatchRun) -> str:
    return ", ".join(f"{status} {n}" for status, n in sorted(run.statuses.items()))


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _slim(data: dict[str, Any]) -> dict[str, Any]:
    movie = data.get("movie") or {}
    return {
        "line": data.get("line"),
        "input": data.get("input"),
        "status": data.get("status"),
        "ids": movie.get("ids") or {},
        "reasons": data.get("reasons") or [],
        "providers": data.get("providers") or {},
        "candidates": [
            {"title": c.get("title"), "year": c.get("year"), "ids": c.get("ids")}
            for c in (data.get("candidates") or [])[:4]
        ],
    }


def complete(result: Mapping[str, Any]) -> bool:
    """Identified with every provider answered (none rate limited or failed)."""
    return result["status"] == "identified" and not any(
        s in ("rate_limited", "error") for s in result["providers"].values()
    )


# ------------------------------------------------------------------------------ sections


def warm_up(world: World, work: Path) -> None:
    """One tiny unmeasured batch, so later children find their bytecode cached."""
    rows_csv = write_csv(work / "warm-up.csv", [row_for(m, "title") for m in world.movies[:3]])
    with SimServer(world) as sim:
        run_batch(sim, rows_csv, work / "warm-up.sqlite", rows=3, concurrency=3)


def section_library(
    report: Report,
    world: World,
    work: Path,
    *,
    sizes: Sequence[int],
    latency: float,
    concurrency: int,
    seed: int,
) -> dict[str, Any]:
    """Cold then warm title+year libraries of each size."""
    report.heading(
        f"1. Libraries (title + year rows, like a library scan), latency {latency:g} s, "
        f"--concurrency {concurrency}"
    )
    report.note(
        "Library = a repeatable random sample of the world (seed "
        f"{seed}); each row is the movie's main title and year. Every run is its own "
        "`metarr batch --json` process on a fresh --db; peak RSS is that process's VmHWM (polled)."
    )
    order = shuffled(world, seed)
    runs: dict[str, Any] = {}
    table = []
    with SimServer(world, knobs={"*": Knobs(latency=latency)}, seed=seed) as sim:
        for size in sizes:
            movies = order[:size]
            label = "all" if size == len(world) else str(size)
            rows_csv = write_csv(
                work / f"library-{label}.csv", [row_for(m, "title") for m in movies]
            )
            db = work / f"library-{label}.sqlite"
            cold = run_batch(
                sim, rows_csv, db, rows=size, concurrency=concurrency, keep_results=True
            )
            warm = run_batch(sim, rows_csv, db, rows=size, concurrency=concurrency)
            for phase, run in (("cold", cold), ("warm", warm)):
                per = run.by_provider()
                table.append(
                    (
                        label,
                        phase,
                        run.wall,
                        run.rate,
                        *(per[p] / size for p in PROVIDERS),
                        run.logins,
                        run.total,
                        run.total_limited,
                        run.peak_rss_mb,
                        run.db_mb,
                        run.statuses.get("identified", 0),
                    )
                )
            runs[label] = {"movies": movies, "cold": cold, "warm": warm}
    report.table(
        (
            "library",
            "run",
            "wall s",
            "movies/s",
            "tmdb/movie",
            "omdb/movie",
            "fanart/movie",
            "tvdb/movie",
            "logins",
            "requests",
            "429s",
            "peak RSS MB",
            "db MB",
            "identified",
        ),
        table,
    )
    report.note(
        "wall s = the whole process (≈1 s of it is Python start-up and imports); movies/s = rows "
        "÷ the batch's own elapsed time; x/movie = cold requests per row, the TVDB login apart."
    )
    for label, run in runs.items():
        report.invariant(
            f"library {label}: warm run sends zero requests",
            run["warm"].total == 0,
            f"{run['warm'].total} requests",
        )
        for phase in ("cold", "warm"):
            code = run[phase].exit_code
            report.invariant(
                f"library {label} {phase}: batch finished",
                code in (0, 3),
                f"exit code {code}" + ("" if code in (0, 3) else f": {_outcomes(run[phase])}"),
            )
    return runs


def section_requests(
    report: Report,
    world: World,
    work: Path,
    *,
    per_type: int,
    concurrency: int,
    seed: int,
) -> dict[str, Any]:
    """Cold (and warm) requests per movie for each input type, beside the minimum."""
    report.heading(f"2. Requests per movie, cold, per input type ({per_type} movies each)")
    order = shuffled(world, seed + 1)
    out: dict[str, Any] = {}
    table = []
    with SimServer(world, seed=seed) as sim:
        for kind in KINDS:
            movies = [m for m in order if owns(world, m, kind)][:per_type]
            rows_csv = write_csv(work / f"kind-{kind}.csv", [row_for(m, kind) for m in movies])
            db = work / f"kind-{kind}.sqlite"
            cold = run_batch(
                sim, rows_csv, db, rows=len(movies), concurrency=concurrency, keep_results=True
            )
            warm = run_batch(sim, rows_csv, db, rows=len(movies), concurrency=concurrency)
            identified = cold.statuses.get("identified", 0)
            measured = sum(cold.by_provider().values()) / len(movies)
            floor = _sample_minimum(world, kind, movies, cold.results) / len(movies)
            per = cold.by_provider()
            table.append(
                (
                    kind if kind != "title" else "title+year",
                    len(movies),
                    identified,
                    *(per[p] / len(movies) for p in PROVIDERS),
                    measured,
                    MINIMUM_REQUESTS[kind],
                    floor,
                    cold.logins,
                    warm.total,
                )
            )
            out[kind] = {
                "movies": len(movies),
                "identified": identified,
                "per_provider": {p: per[p] / len(movies) for p in PROVIDERS},
                "endpoints": cold.requests,
                "measured": measured,
                "minimum": MINIMUM_REQUESTS[kind],
                "sample_minimum": floor,
                "logins": cold.logins,
                "warm": warm.total,
            }
    report.table(
        (
            "input",
            "movies",
            "identified",
            "tmdb",
            "omdb",
            "fanart",
            "tvdb",
            "measured/movie",
            "minimum",
            "sample min",
            "logins",
            "warm requests",
        ),
        table,
    )
    report.note("Minimum per movie that every provider knows (a provider that does not know it")
    report.note("still costs its request), plus ONE TVDB login per process:")
    for kind in KINDS:
        report.note(f"  {kind:<6} {MINIMUM_REQUESTS[kind]}: {MINIMUM_WHY[kind]}")
    report.note(
        "sample min = that minimum adjusted to this sample's facts: from a tmdb or imdb id, a "
        "movie TVDB does not know needs no `extended` (its remote-id search is empty); a title "
        "the search leaves unidentified costs only its 3 searches (an identified title TVDB "
        "does not know still costs TVDB one request: the remote-id check)."
    )
    for kind, data in out.items():
        report.target(
            f"{kind} requests per movie",
            f"{data['measured']:.2f}",
            f"≤ {data['sample_minimum']:.2f} (the sample's minimum)",
            data["measured"] <= data["sample_minimum"] + 1e-9,
        )
        report.invariant(
            f"{kind}: at most one TVDB login per process (the token is kept across processes)",
            data["logins"] <= 1,
            f"{data['logins']} logins",
        )
        report.invariant(f"{kind}: warm run sends zero", data["warm"] == 0, f"{data['warm']}")
    return out


def _sample_minimum(
    world: World, kind: str, movies: Sequence[Movie], results: Sequence[Mapping[str, Any]]
) -> int:
    """The fewest requests the APIs allow for these movies (see `section_requests`)."""
    status = {r["line"]: r["status"] for r in results}
    total = 0
    for line, movie in enumerate(movies, start=2):
        if kind == "title" and status.get(line) != "identified":
            total += 3
            continue
        cost = MINIMUM_REQUESTS[kind]
        if kind in ("tmdb", "imdb") and world.tvdb(movie.tvdb_id) is not movie:
            cost -= 1  # the remote-id search finds no TVDB record to fetch
        total += cost
    return total


def section_latency(
    report: Report, world: World, work: Path, *, latency: float, repeats: int, seed: int
) -> dict[str, Any]:
    """Single cold lookups from each id type, beside round trips × latency."""
    report.heading(f"3. Single cold lookup latency, {latency:g} s per request, no jitter")
    order = [m for m in shuffled(world, seed + 2) if all(owns(world, m, k) for k in KINDS[:3])]
    picks = {
        kind: order[i * (repeats + 1) : (i + 1) * (repeats + 1)] for i, kind in enumerate(KINDS)
    }
    spare = order[len(KINDS) * (repeats + 1)]
    out: dict[str, Any] = {}
    with SimServer(world, knobs={"*": Knobs(latency=latency)}, seed=seed) as sim:
        env = sim_env(sim, work)
        del env["PYTHONDONTWRITEBYTECODE"]
        child_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        first = {}
        for kind in ("warm-up", *KINDS):  # the warm-up child fills the bytecode cache
            db = work / f"first-{kind}.sqlite"
            movie = spare if kind == "warm-up" else picks[kind][0]
            child = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child-lookup"],
                input=json.dumps({"db": str(db), "row": row_for(movie, _kind(kind))}),
                capture_output=True,
                text=True,
                env={**child_env, **env},
                check=False,
            )
            if child.returncode != 0:
                report.invariant(f"first {kind} lookup", False, child.stderr[-1500:])
                continue
            first[kind] = json.loads(child.stdout.strip().splitlines()[-1])
        warm = asyncio.run(_warm_lookups(env, work / "warm.sqlite", picks, repeats, order[-1]))
    table = []
    for kind in KINDS:
        rounds = MINIMUM_ROUNDS[kind]
        took = first.get(kind, {}).get("seconds", float("nan"))
        times = warm[kind]["seconds"]
        median = statistics.median(times)
        table.append(
            (
                kind if kind != "title" else "title+year",
                ROUNDS_WHY[kind],
                took,
                (rounds + 1) * latency,
                took / ((rounds + 1) * latency) if latency else float("nan"),
                median,
                max(times),
                rounds * latency,
                median / (rounds * latency) if latency else float("nan"),
            )
        )
        out[kind] = {
            "first_seconds": took,
            "first_minimum": (rounds + 1) * latency,
            "first_status": first.get(kind, {}).get("status"),
            "warm_seconds": times,
            "warm_minimum": rounds * latency,
            "warm_statuses": warm[kind]["statuses"],
            "warm_requests": warm[kind]["requests"],
            "first_requests": first.get(kind, {}).get("requests"),
        }
    report.table(
        (
            "input",
            "round trips forced",
            "first s",
            "first min",
            "ratio",
            "warm median s",
            "warm max s",
            "warm min",
            "ratio",
        ),
        table,
    )
    report.note(
        "first = the first lookup in a fresh process (fresh db; the TVDB login costs one more "
        f"round trip); warm = cold cache, warm process (login done), median of {repeats} movies. "
        "The target applies to the warm process (a library manager runs for long); the first "
        "lookup also pays one-time costs (lazy imports on the first request, first-use code "
        "generation), shown for information."
    )
    if latency:
        for kind in KINDS:
            data = out[kind]
            took = statistics.median(data["warm_seconds"])
            minimum = data["warm_minimum"]
            report.target(
                f"{kind} lookup, cold cache in a warm process",
                f"{took:.3f} s = {took / minimum:.2f} × minimum {minimum:.2f} s",
                f"≤ {LATENCY_TARGET} × minimum",
                took <= LATENCY_TARGET * minimum,
            )
    return out


async def _warm_lookups(
    env: Mapping[str, str],
    db: Path,
    picks: Mapping[str, Sequence[Movie]],
    repeats: int,
    spare: Movie,
) -> dict[str, dict[str, list[Any]]]:
    plugins = _plugins()
    settings = load_settings(plugins, env={**env}, db_path=db)
    out: dict[str, dict[str, list[Any]]] = {
        k: {"seconds": [], "statuses": [], "requests": []} for k in KINDS
    }
    async with Orchestrator(settings) as orc:
        await orc.run(_query(spare, "tvdb"))  # logs in to TVDB (another movie); not measured
        for kind in KINDS:
            for movie in picks[kind][1 : repeats + 1]:
                started = time.perf_counter()
                result = await orc.run(_query(movie, kind))
                out[kind]["seconds"].append(time.perf_counter() - started)
                out[kind]["statuses"].append(result.outcome.status)
                out[kind]["requests"].append(result.requests_by_provider)
    return out


def _plugins() -> list[PluginInfo]:
    return [p for p in discover() if p.name in PROVIDERS]


def _query(movie: Movie, kind: str) -> Query:
    return Query.from_input(row_for(movie, kind))


def _kind(kind: str) -> str:
    return "tvdb" if kind == "warm-up" else kind


def child_lookup() -> None:
    """``--child-lookup``: one timed lookup, the first in this process; prints JSON."""
    spec = json.loads(sys.stdin.read())
    plugins = _plugins()
    settings = load_settings(plugins, db_path=spec["db"])

    async def main() -> dict[str, Any]:
        async with Orchestrator(settings) as orc:
            started = time.perf_counter()
            result = await orc.run(Query.from_input(spec["row"]))
            seconds = time.perf_counter() - started
            return {
                "seconds": seconds,
                "status": result.outcome.status,
                "requests": result.requests_by_provider,
            }

    print(json.dumps(asyncio.run(main())))


def section_throughput(
    report: Report,
    world: World,
    work: Path,
    *,
    levels: Sequence[int],
    latency: float,
    rate: float,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    """Movies/s against --concurrency under a TMDB token bucket."""
    report.heading(
        f"4. Throughput vs concurrency: TMDB limited to {rate:g} req/s (token bucket, burst "
        f"{rate:g}), every provider {latency:g} s latency, title + year rows"
    )
    order = shuffled(world, seed + 3)
    runs: list[dict[str, Any]] = []
    base = None
    limit = None
    knobs = {"tmdb": Knobs(latency=latency, rate=rate), "*": Knobs(latency=latency)}
    with SimServer(world, knobs=knobs, seed=seed) as sim:
        for level in levels:
            estimate = min(level * (base or 5.0), limit or 1e9)
            count = int(min(max(30, estimate * seconds), len(order)))
            movies = order[:count]
            rows_csv = write_csv(work / f"tput-{level}.csv", [row_for(m, "title") for m in movies])
            db = work / f"tput-{level}.sqlite"
            run = run_batch(sim, rows_csv, db, rows=count, concurrency=level, keep_results=True)
            time.sleep(1.5)  # let the bucket refill between runs
            tmdb_per = sum(run.requests["tmdb"].values()) / count
            if limit is None:
                limit = rate / tmdb_per  # measured at the lowest concurrency, before any 429
            steady = _steady(run)
            complete_share = sum(complete(r) for r in run.results) / count
            after_share, after = _limited_after_pause(run)
            entry: dict[str, Any] = {
                "concurrency": level,
                "rows": count,
                "movies_per_s": run.rate,
                "steady_movies_per_s": steady,
                "complete_share": complete_share,
                "complete_per_s": steady * complete_share,
                "requests": run.total,
                "tmdb_requests": sum(run.requests["tmdb"].values()),
                "tmdb_429": run.total_limited,
                "limited_after_pause": after,
                "limited_share_after_pause": after_share,
                "statuses": run.statuses,
            }
            runs.append(entry)
            if base is None:
                base = entry["complete_per_s"]
    assert limit is not None
    assert base is not None
    table = []
    for entry in runs:
        level = entry["concurrency"]
        expected = min(level * base, limit)
        entry["expected"] = expected
        table.append(
            (
                level,
                entry["rows"],
                entry["movies_per_s"],
                entry["steady_movies_per_s"],
                f"{entry['complete_share']:.1%}",
                entry["complete_per_s"],
                expected,
                entry["tmdb_429"],
                f"{entry['tmdb_429'] / max(1, entry['requests']):.2%}",
                f"{entry['limited_share_after_pause']:.2%}",
            )
        )
    report.table(
        (
            "concurrency",
            "rows",
            "movies/s",
            "steady/s",
            "complete",
            "complete/s",
            "expected",
            "429s",
            "429 share",
            "429 after 1st",
        ),
        table,
    )
    report.note(
        f"Provider limit = {rate:g} TMDB req/s ÷ {rate / limit:.2f} TMDB requests per movie "
        f"(measured at concurrency {levels[0]}) = {limit:.2f} movies/s. steady/s = rows finished "
        "per second between 10 % and 90 % of the run (no start-up or tail); complete = "
        "identified with no provider rate limited or failed (a row whose TMDB request got a 429 "
        "is kept without TMDB and scheduled for a fill-in, so it does not count); expected = "
        f"min(concurrency × {base:.2f} (the single-row rate), the limit). 429 share = of all "
        "requests; 429 after 1st = 429s among all requests sent after the first 429."
    )
    for entry in runs:
        level = entry["concurrency"]
        at_limit = level * base >= limit
        goal = (HOLD_TARGET if at_limit else LINEAR_TARGET) * entry["expected"]
        report.target(
            f"concurrency {level}: complete movies/s",
            f"{entry['complete_per_s']:.2f}",
            f"≥ {goal:.2f} ({'90 % of the limit' if at_limit else '80 % of linear'})",
            entry["complete_per_s"] >= goal,
        )
        if entry["tmdb_429"]:
            report.target(
                f"concurrency {level}: 429s after the first pause",
                f"{entry['limited_share_after_pause']:.2%}",
                f"≤ {LIMITED_TARGET:.0%} of requests",
                entry["limited_share_after_pause"] <= LIMITED_TARGET,
            )
    return {"limit_movies_per_s": limit, "single_rate": base, "rate": rate, "runs": runs}


def _steady(run: BatchRun) -> float:
    """Rows per second between 10 % and 90 % done (falls back to the whole batch)."""
    points = [(t, done) for t, done, *_ in run.series]
    low, high = 0.1 * run.rows, 0.9 * run.rows
    start = next((p for p in points if p[1] >= low), None)
    end = next((p for p in points if p[1] >= high), None)
    if start is None or end is None or end[0] - start[0] < 1.0:
        return run.rate
    return (end[1] - start[1]) / (end[0] - start[0])


def _limited_after_pause(run: BatchRun) -> tuple[float, int]:
    """Share of requests that got a 429 after the first 429 (and how many)."""
    first = next((i for i, p in enumerate(run.series) if p[4] > 0), None)
    if first is None:
        return 0.0, 0
    _, _, requests0, _, limited0 = run.series[first]
    requests = run.total - requests0
    limited = run.total_limited - limited0
    return (limited / requests if requests > 0 else 0.0), limited


def section_memory(report: Report, runs: Mapping[str, Any]) -> dict[str, Any]:
    """Peak RSS of the 1,000-movie library against the largest one."""
    report.heading("5. Peak memory: 1,000 movies against the largest library (cold runs)")
    sized = sorted(runs.items(), key=lambda kv: kv[1]["cold"].rows)
    table = [
        (label, r["cold"].rows, r["cold"].peak_rss_mb, r["warm"].peak_rss_mb) for label, r in sized
    ]
    report.table(("library", "movies", "cold peak RSS MB", "warm peak RSS MB"), table)
    base = runs.get("1000") or (sized[0][1] if sized else None)
    top = sized[-1][1] if sized else None
    if base is None or top is None or base is top:
        report.note("needs two library sizes (e.g. --sizes 1000,all)")
        return {}
    growth = top["cold"].peak_rss_mb / base["cold"].peak_rss_mb
    report.target(
        f"peak RSS {base['cold'].rows:,} → {top['cold'].rows:,} movies",
        f"{base['cold'].peak_rss_mb:.1f} → {top['cold'].peak_rss_mb:.1f} MB (×{growth:.2f})",
        f"≤ ×{MEMORY_TARGET}",
        growth <= MEMORY_TARGET,
    )
    return {"from": base["cold"].peak_rss_mb, "to": top["cold"].peak_rss_mb, "growth": growth}


def section_quality(report: Report, world: World, runs: Mapping[str, Any]) -> dict[str, Any]:
    """Title + year identification against the world's ids (the largest cold library run)."""
    label, data = max(runs.items(), key=lambda kv: kv[1]["cold"].rows)
    movies: list[Movie] = data["movies"]
    results = data["cold"].results
    report.heading(f"6. Identification quality from title + year alone ({len(movies):,} movies)")
    verdicts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    wrong: list[str] = []
    for result in results:
        movie = movies[result["line"] - 2]
        verdict = _verdict(world, movie, result)
        verdicts[verdict] += 1
        if verdict == "wrong":
            wrong.append(_describe(movie, result))
        if result["status"] != "identified":
            kind = (
                result["status"]
                if result["status"] in ("ambiguous", "not_found", "conflict")
                else "other"
            )
            reasons[kind] += 1
            samples.setdefault(kind, [])
            if len(samples[kind]) < 5:
                samples[kind].append(_describe(movie, result))
    unexplained = sum(
        1
        for r in results
        if r["status"] != "identified" and not any(s.strip() for s in r["reasons"])
    )
    total = len(results)
    report.table(
        ("verdict", "movies", "share"),
        [(v, n, f"{n / total:.2%}") for v, n in sorted(verdicts.items(), key=lambda kv: -kv[1])],
    )
    report.note(
        "correct = identified and every id it has equals the world's (TVDB only for movies TVDB "
        "knows); correct (partial) = correct ids but some id missing; wrong = an id that differs."
    )
    report.table(("needs identification", "movies"), sorted(reasons.items(), key=lambda kv: -kv[1]))
    for kind, lines in samples.items():
        report.note(f"  {kind} — sample:")
        for line in lines:
            report.note(f"    {line}")
    for line in wrong[:20]:
        report.note(f"  WRONG {line}")
    report.target("wrong identifications", str(verdicts["wrong"]), "0", verdicts["wrong"] == 0)
    report.target("non-identified movies without a reason", str(unexplained), "0", unexplained == 0)
    report.invariant("zero wrong identifications", verdicts["wrong"] == 0, f"{verdicts['wrong']}")
    return {
        "library": label,
        "verdicts": dict(verdicts),
        "needs_identification": dict(reasons),
        "unexplained": unexplained,
        "samples": samples,
        "wrong": wrong,
    }


def truth(world: World, movie: Movie) -> dict[str, Any]:
    """The ids the providers hold for ``movie``."""
    ids: dict[str, Any] = {}
    if movie.tmdb_id is not None:
        ids["tmdb"] = movie.tmdb_id
    if movie.imdb_id is not None:
        ids["imdb"] = movie.imdb_id
    if world.tvdb(movie.tvdb_id) is movie:
        ids["tvdb"] = movie.tvdb_id
    return ids


def _verdict(world: World, movie: Movie, result: Mapping[str, Any]) -> str:
    if result["status"] != "identified":
        return (
            "needs identification"
            if result["status"] in ("ambiguous", "not_found", "conflict")
            else "other"
        )
    expected = truth(world, movie)
    got = {k: v for k, v in result["ids"].items() if v is not None}
    if any(k not in expected or expected[k] != v for k, v in got.items()):
        return "wrong"
    return "correct" if set(got) == set(expected) else "correct (partial)"


def _describe(movie: Movie, result: Mapping[str, Any]) -> str:
    why = "; ".join(result["reasons"])[:300]
    got = result["ids"] or {}
    head = f"'{movie.title}' ({movie.year}) truth {Ids(**_plain(truth_ids(movie)))}"
    return f"{head} → {result['status']}" + (f" {got}" if got else "") + f": {why}"


def truth_ids(movie: Movie) -> dict[str, Any]:
    """The movie's own ids (as MovieLens links them)."""
    return {"tmdb": movie.tmdb_id, "imdb": movie.imdb_id, "tvdb": movie.tvdb_id}


def _plain(ids: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ids.items() if v is not None}


# ---------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (library)")
    parser.add_argument("--sizes", default="100,1000,all", help="library sizes ('all' = the world)")
    parser.add_argument("--concurrency", type=int, default=16, help="batch --concurrency (library)")
    parser.add_argument(
        "--per-type", type=int, default=200, help="movies per input type (requests)"
    )
    parser.add_argument("--lookup-latency", type=float, default=0.1, help="seconds (latency)")
    parser.add_argument("--lookup-repeats", type=int, default=5, help="warm lookups per id type")
    parser.add_argument("--levels", default="1,2,4,8,16,32,64", help="concurrency levels")
    parser.add_argument("--rate", type=float, default=20.0, help="TMDB req/s (throughput)")
    parser.add_argument("--tput-latency", type=float, default=0.1, help="seconds (throughput)")
    parser.add_argument("--tput-seconds", type=float, default=20.0, help="target run length")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="which sections to run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="small sizes for a fast look")
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="raw numbers")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--child-lookup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "100,1000"
        args.per_type = 50
        args.lookup_repeats = 3
        args.tput_seconds = 8.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections; 1 when an invariant failed."""
    args = parse_args(argv)
    if args.child_lookup:
        child_lookup()
        return 0
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}")
    started = time.monotonic()
    world = World.load()
    sizes = [len(world) if s.strip() == "all" else int(s) for s in args.sizes.split(",")]
    report = Report()
    print(
        f"# metarr benchmarks — {len(world):,} movies in the simulated world; "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}; {platform.platform()}"
    )
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    work = Path(tempfile.mkdtemp(prefix="metarr-bench-"))
    try:
        warm_up(world, work)
        runs: dict[str, Any] = {}
        if {"library", "memory", "quality"} & set(sections):
            runs = section_library(
                report,
                world,
                work,
                sizes=sizes,
                latency=args.latency,
                concurrency=args.concurrency,
                seed=args.seed,
            )
            results["library"] = {
                label: {
                    phase: {
                        k: v for k, v in asdict(r[phase]).items() if k not in ("results", "series")
                    }
                    for phase in ("cold", "warm")
                }
                for label, r in runs.items()
            }
        if "requests" in sections:
            results["requests"] = section_requests(
                report,
                world,
                work,
                per_type=args.per_type,
                concurrency=args.concurrency,
                seed=args.seed,
            )
        if "latency" in sections:
            results["latency"] = section_latency(
                report,
                world,
                work,
                latency=args.lookup_latency,
                repeats=args.lookup_repeats,
                seed=args.seed,
            )
        if "throughput" in sections:
            results["throughput"] = section_throughput(
                report,
                world,
                work,
                levels=[int(n) for n in args.levels.split(",")],
                latency=args.tput_latency,
                rate=args.rate,
                seconds=args.tput_seconds,
                seed=args.seed,
            )
        if "memory" in sections and runs:
            results["memory"] = section_memory(report, runs)
        if "quality" in sections and runs:
            results["quality"] = section_quality(report, world, runs)
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
    misses = [t["name"] for t in report.targets if not t["pass"]]
    report.heading("Summary")
    report.note(
        f"{len(report.targets) - len(misses)}/{len(report.targets)} targets met"
        + (f"; missed: {', '.join(misses)}" if misses else "")
    )
    report.note(f"invariants: {'all hold' if not report.failures else '; '.join(report.failures)}")
    report.note(f"raw numbers: {args.out}; took {results['seconds']:.0f} s")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
