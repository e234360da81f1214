"""A first run is clean: the README's quick start is its two commands, and the environment they
build holds the four bundled providers and no test fixture (the example plugin)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from metarr_sim import SimServer, World

ROOT = Path(__file__).resolve().parents[1]
METARR = Path(sys.executable).with_name("metarr")
BUNDLED = {"tmdb", "omdb", "fanart", "tvdb"}


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_quick_start_holds_exactly_its_two_commands() -> None:
    blocks = re.findall(r"```(\w*)\n(.*?)```", _section("Quick start"), flags=re.DOTALL)
    assert [(kind, body.splitlines()) for kind, body in blocks] == [
        ("bash", ["uv run metarr demo", "uv run pytest"])
    ]
    assert "METARR_TMDB_API_KEY" in _section("Using the real services")


def test_the_example_plugin_is_not_installed() -> None:
    with pytest.raises(PackageNotFoundError):
        distribution("metarr-example")
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "metarr-example" not in " ".join(root["dependency-groups"]["dev"])
    assert "metarr-example" not in root["project"]["dependencies"]


@pytest.mark.slow
def test_a_user_sees_only_the_bundled_providers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
    listed = subprocess.run(
        [str(METARR), "plugins", "--json"], env=env, capture_output=True, timeout=60, check=True
    )
    assert {row["name"] for row in json.loads(listed.stdout)} == BUNDLED
    with SimServer(World.load()) as sim:
        env.update(sim.settings_env(), METARR_DB=str(tmp_path / "c.sqlite"))
        done = subprocess.run(
            [str(METARR), "lookup", "--tmdb", "603", "--json"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["providers"]) == BUNDLED
