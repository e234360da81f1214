"""The cache commands through the real CLI: a refresh with every provider unreachable, exports
under a file-size limit, unreadable movies named and repaired, disputed ids shown.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from metarr.cache import Cache, ProviderPart
from metarr.cache.packed import pack_text, unpack
from metarr.cli import exits
from metarr.errors import StorageError
from metarr.ids import Ids
from metarr.models import Movie, ProviderResult
from metarr_sim import SimServer
from metarr_sim.world import World
from reliability.helpers import METARR, PROVIDERS, cli_env, closed_port, run_cli

pytestmark = pytest.mark.slow
STORAGE_EXIT = exits.for_exception(StorageError("x"))


def parts_of(db: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT movie_id, provider, status, fetched_at, result FROM provider_parts "
            "ORDER BY movie_id, provider"
        ).fetchall()
    finally:
        conn.close()


def _corrupt(stored: bytes, old: str, new: str) -> bytes:
    """A stored (compressed) JSON document with ``old`` replaced: no longer valid JSON."""
    text = unpack(stored)
    assert old in text
    return pack_text(text.replace(old, new))


def one_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_a_refresh_with_every_provider_unreachable_keeps_the_movie_stale(
    world: World, tmp_path: Path
) -> None:
    """Issue 11 item 4: exit 5, the cached record shown with its age, nothing stored."""
    db = tmp_path / "cache.sqlite"
    with SimServer(world) as sim:
        env = cli_env(sim.settings_env())
        first = run_cli(["--db", str(db), "lookup", "--imdb", "tt0133093"], env)
        assert first.returncode == 0, first.stderr.decode()
    before = parts_of(db)
    offline = dict(env)
    for name in PROVIDERS:
        offline[f"METARR_{name.upper()}_BASE_URL"] = f"http://127.0.0.1:{closed_port()}/api"
        offline[f"METARR_{name.upper()}_TTL_DAYS"] = "0.000001"  # stale after 0.09 s
    for args in (
        ["lookup", "--imdb", "tt0133093", "--refresh"],
        ["refresh", "tmdb:603"],
        ["refresh", "--stale"],
    ):
        done = run_cli(["--db", str(db), *args], offline, timeout=120)
        out = done.stdout.decode()
        assert done.returncode == exits.PROVIDER_ERROR, (args, out, done.stderr.decode())
        assert "error" in out and "The Matrix" in out, out
        assert "nothing could be refetched" in out and "stays stale" in out, out
        assert "Traceback" not in done.stderr.decode()
        assert parts_of(db) == before  # no fetch time moved, nothing replaced
    stats = run_cli(["--db", str(db), "cache", "stats", "--json"], offline)
    assert json.loads(stats.stdout)["stale"] == 1


def _limited(limit: int) -> None:
    """In the child: writes past ``limit`` bytes fail with EFBIG instead of killing it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _seed(db: Path, movies: int) -> None:
    now = datetime.now(UTC)
    with Cache(db) as cache:
        for n in range(1, movies + 1):
            ids = Ids(tmdb=n, imdb=f"tt{n:07d}")
            result = ProviderResult(
                provider="tmdb", ids=ids, title=f"Movie {n}", plot="A long plot. " * 300
            )
            part = ProviderPart(provider="tmdb", status="ok", fetched_at=now, result=result)
            cache.commit(_movie(result), {"tmdb": part})
            cache.confirm_identity(f"library/movie number {n:05d}.mkv", ids, by="person")


def _movie(result: ProviderResult) -> Movie:
    return Movie(ids=result.ids, title=result.title, plot=result.plot)


@pytest.mark.parametrize("command", ["cache export", "identities export"])
def test_an_export_cut_short_keeps_the_previous_file(tmp_path: Path, command: str) -> None:
    """Issue 11 item 13: a file-size limit half-way through leaves the last good export."""
    db = tmp_path / "cache.sqlite"
    _seed(db, 600)
    target = tmp_path / "backup" / "export.jsonl"
    target.parent.mkdir()
    env = cli_env()
    whole = run_cli(["--db", str(db), *command.split(), str(target)], env)
    assert whole.returncode == 0, whole.stderr.decode()
    previous = target.read_bytes()
    assert len(previous) > 64 * 1024
    os.chmod(target, 0o640)
    with Cache(db) as cache:
        cache.confirm_identity("one more.mkv", Ids(tmdb=1), by="person")

    cut = subprocess.run(
        [str(METARR), "--db", str(db), *command.split(), str(target)],
        env=env,
        capture_output=True,
        timeout=60,
        preexec_fn=lambda: _limited(64 * 1024),
        check=False,
    )

    assert target.read_bytes() == previous
    assert sorted(p.name for p in target.parent.iterdir()) == ["export.jsonl"]  # no temp file
    assert cut.returncode == exits.USAGE
    line = one_line(cut.stderr)
    assert f"cannot write {target}" in line and "previous file is unchanged" in line, line
    again = run_cli(["--db", str(db), *command.split(), str(target)], env)
    assert again.returncode == 0
    assert len(target.read_bytes()) >= len(previous)
    assert os.stat(target).st_mode & 0o777 == 0o640  # a replaced file keeps its permissions


def test_an_unreadable_movie_is_named_and_repaired(world: World, tmp_path: Path) -> None:
    """Issue 11 item 6: a movie corrupted by the old substring redaction (``"year":***``)."""
    db = tmp_path / "cache.sqlite"
    with SimServer(world) as sim:
        env = cli_env(sim.settings_env())

        def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
            return run_cli(["--db", str(db), *args], env, timeout=120)

        assert cli("lookup", "--tmdb", "603").returncode == 0
        assert cli("lookup", "--tmdb", "949").returncode == 0
        conn = sqlite3.connect(db)
        with conn:
            (matrix,) = conn.execute(
                "SELECT id FROM provider_cache_movies WHERE tmdb_id = 603"
            ).fetchone()
            conn.create_function("corrupt", 3, _corrupt)
            conn.execute(
                "UPDATE provider_parts SET result = corrupt(result, '\"year\":1999', "
                "'\"year\":***') WHERE movie_id = ? AND provider = 'omdb'",
                [matrix],
            )
            conn.execute(
                "UPDATE provider_cache_movies SET movie = corrupt(movie, ':1999', ':***') "
                "WHERE id = ?",
                [matrix],
            )
        conn.close()

        lookup = cli("lookup", "--tmdb", "603")
        assert lookup.returncode == STORAGE_EXIT
        line = one_line(lookup.stderr)
        assert f"cached movie {matrix} (tmdb:603 imdb:tt0133093" in line
        assert "cannot be read" in line and "metarr cache repair tmdb:603" in line, line

        export = cli("cache", "export", str(tmp_path / "all.jsonl"))
        assert export.returncode == STORAGE_EXIT
        assert f"skipped: cache {db}: cached movie {matrix}" in export.stderr.decode()
        assert [json.loads(row)["ids"]["tmdb"] for row in (tmp_path / "all.jsonl").open()] == [949]

        remerged = cli("remerge")
        assert remerged.returncode == STORAGE_EXIT
        assert remerged.stdout.decode().strip() == "remerged 1 movies (0 requests)"
        assert f"cached movie {matrix}" in remerged.stderr.decode()

        sent = sim.total()
        repaired = cli("cache", "repair")
        out = repaired.stdout.decode()
        assert repaired.returncode == 0, (out, repaired.stderr.decode())
        assert "identified" in out and "The Matrix (1999)" in out
        assert "dropped what could not be read: omdb part" in out
        assert sim.total() > sent  # refetched
        assert cli("lookup", "--tmdb", "603").returncode == 0
        assert "nothing to repair" in cli("cache", "repair").stdout.decode()

        dropped = cli("cache", "repair", "tmdb:949", "--drop")
        assert dropped.returncode == 0 and "dropped" in dropped.stdout.decode()
        gone = cli("cache", "show", "tmdb:949")
        assert gone.returncode == exits.NEEDS_PERSON


def test_cache_show_and_stats_name_a_disputed_id(tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    now = datetime.now(UTC)

    def commit(cache: Cache, ids: Ids, title: str) -> int:
        results = {
            name: ProviderResult(provider=name, ids=ids, title=title, year=1999)
            for name in ("tmdb", "tvdb")
        }
        parts = {
            name: ProviderPart(provider=name, status="ok", fetched_at=now, result=result)
            for name, result in results.items()
        }
        return cache.commit(
            Movie(ids=ids), parts, merge=lambda r: Movie(ids=ids, title=title, year=1999)
        ).id

    with Cache(db) as cache:
        heat = commit(cache, Ids(tmdb=949, tvdb=1002), "Heat")
        matrix = commit(cache, Ids(tmdb=603, tvdb=1002), "The Matrix")
    env = cli_env()
    shown = run_cli(["--db", str(db), "cache", "show", "tmdb:603"], env)
    out = shown.stdout.decode()
    assert shown.returncode == 0, shown.stderr.decode()
    assert "disputed ids" in out
    assert "tvdb 1002 was given to this movie, but it is Heat (1999)" in out
    assert f"(movie {heat}) in the cache: cached without it" in out
    holder = run_cli(["--db", str(db), "cache", "show", "tvdb:1002"], env).stdout.decode()
    assert f"claimed for The Matrix (1999) tmdb:603 (movie {matrix})" in holder
    stats = run_cli(["--db", str(db), "cache", "stats"], env).stdout.decode()
    assert any(line.split() == ["disputed", "ids", "1"] for line in stats.splitlines()), stats


@pytest.mark.parametrize(
    "message",
    [
        "cache write failed and was rolled back: disk I/O error",  # the cache's own, no file
        "database or disk is full",  # SQLite's
    ],
)
def test_a_cache_failure_names_the_database_file(tmp_path: Path, message: str) -> None:
    db = tmp_path / "c.db"
    line = exits.describe(StorageError(message), db=db)
    assert line.startswith(f"cache {db}: ") and line.endswith("(check --db / METARR_DB)"), line
    assert line.count(str(db)) == 1
    assert exits.describe(StorageError(f"cache {db} is damaged"), db=db).count(str(db)) == 1
