"""A cold ``metarr lookup`` (nothing cached, every provider asked): what it imports before its
first request. Everything imported before the first connection is start-up the lookup waits
for; a module a lookup by id never uses is imported by the code that needs it, when it does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from metarr import plugins
from metarr.cli import census
from metarr.cli.state import CliState
from metarr.plugins import PluginInfo
from metarr_sim import SimServer

# The modules loaded when the first connection opens (the command's event loop is asked for
# it: uvloop connects in C, out of sight of an audit hook) and when the command ends.
_PROBE = (
    "import json, sys\n"
    "seen = {}\n"
    "def modules():\n"
    "    return [name for name, module in sys.modules.items() if module is not None]\n"
    "import metarr.cli.loop as cli_loop\n"
    "make_runner = cli_loop.runner\n"
    "def runner():\n"
    "    made = make_runner()\n"
    "    loop = made.get_loop()\n"
    "    connect = loop.create_connection\n"
    "    async def first(*args, **kwargs):\n"
    "        seen.setdefault('first', modules())\n"
    "        return await connect(*args, **kwargs)\n"
    "    loop.create_connection = first\n"
    "    return made\n"
    "cli_loop.runner = runner\n"
    "import metarr.__main__ as command\n"
    "ending = command.end\n"
    "def end(code):\n"
    "    seen['end'] = modules()\n"
    "    print('\\nMODULES ' + json.dumps(seen), file=sys.stderr)\n"
    "    ending(code)\n"
    "command.end = end\n"
    "sys.argv = ['metarr', *ARGS]\n"
    "command.run()\n"
)

# Title transliteration (anyascii, ≈ 3 ms with the importlib.resources it loads): a lookup by id
# compares no titles, and an ASCII title needs none.
NEVER_ON_A_LOOKUP_BY_ID = ("anyascii",)


# Entry-point discovery (importlib.metadata reads every installed distribution): the full
# command finds the plugins the census of the last one listed, while it holds.
NOT_BEFORE_THE_FIRST_REQUEST = ("importlib.metadata",)


def _env(sim_server: SimServer, tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "metarr.toml"
    config.write_text("", encoding="utf-8")
    return {
        **os.environ,
        **sim_server.settings_env(),
        "METARR_CONFIG": str(config),
        "METARR_STATE_DIR": str(tmp_path / "state"),
    }


def _cold_lookup(
    env: dict[str, str], tmp_path: Path, imdb: str = "tt0114709"
) -> tuple[set[str], set[str]]:
    """The modules a cold ``lookup --imdb`` had imported at its first connection and at its end."""
    args = ["--db", str(tmp_path / f"{imdb}.sqlite"), "lookup", "--imdb", imdb, "--json"]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.replace("ARGS", repr(args))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    err, _, seen = done.stderr.rpartition("\nMODULES ")
    assert done.returncode == 0, err
    assert json.loads(done.stdout)["status"] == "identified"
    modules = json.loads(seen)
    return set(modules["first"]), set(modules["end"])


def test_a_cold_lookup_by_id_never_imports_title_matching(
    sim_server: SimServer, tmp_path: Path
) -> None:
    first, end = _cold_lookup(_env(sim_server, tmp_path), tmp_path)
    assert {"httpx", "metarr.engine", "metarr.matching"} <= first  # the probe saw the start
    assert end.isdisjoint(NEVER_ON_A_LOOKUP_BY_ID), end & set(NEVER_ON_A_LOOKUP_BY_ID)


def test_a_cold_lookup_finds_its_plugins_from_the_census_before_its_first_request(
    sim_server: SimServer, tmp_path: Path
) -> None:
    env = _env(sim_server, tmp_path)
    first, _ = _cold_lookup(env, tmp_path, "tt0113497")  # no census yet: discovery, then one
    assert "importlib.metadata" in first
    first, _ = _cold_lookup(env, tmp_path)
    assert {"metarr_tmdb", "metarr_omdb", "metarr_tvdb", "metarr_fanart"} <= first
    assert first.isdisjoint(NOT_BEFORE_THE_FIRST_REQUEST), first & set(NOT_BEFORE_THE_FIRST_REQUEST)


def _infos(state: CliState) -> list[tuple[str, str | None, str | None, object, str | None]]:
    return [(i.name, i.distribution, i.version, i.factory, i.error) for i in state.infos()]


def test_the_census_lists_the_plugins_discovery_finds(
    sim_server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _env(sim_server, tmp_path).items():
        monkeypatch.setenv(name, value)
    found = _infos(CliState())
    assert [name for name, *_ in found] == ["fanart", "omdb", "tmdb", "tvdb"]
    assert census.listed_plugins(None) is None  # no census yet
    state = CliState(db=tmp_path / "cache.sqlite")

    async def nothing(orchestrator: object) -> None:
        return None

    state.run(nothing)  # the full command's setup takes the census
    assert census.listed_plugins(None) is not None
    monkeypatch.setattr(plugins, "discover", _no_discovery)
    assert _infos(CliState()) == found


def _no_discovery(env: object = None) -> list[PluginInfo]:
    raise AssertionError("discovered again although the census holds")


def test_a_listed_plugin_that_no_longer_loads_sends_the_command_to_discovery(
    sim_server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _env(sim_server, tmp_path).items():
        monkeypatch.setenv(name, value)
    found = _infos(CliState())

    async def nothing(orchestrator: object) -> None:
        return None

    CliState(db=tmp_path / "cache.sqlite").run(nothing)
    listed = census.read(None)
    assert listed is not None
    facts = {**listed["facts"]}
    facts["plugins"] = [[*entry[:3], "metarr_tmdb.gone:Provider"] for entry in facts["plugins"]]
    census.write(None, facts, listed["files"])
    assert census.listed_plugins(None) is not None
    assert _infos(CliState()) == found


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_is_its_own_transliteration(text: str) -> None:
    """`metarr.matching.normalize_title` skips anyascii for ASCII text: it keeps it as it is."""
    from anyascii import anyascii

    assert anyascii(text) == text


def test_a_plugin_installed_after_the_census_is_discovered(
    sim_server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _env(sim_server, tmp_path).items():
        monkeypatch.setenv(name, value)

    async def nothing(orchestrator: object) -> None:
        return None

    CliState(db=tmp_path / "cache.sqlite").run(nothing)
    assert census.listed_plugins(None) is not None
    site = tmp_path / "site"
    (site / "late_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "late_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: late-plugin\nVersion: 1.0\n", encoding="utf-8"
    )
    (site / "late_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[metarr.providers]\nlate = late_plugin:make\n", encoding="utf-8"
    )
    (site / "late_plugin.py").write_text("def make(context):\n    return None\n")
    monkeypatch.syspath_prepend(str(site))
    found = {info.name: info.version for info in CliState().infos()}
    assert sorted(found) == ["fanart", "late", "omdb", "tmdb", "tvdb"]
    assert found["late"] == "1.0"


@pytest.mark.parametrize(
    "listed",
    [
        "tmdb",
        [["tmdb", "metarr-tmdb", "1.0"]],
        [["tmdb", "metarr-tmdb", "1.0", None]],
        [[None, "metarr-tmdb", "1.0", "metarr_tmdb:TmdbProvider"]],
        [["tmdb", 1, "1.0", "metarr_tmdb:TmdbProvider"]],
    ],
)
def test_a_census_whose_plugin_list_does_not_read_lists_none(
    listed: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "metarr.toml"
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("METARR_CONFIG", str(config))
    monkeypatch.setenv("METARR_STATE_DIR", str(tmp_path / "state"))
    census.write(None, {"plugins": [["tmdb", None, None, "metarr_tmdb:TmdbProvider"]]}, [])
    assert census.listed_plugins(None) == [["tmdb", None, None, "metarr_tmdb:TmdbProvider"]]
    census.write(None, {"plugins": listed}, [])
    assert census.listed_plugins(None) is None
