"""A small run of ``benchmarks/engine_bench.py``: it records the simulator's answers, replays
them without sockets in child processes (this tree, and the same tree given as ``--main`` so
the other-checkout path runs too) and finds the outcomes identical."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_engine_bench_smoke(tmp_path: Path) -> None:
    recording = tmp_path / "recording.pickle"
    command = [sys.executable, str(ROOT / "benchmarks" / "engine_bench.py"), "--movies", "24"]
    command += ["--runs", "1", "--recording", str(recording), "--main", str(ROOT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "outcomes identical across trees and runs"
    assert [line.split()[:2] for line in lines[:-1]] == [["main", "24"], ["this", "24"]]
    assert all("outside ProviderHttp.request" in line for line in lines[:-1])
    assert recording.stat().st_size > 24 * 4_000  # every provider's answers were recorded
