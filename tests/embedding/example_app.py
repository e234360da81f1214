"""A host application embedding metarr, typed throughout (``mypy --strict`` checks it).

It configures metarr from code only (keys and URLs from its own environment: here the
variables ``metarr sim`` prints), then: identifies a library concurrently on its event loop,
serves lookups from 8 threads through the sync facade, searches with every provider down,
and checks that metarr left its logging alone. Each step prints one ``STEP …`` line.

    python tests/embedding/example_app.py DB_PATH
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from metarr import (
    BatchResult,
    ConfigError,
    Ids,
    Orchestrator,
    Outcome,
    Query,
    Settings,
    SyncOrchestrator,
)

PROVIDERS = ("tmdb", "omdb", "fanart", "tvdb")
LIBRARY = [
    ("The Matrix", 1999),
    ("Heat", 1995),
    ("Toy Story", 1995),
    ("Alien", 1979),
    ("Casablanca", 1942),
    ("War of the Worlds", 2005),
]
log = logging.getLogger("hostapp")


def settings_from_code(db: Path, *, base_url: str | None = None) -> Settings:
    """Settings built in code: each provider's key and URL from the host's own environment
    (or one URL for all, to play a network that is down)."""
    providers: dict[str, dict[str, str | float]] = {}
    for name in PROVIDERS:
        prefix = f"METARR_{name.upper()}_"
        url = base_url or os.environ[prefix + "BASE_URL"]
        providers[name] = {"api_key": os.environ[prefix + "API_KEY"], "base_url": url}
        if base_url is not None:
            providers[name]["timeout"] = 2.0
    return Settings(db=db, providers=providers, priority={"title": ("tmdb", "omdb")})


def queries() -> Iterator[Query]:
    for title, year in LIBRARY:
        yield Query(title=title, year=year, key=f"/movies/{title} ({year}).mkv")


async def scan(settings: Settings) -> list[BatchResult]:
    """Identify the whole library, 4 at a time, on this program's event loop."""
    async with Orchestrator(settings) as orc:
        async with orc.identify_many(queries(), concurrency=4) as batch:
            results = [result async for result in batch]
        waiting = await orc.queue()
    statuses = sorted(result.outcome.status for result in results)
    print(f"STEP scan {len(results)} {' '.join(statuses)} queued={len(waiting)}")
    return results


def from_threads(settings: Settings, tmdb_ids: list[int]) -> list[Outcome]:
    """One sync facade shared by 8 threads (as a web framework's worker threads would)."""
    with SyncOrchestrator(settings) as orc, ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda tmdb: orc.lookup(Ids(tmdb=tmdb)), tmdb_ids))
        cached = [orc.get(Ids(tmdb=tmdb)) for tmdb in tmdb_ids]
    found = sum(1 for movie in cached if movie is not None)
    statuses = {outcome.status for outcome in outcomes}
    print(f"STEP threads {len(outcomes)} {' '.join(sorted(statuses))} cached={found}")
    return outcomes


def typo_is_refused(db: Path) -> str:
    try:
        Settings(db=db, providers={"tmbd": {"api_key": "0123456789abcdef"}})
    except ConfigError as exc:
        print(f"STEP typo {exc}")
        return str(exc)
    raise AssertionError("a misspelled provider was accepted")


async def search_with_every_provider_down(db: Path) -> str:
    """Every provider unreachable: the search says it could not search (not "no such film")."""
    down = settings_from_code(db, base_url="http://127.0.0.1:9")  # the discard port: refused
    async with Orchestrator(down) as orc:
        found = await orc.search("Heat", 1995, details=0)
    statuses = ",".join(f"{name}={status}" for name, status in sorted(found.providers.items()))
    print(f"STEP search-down {found.status} candidates={len(found.candidates)} {statuses}")
    return found.status


def main() -> None:
    db = Path(sys.argv[1])
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="HOSTLOG %(name)s %(message)s"
    )
    handlers = list(logging.getLogger().handlers)
    factory = logging.getLogRecordFactory()
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name == "hostapp":
                kept.append(record)

    logging.getLogger().addHandler(Keep())
    handlers.append(logging.getLogger().handlers[-1])

    settings = settings_from_code(db)
    results = asyncio.run(scan(settings))
    tmdb_ids = [
        r.outcome.movie.ids.tmdb for r in results if r.outcome.movie and r.outcome.movie.ids.tmdb
    ]
    from_threads(settings, (tmdb_ids * 8)[:24])
    typo_is_refused(db)
    asyncio.run(search_with_every_provider_down(db.with_name("down.sqlite")))

    log.info("user %s logged in", "bob")
    untouched = (
        logging.getLogger().handlers == handlers
        and logging.getLogRecordFactory() is factory
        and [(r.msg, r.args) for r in kept] == [("user %s logged in", ("bob",))]
    )
    print(f"STEP logging untouched={untouched}")


if __name__ == "__main__":
    main()
