"""Secrets: every key, token and pin configured, a full run, and not one of them anywhere.

A demo-like session through the real ``metarr`` process against the simulator: lookups by
each id type, title identifications, a batch, the raw ``provider`` views, the cache commands,
``--debug`` runs, provider failures and rejected keys. Every secret is then searched for in
stdout and stderr, in the database file with its WAL and shared memory (where the raw
payloads are kept), in the export, and, in-process, in every log record and error text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from click.testing import CliRunner
from metarr import Ids
from metarr.cache.packed import unpack
from metarr.cli import main
from metarr.config import load_settings
from metarr.orchestrator import Orchestrator
from metarr.query import Query
from metarr_sim import Knobs, SimServer
from metarr_sim.base import SimKeys
from metarr_sim.world import World
from reliability.helpers import (
    PROVIDERS,
    check_db,
    cli_env,
    real_plugins,
    run_cli,
    stored_json,
    write_jsonl,
)
from reliability.proxy import HostileProxy

KEYS = SimKeys(tvdb_pin="PIN-4f7a9c2e-tvdb-subscriber")
FANART_CLIENT_KEY = "fanartclient-9b8c7d6e5f4a3b2c1d0e"
TMDB_UNUSED_KEY = "tmdbunused-0a1b2c3d4e5f6a7b8c9d"  # set beside the token, so never sent
WRONG = {
    "METARR_TMDB_API_KEY": "wrongtmdb-7c6b5a4d3e2f1a0b9c8d",
    "METARR_OMDB_API_KEY": "wrongomdb-1d2e3f4a",
    "METARR_FANART_API_KEY": "wrongfanart-5e6f7a8b9c0d1e2f",
    "METARR_TVDB_API_KEY": "wrongtvdb-3a4b5c6d-7e8f-9a0b",
    "METARR_TVDB_PIN": "wrongpin-8d7c6b5a",
}
SECRETS: dict[str, str] = {
    "tmdb api_key": KEYS.tmdb_api_key,
    "tmdb access_token": KEYS.tmdb_token,
    "tmdb unused api_key": TMDB_UNUSED_KEY,
    "omdb api_key": KEYS.omdb_api_key,
    "fanart api_key": KEYS.fanart_api_key,
    "fanart client_key": FANART_CLIENT_KEY,
    "tvdb api_key": KEYS.tvdb_api_key,
    "tvdb pin": KEYS.tvdb_pin or "",
    **{f"wrong {k}": v for k, v in WRONG.items()},
}
FOUND: list[str] = []
pytestmark = pytest.mark.usefixtures("forget_secrets")  # no test's keys outlive it


def _hits(where: str, data: bytes | str) -> list[str]:
    blob = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    found = [f"{name} in {where}" for name, value in SECRETS.items() if value.encode() in blob]
    FOUND.extend(found)
    return found


def _file_bytes(path: Path) -> bytes:
    """A database file's bytes, read by another process: closing a descriptor of our own on
    the file would drop this process's SQLite locks on it (POSIX locks are per process)."""
    return subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout


def _db_files(db: Path) -> Iterable[Path]:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            yield path


def _tmdb_token_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "[providers.tmdb]\n"
        f'access_token = "{KEYS.tmdb_token}"\n'
        f'api_key = "{TMDB_UNUSED_KEY}"\n'
        "[providers.fanart]\n"
        f'client_key = "{FANART_CLIENT_KEY}"\n'
        "[providers.tvdb]\n"
        f'pin = "{KEYS.tvdb_pin}"\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_no_secret_leaks_anywhere(world: World, tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    heat, toy = world.imdb("tt0113277"), world.tmdb(862)
    assert heat is not None and toy is not None
    batch = write_jsonl(
        tmp_path / "lib.jsonl",
        [{"tmdb_id": 949}, {"imdb_id": "tt0114709"}, {"tvdb_id": toy.tvdb_id}, {"title": "Heat"}],
    )
    leaks: list[str] = []
    with SimServer(world, keys=KEYS, seed=1) as sim:
        key_env = {
            **sim.settings_env(),
            "METARR_FANART_CLIENT_KEY": FANART_CLIENT_KEY,
            "METARR_DB": str(db),
        }
        assert key_env["METARR_TVDB_PIN"] == KEYS.tvdb_pin
        token_env = {k: v for k, v in key_env.items() if not k.startswith("METARR_TMDB_API")}
        token_env["METARR_CONFIG"] = str(_tmdb_token_config(tmp_path))
        with SimServer(
            world,
            keys=KEYS,
            knobs={"omdb": Knobs(fault_rate=1.0, faults=("500",)), "tvdb": Knobs(rate=0.01)},
        ) as failing:
            failing_env = {
                **failing.settings_env(),
                "METARR_FANART_CLIENT_KEY": FANART_CLIENT_KEY,
                "METARR_DB": str(tmp_path / "failing.sqlite"),
            }
            wrong_env = {**failing_env, **WRONG, "METARR_DB": str(tmp_path / "wrong.sqlite")}
            runs: list[tuple[dict[str, str], list[str]]] = [
                (key_env, ["lookup", "--tmdb", "603", "--json"]),
                (key_env, ["lookup", "--imdb", "tt0113277"]),
                (key_env, ["lookup", "--tvdb", str(toy.tvdb_id), "--json"]),
                (key_env, ["identify", "Toy Story", "--year", "1995", "--json"]),
                (key_env, ["identify", "Heat", "--year", "1995", "--explain"]),
                (key_env, ["batch", str(batch), "--json"]),
                (key_env, ["--debug", "lookup", "--tmdb", "862", "--refresh"]),
                (key_env, ["--debug", "identify", "Jumanji", "--year", "1995"]),
                (key_env, ["--debug", "identify", "   "]),
                (key_env, ["provider", "tmdb", "lookup", "--tmdb", "603"]),
                (key_env, ["provider", "omdb", "lookup", "--imdb", "tt0133093", "--json"]),
                (key_env, ["provider", "fanart", "lookup", "--tmdb", "603"]),
                (key_env, ["provider", "tvdb", "lookup", "--tvdb", "216822"]),
                (key_env, ["--debug", "provider", "tvdb", "search", "Heat"]),
                (key_env, ["cache", "show", "tmdb:603", "--json"]),
                (key_env, ["cache", "stats"]),
                (key_env, ["plugins", "--json"]),
                (token_env, ["--debug", "lookup", "--imdb", "tt0133093", "--refresh"]),
                (token_env, ["identify", "Casino", "--year", "1995", "--json"]),
                (token_env, ["--debug", "batch", str(batch), "--concurrency", "2"]),
                (failing_env, ["--debug", "lookup", "--tmdb", "603"]),
                (failing_env, ["--debug", "identify", "The Matrix", "--year", "1999"]),
                (wrong_env, ["--debug", "lookup", "--tmdb", "603"]),
                (wrong_env, ["--debug", "identify", "Heat", "--year", "1995", "--json"]),
                (wrong_env, ["--debug", "provider", "fanart", "lookup", "--tmdb", "603"]),
                (wrong_env, ["--debug", "provider", "tvdb", "lookup", "--tvdb", "216822"]),
            ]
            keeper = None
            for env, args in runs:
                code, stdout, stderr = _run(
                    args, env, real_process="--debug" in args and "--retry-queued" not in args
                )
                where = " ".join(args)
                if args[-3:] == ["lookup", "--tmdb", "603"] or args[:2] == ["lookup", "--tmdb"]:
                    assert code == (5 if env is wrong_env else 0), (where, stdout, stderr)
                if env is token_env and "lookup" in args:
                    assert code == 0, (where, stderr)  # the token variant really works
                assert code in (0, 2, 3, 4, 5), (where, stderr.decode()[-3000:])
                leaks += _hits(f"stdout of {where}", stdout)
                leaks += _hits(f"stderr of {where}", stderr)
                if keeper is None and db.exists():
                    keeper = sqlite3.connect(db)  # keeps the WAL file around between runs
                for path in _db_files(db):
                    leaks += _hits(f"{path.name} after {where}", _file_bytes(path))
            _, _, stderr = _run(["--debug", "cache", "stats"], key_env, real_process=False)
            assert b"DEBUG" in stderr
            _, export, _ = _run(["cache", "export"], key_env, real_process=False)
            leaks += _hits("cache export", export)
            if keeper is not None:
                raw = stored_json(keeper, "SELECT result FROM provider_parts")
                assert raw  # the payloads are there, decompressed, to be searched
                leaks += _hits("raw payloads", raw)
                keeper.close()
            for path in tmp_path.glob("*.sqlite*"):
                leaks += _hits(path.name, path.read_bytes())
            leaks += _in_process(wrong_env, failing_env, tmp_path)
    assert leaks == []
    assert _hits("a positive control", f"x{KEYS.tvdb_pin}x") == ["tvdb pin in a positive control"]
    FOUND.pop()
    print(f"secrets configured: {len(SECRETS)}; secrets found: {len(FOUND)}")


def _run(args: list[str], env: dict[str, str], *, real_process: bool) -> tuple[int, bytes, bytes]:
    """Run the command in a real process (the ``--debug`` ones) or with click's runner."""
    if real_process:
        done = run_cli(args, cli_env(env))
        return done.returncode, done.stdout, done.stderr
    result = CliRunner().invoke(main, args, env={**env, "METARR_LOAD_PLUGINS": ",".join(PROVIDERS)})
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def _in_process(
    wrong_env: dict[str, str], failing_env: dict[str, str], tmp_path: Path
) -> list[str]:
    """Every log record (DEBUG, every logger) and every error text of failing runs."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))
            if record.exc_info:
                records.append(logging.Formatter().formatException(record.exc_info))

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    texts: list[str] = []
    try:
        for env in (wrong_env, failing_env):
            asyncio.run(_collect(env, tmp_path / "inproc.sqlite", texts))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert records, "nothing was logged"
    return _hits("log records", "\n".join(records)) + _hits("error texts", "\n".join(texts))


async def _collect(env: dict[str, str], db: Path, texts: list[str]) -> None:
    plugins = real_plugins()
    settings = load_settings(plugins, env=env, db_path=db)
    async with Orchestrator(settings) as orc:
        for query in (Query(ids=Ids(tmdb=603)), Query(title="Heat", year=1995)):
            found = await orc.run(query, interactive=True)
            texts.extend(found.outcome.reasons)
            texts.extend(repr(r) for r in found.reports.values())
            texts.append(repr(orc.registry.entries))


# -- a provider that echoes the keys back, in every encoding ----------------------------------

ECHO_KEYS = SimKeys(
    tmdb_api_key="Tm&db=K3y+/x7",
    omdb_api_key="0m/db&K=+",
    fanart_api_key="f4n/art+K3y=&1",
    tvdb_api_key="tv/db+K3y&=9é",
    tvdb_pin="p1n/+&=Ωq",
)
ECHO_CLIENT_KEY = "cl1ent/K3y+é&="
ECHO_SECRETS = (
    ECHO_KEYS.tmdb_api_key,
    ECHO_KEYS.omdb_api_key,
    ECHO_KEYS.fanart_api_key,
    ECHO_KEYS.tvdb_api_key,
    ECHO_KEYS.tvdb_pin or "",
    ECHO_CLIENT_KEY,
)


def wire_forms(secret: str) -> set[str]:
    """Every spelling of a secret a provider might send back."""
    upper = quote(secret, safe="")
    return {
        secret,
        upper,
        re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), upper),
        quote_plus(secret, safe=""),
        str(httpx.QueryParams({"k": secret}))[2:],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1].replace("/", "\\/"),
        "".join(f"\\u{ord(ch):04x}" for ch in secret),
        secret[:3] + quote(secret[3:], safe=""),
    }


def _leaks(where: str, data: bytes | str, secrets: tuple[str, ...] = ECHO_SECRETS) -> list[str]:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return [
        f"{form!r} (a form of secret {i}) in {where}"
        for i, secret in enumerate(secrets)
        for form in wire_forms(secret)
        if form in text
    ]


def _echo(proxy: HostileProxy, forms: list[str]) -> HostileProxy:
    """Make every provider send every form of every key back: in extra fields, in a dict key,
    in the texts metarr stores (plot, tagline, image URLs), and in its error messages."""
    said = " ".join(f"apikey={form}" for form in forms)
    proxy.answer(
        "omdb",
        401,
        {"Response": "False", "Error": f"Invalid API key! you sent {said}"},
        when=lambda target: "i=tt0114709" in target,
    )
    proxy.answer(
        "tmdb",
        500,
        {"status_code": 11, "status_message": f"Internal error for {said}"},
        when=lambda target: target.split("?")[0] == "/movie/862",
    )

    def rewrite(target: str, body: Any) -> Any:
        if isinstance(body, dict):
            body["echo"] = list(forms)
            body["echo_text"] = f"you sent {said}"
            body[forms[0]] = {form: [form] for form in forms}
            for field in ("overview", "tagline", "Plot", "Awards"):
                if isinstance(body.get(field), str):
                    body[field] += f" (sent with {said})"
            for posters in (body.get("movieposter"), body.get("images", {}).get("posters")):
                for image in posters or []:
                    for url_field in ("url", "file_path"):
                        if isinstance(image.get(url_field), str):
                            image[url_field] += f"?apikey={forms[-1]}"
        return body

    for provider in ("tmdb", "omdb", "fanart", "tvdb"):
        proxy.rewrite(provider, rewrite)
    return proxy


@pytest.mark.slow
def test_keys_echoed_in_every_encoding_appear_nowhere(world: World, tmp_path: Path) -> None:
    forms = sorted({form for secret in ECHO_SECRETS for form in wire_forms(secret)})
    db = tmp_path / "echo.sqlite"
    toy = world.tmdb(862)
    assert toy is not None and toy.tvdb_id
    batch = write_jsonl(
        tmp_path / "lib.jsonl",
        [{"tmdb_id": 949}, {"imdb_id": "tt0114709"}, {"tvdb_id": toy.tvdb_id}, {"title": "Heat"}],
    )
    leaks: list[str] = []
    with SimServer(world, keys=ECHO_KEYS) as sim, HostileProxy(sim) as proxy:
        _echo(proxy, forms)
        env = {**proxy.settings_env(), "METARR_FANART_CLIENT_KEY": ECHO_CLIENT_KEY}
        env["METARR_DB"] = str(db)
        runs = [
            ["lookup", "--tmdb", "603", "--json"],
            ["--debug", "lookup", "--imdb", "tt0133093", "--refresh"],
            ["identify", "Heat", "--year", "1995", "--json"],
            ["--debug", "lookup", "--tmdb", "862"],
            ["--debug", "batch", str(batch), "--concurrency", "2"],
            ["batch", str(batch), "--json", "--retry-queued"],
            ["provider", "omdb", "lookup", "--imdb", "tt0133093", "--json"],
            ["--debug", "provider", "tmdb", "lookup", "--tmdb", "603"],
            ["--debug", "provider", "fanart", "lookup", "--tmdb", "603"],
            ["--debug", "provider", "tvdb", "search", "Heat"],
            ["cache", "show", "tmdb:603", "--json"],
            ["cache", "export"],
        ]
        keeper = None
        for args in runs:
            code, stdout, stderr = _run(args, env, real_process="--debug" in args)
            where = " ".join(args)
            assert code in (0, 2, 3, 4, 5), (where, stderr.decode()[-3000:])
            leaks += _leaks(f"stdout of {where}", stdout) + _leaks(f"stderr of {where}", stderr)
            if keeper is None and db.exists():
                keeper = sqlite3.connect(db)  # keeps the WAL file around between runs
                keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()
            for path in _db_files(db):
                leaks += _leaks(f"{path.name} after {where}", _file_bytes(path))
            if args[:2] == ["lookup", "--tmdb"] and "--json" in args:
                movie = json.loads(stdout)["movie"]
                assert movie["title"] == "The Matrix" and movie["year"] == 1999
                assert "apikey=***" in movie["plot"]  # the echo was there, and masked
        assert keeper is not None
        wal = Path(f"{db}-wal")
        assert wal.exists() and wal.stat().st_size > 0
        raw = stored_json(keeper, "SELECT result FROM provider_parts")
        assert "apikey=***" in raw
        leaks += _leaks("raw payloads", raw)
        keeper.close()
        leaks += _in_process_echo(env, tmp_path / "inproc.sqlite")
        assert sum(proxy.counts().values()) > 0
    assert leaks == []
    assert _leaks("a positive control", f"x{quote(ECHO_CLIENT_KEY, safe='')}x")


def _in_process_echo(env: dict[str, str], db: Path) -> list[str]:
    """Every log record (DEBUG, every logger) and error text of an in-process run."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    texts: list[str] = []
    try:
        asyncio.run(_collect(env, db, texts))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert any("HTTP Request" in r for r in records), "httpx should have logged its requests"
    return _leaks("log records", "\n".join(records)) + _leaks("error texts", "\n".join(texts))


PIN_LIKE_DATA = "69500000"  # the simulator's budget for The Matrix: a number in TMDB's answer


@pytest.mark.slow
def test_a_secret_that_looks_like_data_corrupts_nothing(world: World, tmp_path: Path) -> None:
    # The shortest allowed secret that also occurs in normal data: every string that holds it
    # is masked, every number stays, and the stored movie reads back whole.
    keys = SimKeys(tvdb_pin=PIN_LIKE_DATA)
    db = tmp_path / "pin.sqlite"
    with SimServer(world, keys=keys) as sim, HostileProxy(sim) as proxy:
        _echo(proxy, [PIN_LIKE_DATA])
        env = {**proxy.settings_env(), "METARR_DB": str(db)}
        assert env["METARR_TVDB_PIN"] == PIN_LIKE_DATA
        code, stdout, stderr = _run(["lookup", "--tmdb", "603", "--json"], env, real_process=False)
        assert code == 0, stderr
        again, shown, _ = _run(["lookup", "--imdb", "tt0133093", "--json"], env, real_process=False)
        args = ["provider", "tmdb", "lookup", "--tmdb", "603", "--json"]
        raw_code, raw_view, _ = _run(args, env, real_process=False)
    assert again == 0 and raw_code == 0
    assert _find(json.loads(raw_view), "budget") == [int(PIN_LIKE_DATA)]  # a debug view too
    for text in (stdout, shown):
        movie = json.loads(text)["movie"]
        assert (movie["title"], movie["year"], movie["runtime"]) == ("The Matrix", 1999, 70)
        assert movie["release_date"].startswith("1999-")
        assert movie["ids"] == {"tmdb": 603, "imdb": "tt0133093", "tvdb": 216822}
        assert PIN_LIKE_DATA.encode() not in text
    [stored] = check_db(db)
    assert stored.movie.year == 1999 and stored.movie.ids.tvdb == 216822
    tmdb_raw = stored.results["tmdb"].raw
    assert _find(tmdb_raw, "budget") == [int(PIN_LIKE_DATA)]  # the number is data: kept
    strings = [s for doc in _stored_documents(db) for s in _strings(doc)]
    assert strings and not [s for s in strings if PIN_LIKE_DATA in s]
    assert any("apikey=***" in s for s in strings)  # the echoes were there, masked


def _find(data: Any, key: str) -> list[Any]:
    found = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found += [v for k, v in node.items() if k == key]
            stack += list(node.values())
        elif isinstance(node, list):
            stack += node
    return found


def _strings(data: Any) -> list[str]:
    out: list[str] = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            out += [k for k in node if isinstance(k, str)]
            stack += list(node.values())
        elif isinstance(node, list):
            stack += node
    return out


def _stored_documents(db: Path) -> list[Any]:
    conn = sqlite3.connect(db)
    try:
        docs = [
            json.loads(unpack(r[0]))
            for r in conn.execute("SELECT result FROM provider_parts")
            if r[0] is not None
        ]
        docs += [
            json.loads(unpack(r[0]))
            for r in conn.execute("SELECT movie FROM provider_cache_movies")
        ]
        return [d for d in docs if d is not None]
    finally:
        conn.close()
