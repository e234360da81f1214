"""A small run of ``benchmarks/run.py`` (same code path: real `metarr batch` subprocesses
against the simulator), so the benchmarks keep working: tables printed, requests made cold and
none warm, no wrong identification."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def load_benchmarks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("metarr_benchmarks_run", RUN)
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
