"""The installed ``metarr`` executable, run as a subprocess against the simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from metarr_sim import Knobs, SimServer, World

pytestmark = pytest.mark.slow

EXECUTABLE = Path(sys.executable).with_name("metarr")


@pytest.fixture(scope="module")
def world() -> World:
    """The bundled simulated world, loaded once."""
    return World.load()


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """The environment without METARR_* settings or a user config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    home = str(tmp_path / "home")
    env.update(HOME=home, XDG_CONFIG_HOME=home, XDG_DATA_HOME=home, NO_COLOR="1")
    return env


@pytest.fixture
def sim(world: World) -> Iterator[SimServer]:
    with SimServer(world) as server:
        yield server


def metarr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert EXECUTABLE.exists(), f"the metarr console script is not installed at {EXECUTABLE}"
    return subprocess.run(
        [str(EXECUTABLE), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_python_m_metarr(base_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "metarr", "--version"],
        env=base_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("metarr ")


def test_plugins_with_no_config_and_no_keys(base_env: dict[str, str]) -> None:
    done = metarr(base_env, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert {"tmdb", "omdb", "fanart", "tvdb"} <= set(rows)
    assert all(row["state"] == "disabled" and row["reason"] for row in rows.values())


def test_lookup_identify_and_exit_codes(
    base_env: dict[str, str], sim: SimServer, tmp_path: Path
) -> None:
    env = {**base_env, **sim.settings_env(), "METARR_DB": str(tmp_path / "e2e.sqlite")}
    done = metarr(env, "lookup", "--tmdb", "603", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["movie"]["title"] == "The Matrix"
    sent = sim.total()
    assert metarr(env, "lookup", "--imdb", "tt0133093").returncode == 0
    assert sim.total() == sent  # cached and fresh
    bad = metarr(env, "lookup", "--imdb", "nonsense")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")
    ambiguous = metarr(env, "identify", "War of the Worlds", "--year", "2005")
    assert ambiguous.returncode == 3
    assert "ambiguous" in ambiguous.stdout
    for key in sim.settings_env().values():
        if "://" not in key:
            assert key not in done.stdout + done.stderr + ambiguous.stdout


def test_demo_twice_second_run_sends_nothing(base_env: dict[str, str], tmp_path: Path) -> None:
    db = str(tmp_path / "demo.sqlite")
    first = metarr(base_env, "--db", db, "demo", "--latency", "0")
    assert first.returncode == 0, first.stderr
    assert "The Matrix (1999)" in first.stdout
    second = metarr(base_env, "--db", db, "demo", "--latency", "0")
    assert second.returncode == 0, second.stderr
    assert "requests the simulated providers received: none" in second.stdout


def test_batch_ctrl_c_exits_130_with_summary(
    base_env: dict[str, str], world: World, tmp_path: Path
) -> None:
    tmdb_ids = [m.tmdb_id for m in world if m.tmdb_id][:80]
    library = tmp_path / "lib.csv"
    library.write_text("tmdb_id\n" + "".join(f"{n}\n" for n in tmdb_ids), encoding="utf-8")
    with SimServer(world, knobs={"*": Knobs(latency=0.15)}) as server:
        env = {**base_env, **server.settings_env(), "METARR_DB": str(tmp_path / "b.sqlite")}
        process = subprocess.Popen(
            [str(EXECUTABLE), "batch", str(library), "--concurrency", "2", "--no-progress"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        first = process.stdout.readline()  # the first row is done: interrupt mid-run
        assert first.startswith("line"), first
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, err = process.communicate(timeout=30)
        assert time.monotonic() - started < 15
    assert process.returncode == 130, err
    assert "interrupted: finishing the rows in flight" in err
    assert "stopped early by Ctrl-C" in out
    assert "Traceback" not in err
    finished = 1 + sum(line.startswith("line") for line in out.splitlines())
    assert finished < len(tmdb_ids)


# -- retries, configuration -------------------------------------------------------------------


def test_retries_are_silent_without_debug_and_shown_with_it(
    base_env: dict[str, str], world: World, tmp_path: Path
) -> None:
    knobs = {"omdb": Knobs(fault_rate=1.0, faults=("500",))}
    with SimServer(world, knobs=knobs) as server:
        env = {**base_env, **server.settings_env(), "METARR_DB": str(tmp_path / "r.sqlite")}
        quiet = metarr(env, "lookup", "--tmdb", "603")
        loud = metarr(env, "--debug", "lookup", "--tmdb", "862")
        omdb_requests = sum(server.counts()["omdb"].values())
    assert quiet.returncode == 0, quiet.stderr
    assert omdb_requests >= 4  # each lookup asked OMDb again after its 500
    assert "stamina" not in quiet.stderr and "retry" not in quiet.stderr
    assert quiet.stderr == ""
    assert "DEBUG stamina: stamina.retry_scheduled: retry 1" in loud.stderr
    assert "UnavailableError" in loud.stderr


def test_an_empty_variable_leaves_the_config_file_key_in_force(
    base_env: dict[str, str], sim: SimServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[providers.tmdb]\napi_key = "{sim.keys.tmdb_api_key}"\n')
    config.chmod(0o600)
    env = {**base_env, **sim.settings_env(), "METARR_CONFIG": str(config)}
    env["METARR_TMDB_API_KEY"] = ""
    env["METARR_DB"] = str(tmp_path / "c.sqlite")
    done = metarr(env, "lookup", "--tmdb", "603", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["providers"]["tmdb"] == "ok"
    assert done.stderr == ""  # a private file: no warning


def test_a_readable_config_file_with_secrets_is_warned_about_once(
    base_env: dict[str, str], sim: SimServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[providers.omdb]\napi_key = "{sim.keys.omdb_api_key}"\n')
    config.chmod(0o644)
    env = {**base_env, **sim.settings_env(), "METARR_DB": str(tmp_path / "c.sqlite")}
    done = metarr(env, "--config", str(config), "lookup", "--tmdb", "603")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"metarr: warning: config file {config} holds secrets (providers.omdb.api_key) and its "
        f"group and others can read it: run chmod 600 {config}"
    ]
    assert sim.keys.omdb_api_key not in done.stderr


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("short", "is 5 characters long"),
        ("two words", "whitespace"),
        ("a\u200bkey12345", "control"),
    ],
)
def test_an_unusable_key_is_one_clear_error(
    base_env: dict[str, str], tmp_path: Path, value: str, words: str
) -> None:
    env = {**base_env, "METARR_OMDB_API_KEY": value, "METARR_DB": str(tmp_path / "c.sqlite")}
    done = metarr(env, "lookup", "--tmdb", "603")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "METARR_OMDB_API_KEY" in done.stderr and words in done.stderr


def _with_stdout_closed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run metarr with a stdout whose reader has already gone (``metarr … | head -0``)."""
    read, write = os.pipe()
    os.close(read)  # every write to stdout now fails with EPIPE
    try:
        return subprocess.run(
            [str(EXECUTABLE), *args],
            env=env,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)


def test_a_closed_stdout_ends_any_command_quietly_with_141(
    base_env: dict[str, str], sim: SimServer, tmp_path: Path
) -> None:
    env = {**base_env, **sim.settings_env(), "METARR_DB": str(tmp_path / "pipe.sqlite")}
    assert metarr(env, "lookup", "--tmdb", "603").returncode == 0
    for args in (
        ("cache", "show", "tmdb:603"),
        ("lookup", "--tmdb", "603", "--json"),
        ("search", "The Matrix"),
        ("plugins",),
        ("--help",),
        ("cache", "--help"),
    ):
        done = _with_stdout_closed(env, *args)
        assert (done.returncode, done.stderr) == (141, ""), args
