"""A small run of ``benchmarks/refresh_bench.py``: both scenarios run against the simulator,
no refresh loses or unsettles a movie, and the new rules cost fewer requests than the old."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "refresh_bench.py"


@pytest.mark.slow
def test_refresh_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("metarr_refresh_bench", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    out = tmp_path / "refresh.json"
    assert bench.main(["--movies", "40", "--days", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| all |" in printed
    results = json.loads(out.read_text())
    before, after = (results["scenarios"][s]["per_day"] for s in ("before", "after"))
    assert sum(before.values()) > 0
    assert sum(after.values()) < sum(before.values())
    assert before["fanart"] == 40  # Fanart.tv's one-day TTL: the whole library every day
    assert results["scenarios"]["before"]["feed"] == 0 < results["scenarios"]["after"]["feed"]
