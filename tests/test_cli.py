"""The ``metarr`` command through click's CliRunner, against the in-process simulator."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import metarr
import pytest
import stamina
from click.testing import CliRunner, Result
from metarr.cli import CliState, exits, main
from metarr.ids import Ids
from metarr.models import ProviderResult
from metarr.orchestrator import Orchestrator
from metarr.plugins import PluginInfo
from metarr_sim import Knobs, SimServer, World


@pytest.fixture(scope="session")
def world() -> World:
    """The bundled simulated world, loaded once."""
    return World.load()


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, no METARR_* variables, no retry sleeps."""
    for name in list(os.environ):
        if name.startswith("METARR_"):
            monkeypatch.delenv(name)
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "home"))
    stamina.set_testing(True, attempts=1)
    yield tmp_path
    stamina.set_testing(False)


@pytest.fixture
def sim(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    with SimServer(world) as server:
        for key, value in server.settings_env().items():
            monkeypatch.setenv(key, value)
        yield server


def start(world: World, monkeypatch: pytest.MonkeyPatch, **knobs: Any) -> SimServer:
    server = SimServer(world, knobs={"*": Knobs(**knobs)}).start()
    for key, value in server.settings_env().items():
        monkeypatch.setenv(key, value)
    return server


class Cli:
    """Runs ``metarr --db <tmp> …`` in-process."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def __call__(self, *args: str, obj: CliState | None = None, input: str | None = None) -> Result:
        return CliRunner().invoke(
            main, ["--db", str(self.db), *args], obj=obj, input=input, catch_exceptions=False
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "cache.sqlite")


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# -- exit codes ---------------------------------------------------------------------------


def test_exit_codes_by_status() -> None:
    assert exits.for_status("identified") == 0
    for status in ("ambiguous", "not_found", "conflict"):
        assert exits.for_status(status) == 3
    assert exits.for_status("rate_limited") == 4
    assert exits.for_status("error") == 5
    assert exits.for_status("blocked") == 2
    assert exits.worst([0, 3, 4]) == 4
    assert exits.worst([4, 5, 3]) == 5
    assert exits.worst([]) == 0


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"metarr {metarr.__version__}"


# -- plugins ------------------------------------------------------------------------------


def test_plugins_without_any_config(cli: Cli) -> None:
    result = cli("plugins")
    assert result.exit_code == 0, result.output
    for name in ("tmdb", "omdb", "fanart", "tvdb"):
        assert f"{name}: no api_key" in result.stdout
    data = json.loads(cli("plugins", "--json").stdout)
    tmdb = next(row for row in data if row["name"] == "tmdb")
    assert tmdb["state"] == "disabled"
    assert "METARR_TMDB_API_KEY" in tmdb["reason"]
    assert tmdb["distribution"] == "metarr-tmdb"
    assert "search" in tmdb["hooks"]
    assert tmdb["id_types"] == ["tmdb", "imdb"]


def test_plugins_enabled_and_broken(cli: Cli, sim: SimServer) -> None:
    data = json.loads(cli("plugins", "--json").stdout)
    states = {row["name"]: row["state"] for row in data}
    assert states["tmdb"] == states["omdb"] == "enabled"
    broken = CliState(plugins=[PluginInfo(name="bad", error="failed to load: ImportError: nope")])
    result = cli("plugins", obj=broken)
    assert result.exit_code == 7  # exits.PLUGIN while a plugin is broken
    assert "broken" in result.stdout
    assert "bad: failed to load: ImportError: nope" in result.stdout


def test_plugins_with_a_bad_config_still_lists(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = not toml [", encoding="utf-8")
    result = cli("--config", str(bad), "plugins")
    assert result.exit_code == 0
    assert "configuration not loaded" in result.stderr


# -- lookup -------------------------------------------------------------------------------


def test_lookup_prints_provenance_and_caches(cli: Cli, sim: SimServer) -> None:
    result = cli("lookup", "--tmdb", "603")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "The Matrix (1999)" in out
    assert "identified" in out
    assert "tmdb id" in out and "images poster" in out and "cast" in out
    assert "requests   " in out
    sent = sim.total()
    assert sent > 0
    again = cli("lookup", "--imdb", "tt0133093", "--json")
    assert again.exit_code == 0
    assert sim.total() == sent  # fresh in the cache: no request
    data = json.loads(again.stdout)
    assert data["status"] == "identified"
    assert data["movie"]["ids"]["tmdb"] == 603
    assert data["movie"]["provenance"]["title"] in ("tmdb", "omdb")
    cli("lookup", "--tmdb", "603", "--refresh")
    assert sim.total() > sent


def test_lookup_bad_and_missing_ids(cli: Cli) -> None:
    result = cli("lookup", "--imdb", "tt12")
    assert result.exit_code == 2
    assert "IMDb id" in one_error_line(result)
    result = cli("lookup")
    assert result.exit_code == 2
    assert "--tmdb" in one_error_line(result)


def test_lookup_not_found_is_3(cli: Cli, sim: SimServer) -> None:
    result = cli("lookup", "--tmdb", "2000000000")
    assert result.exit_code == 3
    assert "not_found" in result.stdout


def test_secrets_never_printed(cli: Cli, sim: SimServer) -> None:
    result = cli("--debug", "lookup", "--tmdb", "603")
    assert result.exit_code == 0
    text = result.stdout + result.stderr
    assert "DEBUG" in result.stderr
    for key in (sim.keys.tmdb_api_key, sim.keys.omdb_api_key, sim.keys.fanart_api_key):
        assert key not in text


# -- identify -----------------------------------------------------------------------------


def test_identify_identified_explain(cli: Cli, sim: SimServer) -> None:
    result = cli("identify", "Heat", "--year", "1995", "--explain")
    assert result.exit_code == 0, result.output
    assert "Heat (1995)" in result.stdout
    assert "identified by search" in result.stdout


def test_identify_ambiguous_lists_candidates(cli: Cli, sim: SimServer) -> None:
    result = cli("identify", "War of the Worlds", "--year", "2005", "--explain")
    assert result.exit_code == 3
    assert "ambiguous" in result.stdout
    assert "title dist" in result.stdout and "year exact" in result.stdout
    data = json.loads(cli("identify", "War of the Worlds", "--year", "2005", "--json").stdout)
    assert data["status"] == "ambiguous"
    assert len(data["candidates"]) == 2
    assert set(data["candidates"][0]["components"]) == {"title", "year"}


def test_identify_not_found(cli: Cli, sim: SimServer) -> None:
    result = cli("identify", "Zzyzx Qwertyuiop Nonesuch", "--year", "1999")
    assert result.exit_code == 3
    assert "not_found" in result.stdout


def test_identify_blocked_without_tmdb(cli: Cli, sim: SimServer) -> None:
    result = cli("--without", "tmdb", "identify", "Heat")
    assert result.exit_code == 2
    assert "tmdb_policy" in one_error_line(result)
    result = cli("--without", "tmdb", "identify", "Heat", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["status"] == "blocked"


def test_identify_rate_limited_is_4(
    cli: Cli,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with start(world, monkeypatch, daily_quota=0):
        result = cli("identify", "Heat", "--year", "1995", "--json")
    assert result.exit_code == 4, result.output
    assert json.loads(result.stdout)["status"] == "rate_limited"


def test_identify_provider_error_is_5(
    cli: Cli,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with start(world, monkeypatch, fault_rate=1.0, faults=("500",)):
        result = cli("identify", "Heat", "--year", "1995")
    assert result.exit_code == 5, result.output
    assert "error" in result.stdout


# -- search, queue, resolve ---------------------------------------------------------------


def test_search_lists_and_chooses(cli: Cli, sim: SimServer) -> None:
    result = cli("search", "Heat", "--year", "1995")
    assert result.exit_code == 0
    assert " 1  Heat (1995)" in result.stdout and "tmdb:949" in result.stdout
    listed = json.loads(cli("search", "Heat", "--json").stdout)
    assert listed["status"] == "ok"
    assert any(c["ids"]["tmdb"] == 949 for c in listed["candidates"])
    chosen = cli("search", "Heat", "--year", "1995", "--choose", "1")
    assert chosen.exit_code == 0, chosen.output
    assert "Heat (1995)" in chosen.stdout
    assert cli("cache", "show", "tmdb:949").exit_code == 0


def test_search_pick_needs_a_terminal(cli: Cli, sim: SimServer) -> None:
    result = cli("search", "War of the Worlds", "--year", "2005", "--pick", input="2\n")
    assert result.exit_code == 2, result.output
    assert "asks a person at a terminal" in one_error_line(result)
    assert sim.total() == 0  # refused before any request


def test_search_bad_choice_and_nothing_found(cli: Cli, sim: SimServer) -> None:
    result = cli("search", "Heat", "--year", "1995", "--choose", "9")
    assert result.exit_code == 2
    one_error_line(result)
    result = cli("search", "Zzyzx Qwertyuiop Nonesuch")
    assert result.exit_code == 3
    nothing = json.loads(cli("search", "Zzyzx Qwertyuiop Nonesuch", "--json").stdout)
    assert (nothing["status"], nothing["candidates"]) == ("ok", [])


WOTW_KEY = 'title:"War of the Worlds" year:2005'  # derived from the input as given


def test_queue_and_resolve(cli: Cli, sim: SimServer) -> None:
    assert cli("queue").stdout.strip() == "nothing needs a person"
    cli("identify", "War of the Worlds", "--year", "2005")
    result = cli("queue")
    assert WOTW_KEY in result.stdout
    assert "metarr resolve" in result.stdout
    queued = json.loads(cli("queue", "--json").stdout)
    assert queued[0]["status"] == "ambiguous"
    assert len(queued[0]["candidates"]) == 2
    resolved = cli("resolve", WOTW_KEY, "--tmdb", "74", "--json")
    assert resolved.exit_code == 0, resolved.output
    assert json.loads(resolved.stdout)["movie"]["ids"]["tmdb"] == 74
    assert json.loads(cli("queue", "--json").stdout) == []
    # a person's choice sticks: the same title is now identified from the cache
    sent = sim.total()
    again = cli("identify", "War of the Worlds", "--year", "2005", "--json")
    assert json.loads(again.stdout)["movie"]["ids"]["tmdb"] == 74
    assert sim.total() == sent


def test_resolve_to_a_movie_already_cached(cli: Cli, sim: SimServer) -> None:
    cli("lookup", "--tmdb", "34812")
    cli("identify", "War of the Worlds", "--year", "2005")
    resolved = cli("resolve", WOTW_KEY, "--tmdb", "34812")
    assert resolved.exit_code == 0, resolved.output
    assert json.loads(cli("queue", "--json").stdout) == []
    sent = sim.total()
    again = cli("identify", "War of the Worlds", "--year", "2005", "--json")
    assert json.loads(again.stdout)["movie"]["ids"]["tmdb"] == 34812
    assert sim.total() == sent


def test_resolve_needs_ids(cli: Cli) -> None:
    result = cli("resolve", "some-key")
    assert result.exit_code == 2
    one_error_line(result)


# -- cache, refresh, remerge, identities --------------------------------------------------


def test_cache_show_stats_prune_export(cli: Cli, sim: SimServer, tmp_path: Path) -> None:
    cli("lookup", "--tmdb", "603")
    shown = cli("cache", "show", "imdb:tt0133093")
    assert shown.exit_code == 0
    assert "The Matrix" in shown.stdout and "fresh" in shown.stdout
    assert cli("cache", "show", "tt0133093").exit_code == 0
    assert json.loads(cli("cache", "show", "tmdb:603", "--json").stdout)["ids"]["tmdb"] == 603
    bare = cli("cache", "show", "603")
    assert bare.exit_code == 2
    assert "tmdb:603" in one_error_line(bare)
    missing = cli("cache", "show", "tvdb:1")
    assert missing.exit_code == 3
    one_error_line(missing)
    stats = cli("cache", "stats")
    assert stats.exit_code == 0 and "movies" in stats.stdout
    assert json.loads(cli("cache", "stats", "--json").stdout)["movies"] == 1
    pruned = json.loads(cli("cache", "prune", "--json").stdout)
    assert "orphaned_rows" in pruned
    assert cli("cache", "prune").exit_code == 0
    lines = cli("cache", "export").stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["ids"]["imdb"] == "tt0133093"
    target = tmp_path / "movies.jsonl"
    exported = cli("cache", "export", str(target))
    assert "exported 1 movies" in exported.stderr
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == "The Matrix"


def test_refresh_and_remerge(cli: Cli, sim: SimServer) -> None:
    cli("lookup", "--tmdb", "603")
    sent = sim.total()
    stale = cli("refresh", "--stale")
    assert stale.exit_code == 0 and "nothing to refresh" in stale.stdout
    assert cli("refresh", "--incomplete").exit_code == 0
    assert sim.total() == sent
    refreshed = cli("refresh", "tmdb:603")
    assert refreshed.exit_code == 0, refreshed.output
    assert "identified" in refreshed.stdout
    assert sim.total() > sent
    line = json.loads(cli("refresh", "tmdb:603", "--json").stdout.splitlines()[0])
    assert line["ref"] == "tmdb:603" and line["status"] == "identified"
    sent = sim.total()
    remerged = cli("remerge")
    assert remerged.stdout.strip() == "remerged 1 movies (0 requests)"
    remerged_json = json.loads(cli("remerge", "tmdb:603", "--json").stdout)
    assert remerged_json == {"remerged": 1, "requests": 0, "unreadable": []}
    assert sim.total() == sent
    usage = cli("refresh")
    assert usage.exit_code == 2
    one_error_line(usage)


def test_identities_round_trip(cli: Cli, sim: SimServer, tmp_path: Path) -> None:
    cli("identify", "Heat", "--year", "1995")
    target = tmp_path / "ids.jsonl"
    assert cli("identities", "export", str(target)).exit_code == 0
    line = json.loads(target.read_text(encoding="utf-8").splitlines()[0])
    assert line["key"] == 'title:"Heat" year:1995' and line["ids"]["tmdb"] == 949
    other = Cli(tmp_path / "other.sqlite")
    imported = other("identities", "import", str(target))
    assert imported.exit_code == 0 and "imported 1 identities" in imported.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    result = other("identities", "import", str(bad))
    assert result.exit_code == 2
    assert "nothing was imported" in one_error_line(result)
    missing = other("identities", "import", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2


# -- provider -----------------------------------------------------------------------------


def test_provider_lookup_search_ids(cli: Cli, sim: SimServer) -> None:
    result = cli("provider", "tmdb", "lookup", "--tmdb", "603")
    assert result.exit_code == 0, result.output
    assert "raw response" in result.stdout and "parsed" in result.stdout
    assert sim.keys.tmdb_api_key not in result.stdout
    data = json.loads(cli("provider", "omdb", "lookup", "--imdb", "tt0133093", "--json").stdout)
    assert data["result"]["title"] == "The Matrix" and "raw" in data
    found = cli("provider", "omdb", "search", "Heat", "--year", "1995")
    assert found.exit_code == 0
    assert "apikey=***" in found.stdout and "tt0113277" in found.stdout
    hits = json.loads(cli("provider", "tmdb", "search", "Heat", "--json").stdout)["result"]
    assert any(h["ids"]["tmdb"] == 949 for h in hits)
    ids = cli("provider", "tvdb", "ids", "--imdb", "tt0133093")
    assert ids.exit_code == 0, ids.output
    assert "extract_ids" in ids.stdout and "imdb:tt0133093" in ids.stdout


def test_provider_errors(cli: Cli, sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("provider", "nosuch", "lookup", "--tmdb", "1").exit_code == 2
    assert cli("provider", "fanart", "search", "Heat").exit_code == 2
    assert cli("provider", "tmdb", "lookup", "--tmdb", "2000000000").exit_code == 3
    monkeypatch.delenv("METARR_OMDB_API_KEY")
    disabled = cli("provider", "omdb", "lookup", "--imdb", "tt0133093")
    assert disabled.exit_code == 2
    assert "METARR_OMDB_API_KEY" in one_error_line(disabled)


def test_provider_base_url_override(
    cli: Cli, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METARR_TMDB_BASE_URL")
    url = sim.base_urls()["tmdb"]
    result = cli("provider", "tmdb", "lookup", "--tmdb", "603", "--base-url", url)
    assert result.exit_code == 0, result.output
    result = cli("provider", "--base-url", url, "tmdb", "lookup", "--tmdb", "603", "--json")
    assert json.loads(result.stdout)["result"]["ids"]["tmdb"] == 603
    bad = cli("provider", "tmdb", "lookup", "--tmdb", "603", "--base-url", "ftp://x")
    assert bad.exit_code == 2


# -- global errors ------------------------------------------------------------------------


def test_config_errors_are_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "missing.toml"), "lookup", "--tmdb", "603")
    assert result.exit_code == 2
    assert "does not exist" in one_error_line(result)
    result = cli("--only", "nosuch", "lookup", "--tmdb", "603")
    assert result.exit_code == 2
    assert "unknown provider" in one_error_line(result)


def test_unexpected_errors_are_1_and_debug_shows_traceback(
    cli: Cli, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(self: Orchestrator, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(Orchestrator, "run", boom)
    result = cli("lookup", "--tmdb", "603")
    assert result.exit_code == 1
    assert "RuntimeError: boom" in one_error_line(result)
    debug = cli("--debug", "lookup", "--tmdb", "603")
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr


def test_keyboard_interrupt_is_130(
    cli: Cli, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(self: Orchestrator, *args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Orchestrator, "run", interrupted)
    result = cli("lookup", "--tmdb", "603")
    assert result.exit_code == 130
    assert one_error_line(result) == "error: interrupted"


# -- batch --------------------------------------------------------------------------------


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_batch_csv_all_identified_then_zero_requests(
    cli: Cli, sim: SimServer, tmp_path: Path
) -> None:
    library = write(
        tmp_path / "lib.csv",
        "\ufefftmdb_id,imdb_id,tvdb_id,title,year,key\n"
        "603,,,,,matrix\n"
        ",tt0113277,,,,\n"
        ",,158244,,,\n"
        "\n"
        ",,,Alien,1979,\n",
    )
    result = cli("batch", str(library))
    assert result.exit_code == 0, result.output
    assert result.stdout.count("identified") >= 4
    assert "requests" in result.stdout and "movies/s" in result.stdout
    sent = sim.total()
    rerun = cli("batch", str(library), "--json")
    assert rerun.exit_code == 0
    assert sim.total() == sent  # resumable: everything cached and fresh
    rows = [json.loads(line) for line in rerun.stdout.splitlines()]
    assert sorted(r["line"] for r in rows) == [2, 3, 4, 6]
    matrix = next(r for r in rows if r["line"] == 2)
    assert matrix["key"] == "matrix" and matrix["input"] == {"tmdb_id": 603, "key": "matrix"}
    assert matrix["status"] == "identified" and matrix["movie"]["title"] == "The Matrix"
    assert "requests  none" in rerun.stderr  # the summary goes to stderr with --json


def test_batch_bad_lines_are_reported_and_skipped(cli: Cli, sim: SimServer, tmp_path: Path) -> None:
    library = write(
        tmp_path / "lib.csv",
        b"imdb_id,title,year\n"
        b"tt0133093,,\n"
        b"not-an-id,,\n"
        b",Caf\xe9,1999\n"
        b"tt0113277,Heat,1995,extra\n"
        b",,\n"
        b",War of the Worlds,2005\n",
    )
    result = cli("batch", str(library), "--concurrency", "2")
    assert result.exit_code == 2, result.output  # bad lines outrank "needs a person"
    err = result.stderr
    assert "line 3:" in err and "IMDb id" in err
    assert "line 4: not UTF-8" in err
    assert "line 5: 4 fields but the header has 3" in err
    assert "line 6: nothing to identify" in err
    assert "ambiguous" in result.stdout and "invalid" in result.stdout


def test_batch_jsonl_and_exit_3(cli: Cli, sim: SimServer, tmp_path: Path) -> None:
    library = write(
        tmp_path / "lib.jsonl",
        '{"tmdb_id": 603}\n{"title": "War of the Worlds", "year": 2005}\n',
    )
    result = cli("batch", str(library), "--json")
    assert result.exit_code == 3
    statuses = {json.loads(line)["status"] for line in result.stdout.splitlines()}
    assert statuses == {"identified", "ambiguous"}
    sent = sim.total()
    again = cli("batch", str(library))
    assert again.exit_code == 3
    assert "queued for a person" in again.stdout
    assert sim.total() == sent  # a queued row is not searched again by default
    cli("batch", str(library), "--retry-queued")
    assert sim.total() > sent
    bad = write(tmp_path / "bad.jsonl", '{"tmdb_id": 603}\n[1, 2]\n{oops\n')
    result = cli("batch", str(bad))
    assert result.exit_code == 2
    assert "line 2: expected a JSON object" in result.stderr
    assert "line 3: bad JSON" in result.stderr


def test_batch_file_errors(cli: Cli, tmp_path: Path) -> None:
    missing = cli("batch", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    assert "cannot read" in one_error_line(missing)
    odd = write(tmp_path / "lib.txt", "tmdb_id\n603\n")
    assert "--format" in one_error_line(cli("batch", str(odd)))
    header = write(tmp_path / "lib.csv", "name,size\nfoo,1\n")
    result = cli("batch", str(header))
    assert result.exit_code == 2
    assert "header" in one_error_line(result)
    assert cli("batch", "-").exit_code == 2


def test_batch_stdin(cli: Cli, sim: SimServer) -> None:
    result = cli("batch", "-", "--format", "jsonl", "--json", input='{"imdb_id": "tt0133093"}\n')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["movie"]["ids"]["tmdb"] == 603


def test_batch_json_lines_are_compact_like_scan(cli: Cli, sim: SimServer) -> None:
    from metarr.cli.output import json_line

    result = cli("batch", "-", "--format", "jsonl", "--json", input='{"imdb_id": "tt0133093"}\n')
    assert result.exit_code == 0, result.output
    line = result.stdout.removesuffix("\n")
    assert line.startswith('{"line":1,"key":"imdb:tt0133093","input":{"imdb_id":"tt0133093"},')
    assert line == json_line(json.loads(line))  # one compact line, orjson's form


def test_batch_rate_limited_4_and_error_5(
    cli: Cli,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    library = write(tmp_path / "lib.csv", "title,year\nHeat,1995\n")
    with start(world, monkeypatch, daily_quota=0):
        result = cli("batch", str(library))
    assert result.exit_code == 4, result.output
    assert "429s" in result.stdout
    with start(world, monkeypatch, fault_rate=1.0, faults=("500",)):
        result = cli("batch", str(library), "--retry-queued")
    assert result.exit_code in (4, 5), result.output  # the earlier 429 may still pause a provider


def test_batch_blocked_is_2(cli: Cli, sim: SimServer, tmp_path: Path) -> None:
    library = write(tmp_path / "lib.csv", "tmdb_id\n603\n550\n")
    result = cli("--without", "tmdb", "batch", str(library))
    assert result.exit_code == 2
    assert "tmdb_policy" in result.stderr


def test_batch_progress_line(cli: Cli, sim: SimServer, tmp_path: Path) -> None:
    library = write(tmp_path / "lib.csv", "tmdb_id\n603\n")
    result = cli("batch", str(library), "--progress")
    assert result.exit_code == 0
    assert "\r1 rows · identified 1" in result.stderr
    assert "line" not in result.stdout.split("batch")[0]  # identified rows: progress only


class Interrupting(metarr.Provider):
    """Sends the process a SIGINT from its second lookup on."""

    id_types: ClassVar[frozenset[metarr.IdKind]] = frozenset({"tmdb"})
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()
    default_base_url: ClassVar[str] = "http://127.0.0.1:9"
    calls: ClassVar[int] = 0

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        type(self).calls += 1
        if type(self).calls == 2:
            os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.05)
        return ProviderResult(provider=self.name, ids=ids, title=f"Movie {ids.tmdb}", year=2000)

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return {"title": 10, "year": 10, "ids.tmdb": 10}


def test_batch_ctrl_c_stops_cleanly(cli: Cli, tmp_path: Path) -> None:
    library = write(tmp_path / "lib.csv", "tmdb_id\n" + "".join(f"{n}\n" for n in range(1, 201)))
    state = CliState(plugins=[PluginInfo(name="fake", factory=Interrupting)])
    result = cli("batch", str(library), "--concurrency", "2", obj=state)
    assert result.exit_code == 130, result.output
    assert "interrupted: finishing the rows in flight" in result.stderr
    assert "stopped early by Ctrl-C" in result.stdout
    done = result.stdout.count("identified  ")
    assert 1 <= done < 20
    # what finished is committed: a rerun starts where it stopped
    assert cli("cache", "show", "tmdb:1", obj=state).exit_code == 0


# -- demo ---------------------------------------------------------------------------------


def test_demo_twice(cli: Cli) -> None:
    first = cli("demo", "--latency", "0")
    assert first.exit_code == 0, first.output
    assert "identified  18" in first.stdout.replace("identified   ", "identified  ")
    assert "ambiguous" in first.stdout and "not_found" in first.stdout
    assert "The Matrix (1999)" in first.stdout
    assert str(cli.db) in first.stdout
    second = cli("demo", "--latency", "0")
    assert second.exit_code == 0
    assert "requests the simulated providers received: none" in second.stdout
    assert "zero requests" in second.stdout


def test_json_text_converts_models_wherever_they_are_in_plain_data() -> None:
    from datetime import date

    from metarr.cli.output import json_text
    from metarr.convert import to_json
    from metarr.models import Image, Movie

    movie = Movie(
        ids=Ids(tmdb=603),
        title="The Matrix",
        release_date=date(1999, 3, 31),
        images=(Image(provider="tmdb", kind="poster", url="https://img.test/a.jpg"),),
    )
    data = {
        "line": 3,
        "rows": [movie, {"nested": movie}],
        "ids": Ids(imdb="tt0133093"),
        "n": "\u2028",
    }
    text = json_text(data)
    assert json.loads(text) == {
        "line": 3,
        "rows": [to_json(movie), {"nested": to_json(movie)}],
        "ids": to_json(Ids(imdb="tt0133093")),
        "n": "\u2028",
    }
    assert "\u2028" not in text and "\\u2028" in text  # still escaped for a line reader


def test_json_text_escapes_hidden_characters_beyond_the_basic_plane_as_surrogate_pairs() -> None:
    from metarr.cli.output import json_text

    value = {"title": "tag\U000e0001 rtl\u202e end"}  # a language tag, a bidi override
    text = json_text(value)
    assert "\U000e0001" not in text and "\u202e" not in text
    assert json.loads(text) == value
