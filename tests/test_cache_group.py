"""Group commit: several persists in one write transaction, a savepoint each.

`Cache.together` runs calls in one ``BEGIN IMMEDIATE`` … ``COMMIT``; the orchestrator hands it
every identified movie waiting for the cache thread at once. These tests hold it to the cache's
promises: one failing call loses only itself, nothing is visible (or reported) before the
``COMMIT``, a full disk or a lost transaction costs no other call its movie, and a process
killed mid-group loses only movies it had not reported.

Run as a script, this file is the writer process the kill test starts:
``python test_cache_group.py DB GROUP``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_providers import (
    HEAT,
    MATRIX,
    POSTMAN,
    TITANIC_97,
    FakeWorld,
    fake_registry,
    fake_settings,
)
from metarr import Ids
from metarr.cache import Cache, ProviderPart
from metarr.cache.database import write_transaction
from metarr.errors import StorageError
from metarr.http import new_client
from metarr.models import ProviderResult
from metarr.orchestrator import Orchestrator
from test_cache_processes import check_consistent, synthetic


def stored_tmdb(path: Path) -> set[int]:
    """The tmdb ids committed, read by another connection."""
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT tmdb_id FROM provider_cache_movies")}
    finally:
        conn.close()


def committer(cache: Cache, tmdb: int) -> Callable[[], int]:
    def call() -> int:
        return cache.commit(*synthetic(tmdb), key=f"key-{tmdb}").id

    return call


def test_a_group_lands_in_one_commit(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    with Cache(path) as cache:
        statements: list[str] = []
        cache.conn.set_trace_callback(statements.append)
        done = cache.together([committer(cache, n) for n in range(1, 6)])
        cache.conn.set_trace_callback(None)
        assert [error for _, error in done] == [None] * 5
        assert statements.count("COMMIT") == 1
        assert statements.count("BEGIN IMMEDIATE") == 1
        ids = [row_id for row_id, _ in done]
        assert len(set(ids)) == 5
    assert stored_tmdb(path) == {1, 2, 3, 4, 5}
    assert check_consistent(path) == 5


def test_a_lone_call_runs_as_before(tmp_path: Path) -> None:
    with Cache(tmp_path / "g.db") as cache:
        statements: list[str] = []
        cache.conn.set_trace_callback(statements.append)
        [(row_id, error)] = cache.together([committer(cache, 7)])
        cache.conn.set_trace_callback(None)
        assert error is None and row_id is not None
        assert not any(s.startswith(("SAVEPOINT", "RELEASE")) for s in statements)
        assert statements.count("COMMIT") == 1


def test_one_failing_call_rolls_back_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    with Cache(path) as cache:
        cache.commit(*synthetic(900), key="holder")

        def writes_then_fails() -> int:
            cache.commit(*synthetic(2), key="key-2")
            cache.pause_provider("tmdb", cache.now(), "half of a failing call")
            raise RuntimeError("the call failed after its writes")

        def conflicting() -> int:
            movie, parts = synthetic(3)
            # an id the caller gave is another cached movie's: nothing of it is written
            taken = Ids(tmdb=3, imdb="tt0000900")
            movie = movie.__class__(ids=taken, title=movie.title)
            return cache.commit(movie, parts, key="key-3", given=taken).id

        done = cache.together(
            [committer(cache, 1), writes_then_fails, conflicting, committer(cache, 4)]
        )
        errors = [type(error).__name__ if error else None for _, error in done]
        assert errors == [None, "RuntimeError", "IdConflictError", None]
        assert cache.paused_providers() == {}
        assert cache.get("tmdb", 2) is None
        assert cache.get("tmdb", 900) is not None
    assert stored_tmdb(path) == {1, 4, 900}
    assert check_consistent(path) == 3


def test_nothing_is_visible_before_the_group_commits(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    Cache(path).close()
    seen: list[set[int]] = []
    with Cache(path) as cache:

        def look() -> None:
            seen.append(stored_tmdb(path))  # another connection, mid-group

        done = cache.together([committer(cache, 1), committer(cache, 2), look])
        assert [error for _, error in done] == [None, None, None]
    assert seen == [set()]
    assert stored_tmdb(path) == {1, 2}


def test_a_lost_transaction_reruns_each_call_alone(tmp_path: Path) -> None:
    """SQLite rolled the whole group back (what a full disk or an I/O error may do): the calls
    before it lost their writes with it, so each call runs again in its own transaction."""
    path = tmp_path / "g.db"
    runs: list[str] = []
    with Cache(path) as cache:
        first = committer(cache, 1)

        def counted_first() -> int:
            runs.append("first")
            return first()

        def loses_the_group() -> int:
            runs.append("loser")
            if runs.count("loser") == 1:
                cache.conn.execute("ROLLBACK")  # the whole transaction is gone
                raise StorageError("database or disk is full")
            return cache.commit(*synthetic(2)).id

        done = cache.together([counted_first, loses_the_group, committer(cache, 3)])
        assert [error for _, error in done] == [None, None, None]
        assert runs == ["first", "loser", "first", "loser"]
        assert not cache.conn.in_transaction
    assert stored_tmdb(path) == {1, 2, 3}
    assert check_consistent(path) == 3


def test_a_full_disk_costs_only_the_movie_that_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    with Cache(path) as cache:
        cache.commit(*synthetic(1))
        pages = cache.conn.execute("PRAGMA page_count").fetchone()[0]
        cache.conn.execute(f"PRAGMA max_page_count = {pages + 12}")

        def huge() -> int:
            movie, parts = synthetic(2)
            noise = os.urandom(300_000).hex()  # incompressible: ~40 pages more than allowed
            big = ProviderResult(
                provider="omdb", ids=movie.ids, title=movie.title, raw={"n": noise}
            )
            parts = {
                **parts,
                "omdb": ProviderPart(
                    provider="omdb", status="ok", fetched_at=parts["omdb"].fetched_at, result=big
                ),
            }
            return cache.commit(movie, parts).id

        done = cache.together([committer(cache, 3), huge, committer(cache, 4)])
        assert [error is None for _, error in done] == [True, False, True]
        assert isinstance(done[1][1], StorageError)
        assert "full" in str(done[1][1])
        assert not cache.conn.in_transaction
    assert stored_tmdb(path) == {1, 3, 4}
    assert check_consistent(path) == 3


def test_a_group_waits_for_another_writer(tmp_path: Path) -> None:
    """Another command holds the write lock, then commits the same movie as the group: the
    group waits for the lock instead of failing; nothing is lost on either side."""
    path = tmp_path / "g.db"
    Cache(path).close()
    holding = threading.Event()

    def other_command() -> None:
        with Cache(path) as other, write_transaction(other.conn):
            holding.set()
            time.sleep(0.3)
        with Cache(path) as other:
            other.commit(*synthetic(2, round_=3), key="other-2")

    thread = threading.Thread(target=other_command)
    thread.start()
    assert holding.wait(5)
    with Cache(path) as cache:
        started = time.monotonic()
        done = cache.together([committer(cache, 1), committer(cache, 2), committer(cache, 3)])
        waited = time.monotonic() - started
        thread.join()
        assert [error for _, error in done] == [None, None, None]
        assert waited >= 0.2  # it waited for the lock instead of failing
        assert cache.get("tmdb", 2) is not None
    assert stored_tmdb(path) == {1, 2, 3}
    assert check_consistent(path) == 3


def test_savepoints_only_inside_a_group(tmp_path: Path) -> None:
    with (
        Cache(tmp_path / "g.db") as cache,
        write_transaction(cache.conn),
        pytest.raises(StorageError, match="already open"),
        write_transaction(cache.conn),
    ):
        pass


# -- a process killed in the middle of group commits ----------------------------------------


def write_groups(path: str, size: int) -> None:
    """Commit groups of ``size`` new movies forever; print each group's ids once it returns."""
    with Cache(path) as cache:
        first = 1
        while True:
            done = cache.together([committer(cache, n) for n in range(first, first + size)])
            assert all(error is None for _, error in done)
            print(" ".join(str(n) for n in range(first, first + size)), flush=True)
            first += size


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.1, 0.3, 0.7])
def test_a_kill_mid_group_loses_only_unreported_movies(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "killed.db"
    Cache(path).close()
    size = 6
    writer = subprocess.Popen(
        [sys.executable, __file__, str(path), str(size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline()  # a first group is in
        time.sleep(delay)
    finally:
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    reported = {int(n) for line in out.split("\n") if line.strip() for n in line.split()}
    stored = stored_tmdb(path)
    assert check_consistent(path) == len(stored)
    assert reported - {int(n) for n in range(1, 1 + size)} <= stored  # every reported group
    assert set(range(1, 1 + size)) <= stored
    assert len(stored) % size == 0  # whole groups only: never a part of one
    assert stored == set(range(1, len(stored) + 1))


# -- the orchestrator: persists waiting at once go together --------------------------------


def orchestrated(
    db: Path,
    films: list[Any],
    *,
    persist: Callable[..., Any] | None = None,
    check: Callable[[Any], None] | None = None,
) -> tuple[list[Any], list[int]]:
    """Look ``films`` up concurrently, holding the cache thread until every one's persist is
    waiting (so they form one group); the outcomes (or errors) and the group sizes seen."""
    sizes: list[int] = []

    async def main() -> list[Any]:
        async with new_client() as client:
            cfg = fake_settings(db=db)
            cache = Cache(db)
            real_together = cache.together

            def together(calls: Any) -> Any:
                sizes.append(len(calls))
                return real_together(calls)

            cache.together = together  # type: ignore[method-assign]
            orc = Orchestrator.from_parts(
                registry=fake_registry(client, cfg), cache=cache, settings=cfg
            )
            await orc.open()
            if persist is not None:
                real_persist = orc._persist
                orc._persist = lambda *a, **k: persist(real_persist, *a, **k)  # type: ignore[method-assign]
            hold = threading.Event()
            arrived = asyncio.Event()
            looked = 0
            real_lookup = orc.engine.lookup

            async def lookup(*args: Any, **kwargs: Any) -> Any:
                nonlocal looked
                found = await real_lookup(*args, **kwargs)
                looked += 1
                if looked == len(films):
                    assert orc._thread is not None
                    orc._thread.submit(hold.wait)  # the cache thread is busy for a while
                    arrived.set()
                await arrived.wait()
                return found

            orc.engine.lookup = lookup  # type: ignore[method-assign]

            async def one(film: Any) -> Any:
                try:
                    outcome = await orc.lookup(Ids(tmdb=film.tmdb))
                except Exception as exc:
                    return exc
                if check is not None:
                    check(film)
                return outcome

            tasks = [asyncio.ensure_future(one(film)) for film in films]
            await arrived.wait()
            while len(orc._unpersisted) < len(films):  # noqa: ASYNC110 - private state, no event
                await asyncio.sleep(0.001)
            hold.set()
            try:
                return list(await asyncio.gather(*tasks))
            finally:
                await orc.aclose()

    return asyncio.run(main()), sizes


FILMS = [MATRIX, HEAT, TITANIC_97, POSTMAN]


def test_waiting_persists_are_committed_together(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    checked: list[int] = []

    def reported(film: Any) -> None:  # runs as each lookup returns: it must be committed
        assert film.tmdb in stored_tmdb(db)
        checked.append(film.tmdb)

    outcomes, sizes = orchestrated(db, FILMS, check=reported)
    assert [o.status for o in outcomes] == ["identified"] * 4
    assert [o.movie.ids.tmdb for o in outcomes] == [f.tmdb for f in FILMS]
    assert sizes == [4]
    assert sorted(checked) == sorted(f.tmdb for f in FILMS)
    with Cache(db) as cache:
        for film in FILMS:
            cached = cache.get("tmdb", film.tmdb)
            assert cached is not None and set(cached.parts) == {"tmdb", "omdb", "fanart", "tvdb"}
            assert cache.identity(f"tmdb:{film.tmdb}") is not None


def test_a_failing_persist_fails_only_its_own_lookup(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "o.db"

    def persist(real: Callable[..., Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        done = real(query, *args, **kwargs)  # its writes are in, then it fails
        if query.ids.tmdb == HEAT.tmdb:
            raise RuntimeError("a bug after the commit")
        return done

    outcomes, sizes = orchestrated(db, FILMS, persist=persist)
    assert sizes == [4]
    assert isinstance(outcomes[1], RuntimeError)
    assert [o.status for i, o in enumerate(outcomes) if i != 1] == ["identified"] * 3
    assert stored_tmdb(db) == {MATRIX.tmdb, TITANIC_97.tmdb, POSTMAN.tmdb}


if __name__ == "__main__":
    write_groups(sys.argv[1], int(sys.argv[2]))
