"""The typed example host program runs against the simulator and passes ``mypy --strict``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from metarr_sim import SimServer

pytestmark = pytest.mark.slow

APP = Path(__file__).with_name("example_app.py")
ROOT = Path(__file__).resolve().parents[2]


def test_the_example_host_program_runs_against_the_simulator(
    sim_server: SimServer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    env.update(sim_server.settings_env())
    done = subprocess.run(
        [sys.executable, str(APP), str(tmp_path / "host.sqlite")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    steps = {
        line.split()[1]: line.split(" ", 2)[2]
        for line in done.stdout.splitlines()
        if line.startswith("STEP ")
    }
    assert (
        steps["scan"]
        == "6 ambiguous identified identified identified identified identified queued=1"
    )
    assert steps["threads"] == "24 identified cached=24"
    assert "unknown provider 'tmbd'" in steps["typo"]
    assert steps["search-down"] == ("error candidates=0 omdb=error,tmdb=error,tvdb=error")
    assert steps["logging"] == "untouched=True"
    assert "HOSTLOG httpx" in done.stdout  # the host's logging shows metarr's HTTP requests...
    for key in (
        sim_server.keys.tmdb_api_key,
        sim_server.keys.omdb_api_key,
        sim_server.keys.fanart_api_key,
        sim_server.keys.tvdb_api_key,
    ):
        assert key not in done.stdout + done.stderr  # ...with no key given in code in them


def test_the_example_host_program_is_clean_under_mypy_strict() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(APP)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
