"""Small runs of ``benchmarks/run.py`` and ``benchmarks/side_by_side.py`` (same code paths: real
`metarr` subprocesses and the plain script against the simulator), so the benchmarks keep
working: tables printed, requests made cold and none warm, no wrong identification, every row
of the side-by-side table measured, the TVDB token kept across processes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
RUN = BENCHMARKS / "run.py"


def load_benchmarks(path: Path = RUN) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"metarr_benchmarks_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_benchmarks_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmarks()
    out = tmp_path / "results.json"
    code = bench.main(
        [
            "--sizes",
            "20",
            "--latency",
            "0",
            "--per-type",
            "8",
            "--sections",
            "library,requests,memory,quality",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    for heading in ("## 1. Libraries", "## 2. Requests per movie", "## 6. Identification"):
        assert heading in printed
    assert "library  run   wall s  movies/s" in printed
    results = json.loads(out.read_text(encoding="utf-8"))
    library = results["library"]["20"]
    cold_requests = sum(sum(c.values()) for c in library["cold"]["requests"].values())
    warm_requests = sum(sum(c.values()) for c in library["warm"]["requests"].values())
    assert cold_requests >= 20 * 3
    assert warm_requests == 0
    assert library["cold"]["peak_rss_mb"] > 0
    for kind, data in results["requests"].items():
        assert data["measured"] > 0, kind
        assert data["warm"] == 0, kind
        assert data["logins"] <= 1, kind  # the TVDB token is kept across processes
    quality = results["quality"]
    assert quality["verdicts"].get("wrong", 0) == 0
    assert quality["unexplained"] == 0
    assert results["failures"] == []


@pytest.mark.slow
def test_side_by_side_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmarks(BENCHMARKS / "side_by_side.py")
    out = tmp_path / "side.json"
    code = bench.main(["--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "figure" in printed
    assert "today (main)" in printed
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["failures"] == []
    assert len(results["targets"]) == 9  # every row of the table
    cpu = results["cpu"]
    assert cpu["metarr_ms"] > 0
    assert cpu["script_ms"] > 0
    assert cpu["script_found"] == cpu["movies"]
    assert cpu["pairs"] == 1  # --quick: one pair, whose ratio is the median
    assert cpu["ratio"] == pytest.approx(cpu["metarr_ms"] / cpu["script_ms"])
    throughput = results["throughput"]
    assert throughput["metarr_per_s"] > 0
    assert throughput["script_per_s"] > 0
    assert 5 <= throughput["script_requests"] <= 7  # find, details, omdb, fanart, tvdb × 1–2
    assert throughput["metarr_requests"] <= throughput["script_requests"] + 1e-9
    for name in ("version", "lookup", "show"):
        assert results["startup"][name]["ratio"] > 1
        assert results["startup"][name]["requests"] == 0  # answered from the cache
    cold = results["cold"]
    assert cold["first_logins"] == 1
    assert cold["logins_after_first"] == 0  # later processes reuse the kept TVDB token
    assert cold["cold_s"] > cold["cached_s"]
    assert cold["full_cached_s"] > cold["cached_s"]  # the cached read bypassed: the full command
    cache = results["cache"]
    assert cache["movies"] == cpu["movies"]
    assert cache["kb_per_movie"] > 0
    assert cache["get_ms"] > 0
