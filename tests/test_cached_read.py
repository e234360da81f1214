"""The cached read (`metarr.cli.cached`): ``lookup --imdb ID`` of a fresh cached movie and
``cache show ID`` answered before the command tree loads, byte for byte as the full command
answers them, and the full command whenever the cached read cannot tell."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from metarr.cli import cached, census
from metarr.ids import Ids
from metarr.query import Query
from metarr_sim import SimServer
from probes import run_metarr

HEAVY = ("httpx", "sqlite_utils", "asyncio", "metarr.orchestrator", "metarr.plugins", "pluggy")
MOVIES = ("tt0114709", "tt0113497", "tt0113228")  # Jumanji (the second) has no Fanart.tv part


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str, set[str]]:
    """``metarr ARGS`` in a fresh interpreter (as the console script runs it): exit code,
    stdout, stderr and the heavy modules it imported."""
    code, out, err, modules = run_metarr(args, env)
    return code, out, err, modules & set(HEAVY)


@pytest.fixture
def setup(sim_server: SimServer, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment for the simulator with its own config file and state directory, and a
    cache of `MOVIES` filled by a full command (which takes the census)."""
    config = tmp_path / "metarr.toml"
    config.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        **sim_server.settings_env(),
        "METARR_CONFIG": str(config),
        "METARR_STATE_DIR": str(tmp_path / "state"),
    }
    db = tmp_path / "cache.sqlite"
    rows = tmp_path / "rows.csv"
    rows.write_text("imdb_id\n" + "".join(f"{m}\n" for m in MOVIES), encoding="utf-8")
    code, _, err, _ = _run(["--db", str(db), "batch", str(rows)], env)
    assert code == 0, err
    return env, db


def test_a_cached_read_is_answered_without_the_http_stack_or_sqlite_utils(
    setup: tuple[dict[str, str], Path],
) -> None:
    env, db = setup
    for args in (["lookup", "--imdb", MOVIES[0]], ["cache", "show", MOVIES[0], "--json"]):
        code, out, err, heavy = _run(["--db", str(db), *args], env)
        assert (code, err, heavy) == (0, "", set())
        assert "Toy Story" in out


def test_the_cached_read_prints_what_the_full_command_prints(
    setup: tuple[dict[str, str], Path],
) -> None:
    env, db = setup
    for movie in MOVIES:
        for command in (["lookup", "--imdb", movie], ["cache", "show", f"imdb:{movie}"]):
            for extra in ([], ["--json"]):
                fast = _run(["--db", str(db), *command, *extra], env)
                full = _run(["--db", str(db), "--debug", *command, *extra], env)
                assert fast[3] == set()  # answered by the cached read
                assert {"pluggy", "metarr.orchestrator"} <= full[3]  # the full command
                assert fast[:2] == full[:2], (command, extra)


def _age_part(db: Path, provider: str, days: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE provider_parts SET fetched_at = datetime(fetched_at, ?) WHERE provider = ?",
            [f"-{days} days", provider],
        )


def test_a_stale_part_is_left_to_the_full_command(setup: tuple[dict[str, str], Path]) -> None:
    env, db = setup
    _age_part(db, "fanart", 400)  # Fanart.tv keeps a day, × 12 for a film of 1995
    code, out, _, heavy = _run(["--db", str(db), "lookup", "--imdb", MOVIES[0]], env)
    assert code == 0 and "requests   fanart 1" in out  # refetched by the full command
    assert "httpx" in heavy
    code, out, _, heavy = _run(["--db", str(db), "lookup", "--imdb", MOVIES[0]], env)
    assert (code, heavy) == (0, set())  # fresh again: the cached read answers
    _age_part(db, "fanart", 400)
    fast = _run(["--db", str(db), "cache", "show", MOVIES[0]], env)
    assert "stale" in fast[1] and fast[3] == set()  # show tells staleness itself
    assert fast[:2] == _run(["--db", str(db), "--debug", "cache", "show", MOVIES[0]], env)[:2]


@pytest.mark.parametrize(
    "args",
    [
        ["lookup", "--imdb", MOVIES[0], "--refresh"],
        ["--only", "tmdb", "lookup", "--imdb", MOVIES[0]],
        ["lookup", "--imdb", MOVIES[0], "--tmdb", "862"],
        ["lookup", "--imdb", "tt9999999"],  # not cached
        ["cache", "show", "tmdb:1"],  # not cached: the full command's message and exit 3
        ["cache", "show", "603"],  # ambiguous: the full command's message and exit 2
    ],
)
def test_what_the_cached_read_does_not_answer_runs_the_full_command(
    setup: tuple[dict[str, str], Path], args: list[str]
) -> None:
    env, db = setup
    assert "metarr.orchestrator" in _run(["--db", str(db), *args], env)[3]


def test_a_changed_setup_is_not_answered_from_an_old_census(
    setup: tuple[dict[str, str], Path],
) -> None:
    env, db = setup
    Path(env["METARR_CONFIG"]).write_text("[providers.fanart]\nenabled = false\n")
    full = _run(["--db", str(db), "lookup", "--imdb", MOVIES[0]], env)
    assert "metarr.orchestrator" in full[3]
    assert "fanart disabled" in full[1]
    fast = _run(["--db", str(db), "lookup", "--imdb", MOVIES[0]], env)  # the new census
    assert fast[3] == set() and fast[:2] == full[:2]
    changed = {**env, "METARR_TMDB_TTL_DAYS": "1e-9"}  # TMDB parts stale at once
    code, out, _, heavy = _run(["--db", str(db), "lookup", "--imdb", MOVIES[0]], changed)
    assert code == 0 and "requests   tmdb" in out and "httpx" in heavy


def test_a_person_s_choice_for_the_input_is_left_to_the_full_command(
    setup: tuple[dict[str, str], Path],
) -> None:
    env, db = setup
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE identities SET by = 'person' WHERE key = ?", [f"imdb:{MOVIES[1]}"])
    assert "metarr.orchestrator" in _run(["--db", str(db), "lookup", "--imdb", MOVIES[1]], env)[3]


def test_a_missing_cache_file_is_left_to_the_full_command(
    setup: tuple[dict[str, str], Path],
) -> None:
    env, db = setup
    missing = db.with_name("nowhere") / "cache.sqlite"
    code, _, err, heavy = _run(["--db", str(missing), "cache", "show", MOVIES[0]], env)
    assert code == 3 and "not in the cache" in err and "metarr.orchestrator" in heavy


def test_the_census_is_private_and_holds_no_secret(
    setup: tuple[dict[str, str], Path], sim_server: SimServer
) -> None:
    env, _ = setup
    path = census.census_path(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_bytes()
    keys = [v for k, v in sim_server.settings_env().items() if k.endswith("_KEY")]
    assert keys and not any(key.encode() in text for key in keys)
    assert json.loads(text)["facts"]["providers"][0][:2] == ["fanart", "enabled"]


def test_the_input_key_of_one_id_is_the_full_command_s() -> None:
    for ids in (Ids(imdb="tt0114709"), Ids(tmdb=862), Ids(tvdb="158244")):
        [(kind, value)] = ids.items()
        assert cached.input_key(kind, value) == Query(ids=ids).input_key


def test_the_fingerprint_never_takes_a_secret_s_value(tmp_path: Path) -> None:
    from metarr import config

    key = b"k" * 16
    base = {"METARR_OMDB_API_KEY": "12345678", "METARR_DB": str(tmp_path / "a.db")}
    same = census.fingerprint(key, tmp_path / "none.toml", base, [])
    other_key = {**base, "METARR_OMDB_API_KEY": "87654321"}  # the same length: nothing to search
    assert census.fingerprint(key, tmp_path / "none.toml", other_key, []) == same
    other_db = {**base, "METARR_DB": str(tmp_path / "b.db")}
    assert census.fingerprint(key, tmp_path / "none.toml", other_db, []) != same
    for name in ("api_key", "access_token", "client_key", "pin", "user_pin", "timeout", "db"):
        assert census.is_secret_name(f"METARR_TVDB_{name.upper()}") == config.is_secret_key(name)
