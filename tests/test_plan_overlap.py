"""An identification's plan waits for nothing but its reads: it reads committed truth through
the reader on its own thread (never behind a commit on the cache thread), and the first requests
go out while the cache is opened for writing (the cache thread's first job), for an existing
cache as for a new one. What cannot be planned without the writer waits for it."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_providers import ALADDIN_A, HEAT, MATRIX, FakeWorld, fake_registry, fake_settings
from metarr import Ids, StorageError, SyncOrchestrator, orchestrator
from metarr.cache import Cache, CacheReader
from metarr.cache.schema import LATEST_VERSION, migrate
from metarr.http import new_client
from metarr.orchestrator import Orchestrator

pytestmark = pytest.mark.usefixtures("quick_retries")  # `world` comes from conftest.py


def run(db: Path, action: Callable[[Orchestrator], Coroutine[Any, Any, Any]]) -> Any:
    """``action`` with an orchestrator that opens (or makes) the cache at ``db`` itself."""

    async def main() -> Any:
        async with new_client() as client:
            cfg = fake_settings(db=db)
            orc = Orchestrator.from_parts(registry=fake_registry(client, cfg), settings=cfg)
            try:
                return await action(orc)
            finally:
                await orc.aclose()

    return asyncio.run(main())


def requests_seen_when_opened(
    monkeypatch: pytest.MonkeyPatch, world: FakeWorld, wait: float = 2.0
) -> list[int]:
    """The requests the providers had received when each cache was opened for writing
    (its opening waits up to ``wait`` seconds, on the cache thread, for a first one)."""
    seen: list[int] = []
    make = Cache.__init__

    def opening(self: Cache, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("read_only"):  # (a reader opens at once)
            deadline = time.monotonic() + wait
            while world.total == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            seen.append(world.total)
        make(self, *args, **kwargs)

    monkeypatch.setattr(Cache, "__init__", opening)
    return seen


def test_an_existing_cache_sends_the_first_requests_while_its_writer_opens(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "m.sqlite"
    Cache(db).close()
    seen = requests_seen_when_opened(monkeypatch, world)
    outcome = run(db, lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))
    assert outcome.status == "identified"
    assert len(seen) == 1 and seen[0] >= 1  # asked before the writer was open, not after
    with CacheReader(db) as reader:
        assert reader.get(Ids(tmdb=MATRIX.tmdb)) is not None


def test_a_new_cache_sends_the_first_requests_while_it_is_made(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = requests_seen_when_opened(monkeypatch, world)
    db = tmp_path / "new.sqlite"
    outcome = run(db, lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))
    assert outcome.status == "identified"
    assert world.total == 4
    assert len(seen) == 1 and seen[0] >= 1
    again = run(db, lambda o: o.lookup(Ids(tmdb=MATRIX.tmdb)))  # planned through its reader
    assert again.movie == outcome.movie
    assert world.total == 4  # answered by the cache: no request


def test_an_older_schema_is_upgraded_before_any_request(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = tmp_path / "older.sqlite"
    conn = sqlite3.connect(older, isolation_level=None)
    migrate(conn, upto=LATEST_VERSION - 1)
    conn.close()
    seen = requests_seen_when_opened(monkeypatch, world, wait=0.3)
    outcome = run(older, lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))
    assert outcome.status == "identified"
    assert seen == [0]  # the reader cannot read it: the plan waited for the upgrade
    with Cache(older) as cache:
        assert cache.schema_version == LATEST_VERSION


def test_a_paused_provider_is_not_asked_while_the_writer_opens(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "m.sqlite"
    with Cache(db) as cache:
        cache.pause_provider("omdb", datetime.now(UTC) + timedelta(hours=3), "quota reached")
    seen = requests_seen_when_opened(monkeypatch, world)
    outcome = run(db, lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))
    assert seen[0] >= 1
    assert outcome.providers["omdb"] == "rate_limited"
    assert not [r for r in world.served if r.startswith("omdb")]


def test_a_cached_answer_does_not_wait_for_the_cache_thread(
    world: FakeWorld, tmp_path: Path
) -> None:
    db = tmp_path / "m.sqlite"
    first = run(db, lambda o: o.lookup(Ids(tmdb=MATRIX.tmdb)))
    served = world.total
    release = threading.Event()

    async def action(orc: Orchestrator) -> Any:
        await orc.open()
        busy = asyncio.ensure_future(orc.with_cache(lambda _cache: release.wait(10)))
        try:
            await asyncio.sleep(0.05)  # the cache thread is taken (a commit, a lock wait)
            return await asyncio.wait_for(orc.lookup(Ids(imdb=MATRIX.imdb)), 5)
        finally:
            release.set()
            await busy

    again = run(db, action)
    assert again.movie == first.movie
    assert world.total == served


def test_a_cache_locked_by_another_writer_sends_the_requests_and_commits_after(
    world: FakeWorld, tmp_path: Path
) -> None:
    db = tmp_path / "m.sqlite"
    Cache(db).close()
    hold = 1.0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "conn.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            f"time.sleep({hold})\n"
            "conn.execute('ROLLBACK')\n",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        outcome = run(db, lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))
        elapsed = time.monotonic() - started
    finally:
        holder.wait(10)
    assert outcome.status == "identified"
    assert world.total == 4
    assert elapsed >= 0.5 * hold  # the commit waited for the lock
    with CacheReader(db) as reader:
        assert reader.get(Ids(tmdb=MATRIX.tmdb)) is not None


def test_a_cache_that_cannot_be_made_fails_the_call_that_needs_it(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Cache, *args: Any, **kwargs: Any) -> None:
        raise StorageError("cache /x: disk full")

    monkeypatch.setattr(Cache, "__init__", refuse)
    with pytest.raises(StorageError, match="disk full"):
        run(tmp_path / "new.sqlite", lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))


def test_an_existing_cache_whose_writer_cannot_open_fails_with_its_error(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "m.sqlite"
    Cache(db).close()
    make = Cache.__init__

    def refuse(self: Cache, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("read_only"):
            raise StorageError("cache /x: database is locked")
        make(self, *args, **kwargs)

    monkeypatch.setattr(Cache, "__init__", refuse)
    with pytest.raises(StorageError, match="database is locked"):
        run(db, lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))


def test_a_cache_path_that_cannot_be_a_file_fails_before_any_request(
    world: FakeWorld, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(StorageError):
        run(blocker / "new.sqlite", lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))
    assert world.total == 0


def test_a_new_cache_in_a_folder_it_cannot_write_is_opened_before_any_request(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(Checked at the decision: the tests may run as root, whom no folder refuses.)"""
    folder = tmp_path / "ro"
    folder.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != folder)
    seen = requests_seen_when_opened(monkeypatch, world, wait=0.3)
    outcome = run(folder / "new.sqlite", lambda o: o.lookup(Ids(imdb=MATRIX.imdb)))
    assert outcome.status == "identified"
    assert seen == [0]  # its error, were there one, would come before any request


def test_closing_while_the_writer_still_opens_closes_everything(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "new.sqlite"
    make = Cache.__init__
    opened: list[Cache] = []

    def slow(self: Cache, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("read_only"):
            time.sleep(0.3)
        make(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(Cache, "__init__", slow)
    before = {t.name for t in threading.enumerate()}

    async def action(orc: Orchestrator) -> None:
        await orc.open()  # returns at once: the file is being made

    run(db, action)
    assert db.is_file()
    assert opened and all(cache._closed for cache in opened)
    time.sleep(0.2)
    after = {t.name for t in threading.enumerate() if t.is_alive()}
    assert not {n for n in after - before if n.startswith("metarr")}


def test_two_orchestrators_making_one_new_cache_together_lose_nothing(
    world: FakeWorld, tmp_path: Path
) -> None:
    db = tmp_path / "new.sqlite"

    async def main() -> list[Any]:
        async with new_client() as client:
            cfg = fake_settings(db=db)
            orcs = [
                Orchestrator.from_parts(registry=fake_registry(client, cfg), settings=cfg)
                for _ in range(2)
            ]
            try:
                return list(
                    await asyncio.gather(
                        orcs[0].lookup(Ids(imdb=MATRIX.imdb)),
                        orcs[1].lookup(Ids(tmdb=MATRIX.tmdb)),
                        orcs[0].lookup(Ids(tmdb=949)),
                    )
                )
            finally:
                for orc in orcs:
                    await orc.aclose()

    outcomes = asyncio.run(main())
    assert [o.status for o in outcomes] == ["identified"] * 3
    assert outcomes[0].movie == outcomes[1].movie
    with CacheReader(db) as reader:
        assert sorted(m.ids.tmdb or 0 for m in reader.movies()) == [MATRIX.tmdb, 949]


@pytest.mark.parametrize("module", ["metarr.orchestrator", "metarr.cli.identify"])
def test_the_lookup_path_leaves_the_cache_write_path_to_the_cache_thread(module: str) -> None:
    probe = f"import json, sys, {module}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    imported = set(json.loads(done.stdout.strip().splitlines()[-1]))
    write_path = {
        "metarr.cache.api",
        "metarr.cache.store",
        "metarr.cache.queues",
        "metarr.cache.disputes",
        "metarr.cache.reader",
        "metarr.convert",
        "cattrs",
        "sqlite_utils",
    }
    assert not imported & write_path


@pytest.mark.parametrize("call", ["lookup", "with_cache", "get", "nothing"])
def test_nothing_that_needs_the_writer_waits_out_its_grace(
    world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    """The writer leaves the interpreter to the first requests for a moment (`WRITER_GRACE`),
    never to a job that needs it, nor to closing."""
    monkeypatch.setattr(orchestrator, "WRITER_GRACE", 30.0)
    actions: dict[str, Callable[[Orchestrator], Coroutine[Any, Any, Any]]] = {
        "lookup": lambda o: o.lookup(Ids(imdb=MATRIX.imdb)),
        "with_cache": lambda o: o.with_cache(Cache.stats),
        "get": lambda o: o.get(Ids(imdb=MATRIX.imdb)),
        "nothing": lambda o: o.open(),
    }
    started = time.monotonic()
    run(tmp_path / "new.sqlite", actions[call])
    assert time.monotonic() - started < 10


def test_threads_share_a_sync_orchestrator_while_its_new_cache_is_made(
    world: FakeWorld, tmp_path: Path
) -> None:
    db = tmp_path / "new.sqlite"
    cfg = fake_settings(db=db)
    films = [MATRIX, HEAT, ALADDIN_A, MATRIX]
    with (
        SyncOrchestrator.from_factory(
            lambda: Orchestrator.from_parts(registry=fake_registry(new_client(), cfg), settings=cfg)
        ) as orc,
        ThreadPoolExecutor(max_workers=len(films)) as pool,
    ):
        outcomes = list(pool.map(lambda f: orc.lookup(Ids(imdb=f.imdb)), films))
        cached = list(pool.map(lambda f: orc.get(Ids(tmdb=f.tmdb)), films))
    assert [o.status for o in outcomes] == ["identified"] * len(films)
    assert [c.movie.ids.tmdb if c else None for c in cached] == [f.tmdb for f in films]
    with CacheReader(db) as reader:
        assert sorted(m.ids.tmdb or 0 for m in reader.movies()) == sorted(
            {f.tmdb or 0 for f in films}
        )
