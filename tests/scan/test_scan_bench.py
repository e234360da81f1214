"""A small run of ``benchmarks/scan_bench.py``, so the benchmark keeps working."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "scan_bench.py"


@pytest.mark.slow
def test_scan_benchmark_runs_and_a_rescan_reads_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("metarr_scan_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.main(["--items", "120", "--identify", "30"]) == 0
    out = capsys.readouterr().out
    assert "120 unchanged of 120 items" in out
    assert ", 0 items read" in out
    assert "cold scan of 30 items against the simulator" in out
    assert "rescan 30 items in" in out and "0 requests (target 0: PASS)" in out
    assert "remembered rescan of 120 identified items" in out
    assert "exit 0, 0 requests" in out
