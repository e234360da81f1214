"""The cache shared by processes: concurrent writers, and a writer killed in the middle of a commit.

Run as a script, this file is the writer process the tests start:
``python test_cache_processes.py DB FIRST COUNT [--forever]``.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from metarr.cache import Cache, ProviderPart
from metarr.cache.packed import unpack
from metarr.ids import Ids
from metarr.models import CastMember, Image, Movie, ProviderResult

pytestmark = pytest.mark.slow
SHARED_FIRST, SHARED_COUNT = 100_000, 60


def synthetic(tmdb: int, round_: int = 0) -> tuple[Movie, dict[str, ProviderPart]]:
    """A movie with many child rows, so a commit takes long enough to be interrupted."""
    ids = Ids(tmdb=tmdb, imdb=f"tt{tmdb:07d}")
    images = tuple(
        Image(provider="tmdb", kind="poster", url=f"https://img.test/{tmdb}/{round_}/{n}.jpg")
        for n in range(20 + round_ % 7)
    )
    cast = tuple(
        CastMember(name=f"Actor {n}", character=f"Role {n}", order=n, provider="tmdb")
        for n in range(15)
    )
    title = f"Movie {tmdb} take {round_}"
    at = datetime(2024, 1, 1, tzinfo=UTC)
    record = ProviderResult(
        provider="tmdb", ids=ids, title=title, images=images, cast=cast, raw={"id": tmdb}
    )
    omdb = ProviderResult(provider="omdb", ids=ids, title=title, raw={"imdbID": ids.imdb})
    movie = Movie(ids=ids, title=title, images=images, cast=cast, provenance={"title": "tmdb"})
    parts = {
        "tmdb": ProviderPart(provider="tmdb", status="ok", fetched_at=at, result=record),
        "omdb": ProviderPart(provider="omdb", status="ok", fetched_at=at, result=omdb),
    }
    return movie, parts


def write(path: str, first: int, count: int, forever: bool) -> None:
    """Commit ``count`` own movies interleaved with the shared ones (round after round)."""
    with Cache(path) as cache:
        round_ = 0
        while True:
            for n in range(count):
                cache.commit(*synthetic(first + n, round_), key=f"own-{first + n}")
                shared = SHARED_FIRST + (n + first) % SHARED_COUNT
                cache.commit(*synthetic(shared, round_))
                if forever and round_ == 0 and n == 5:
                    print("ready", flush=True)
            round_ += 1
            if not forever:
                return


def start_writer(path: Path, first: int, count: int, forever: bool = False) -> subprocess.Popen:
    args = [sys.executable, __file__, str(path), str(first), str(count)]
    if forever:
        args.append("--forever")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_consistent(path: Path) -> int:
    """Integrity ok, every movie row readable with exactly its parts, no orphan part; the row
    count."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        movies = conn.execute("SELECT id, title, movie FROM provider_cache_movies").fetchall()
        for movie_id, title, text in movies:
            data = json.loads(unpack(text))
            parts = conn.execute(
                "SELECT provider, result FROM provider_parts WHERE movie_id = ? ORDER BY provider",
                [movie_id],
            ).fetchall()
            assert [p[0] for p in parts] == ["omdb", "tmdb"], movie_id
            # one commit's record, columns and parts: never a mix of two rounds
            titles = {title, data["title"], *(json.loads(unpack(p[1]))["title"] for p in parts)}
            assert len(titles) == 1, (movie_id, titles)
            assert len(data["images"]) == 20 + int(title.rsplit(" ", 1)[1]) % 7, movie_id
        orphans = conn.execute(
            "SELECT count(*) FROM provider_parts "
            "WHERE movie_id NOT IN (SELECT id FROM provider_cache_movies)"
        ).fetchone()[0]
        assert orphans == 0
        return len(movies)
    finally:
        conn.close()


def test_two_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Cache(path).close()  # both writers find the schema ready (opening concurrently works too)
    writers = [start_writer(path, 1, 100), start_writer(path, 1001, 100)]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    assert check_consistent(path) == 200 + SHARED_COUNT
    with Cache(path) as cache:
        tmdb_ids = [m.ids.tmdb for m in cache.iter_movies()]
        assert len(tmdb_ids) == len(set(tmdb_ids))
        assert set(tmdb_ids) == {
            *range(1, 101),
            *range(1001, 1101),
            *range(SHARED_FIRST, SHARED_FIRST + SHARED_COUNT),
        }
        assert cache.get("imdb", "tt0001100").key == "own-1100"  # type: ignore[union-attr]


def test_writers_open_a_new_file_together(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    writers = [start_writer(path, 1, 5), start_writer(path, 501, 5)]
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
    assert check_consistent(path) == 10 + 10  # own movies, then shared ones (5 each)


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.4])
def test_kill_during_commit_keeps_previous_state(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "killed.db"
    writer = start_writer(path, 1, 40, forever=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(delay)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    count = check_consistent(path)
    assert count >= 6
    with Cache(path) as cache:  # reopening recovers from the WAL and reads every movie
        assert sum(1 for _ in cache.iter_movies()) == count
        assert cache.incomplete() == []


if __name__ == "__main__":
    write(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), "--forever" in sys.argv[4:])
