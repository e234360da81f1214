"""`Cache`: committed truth about movies, and the queues around it, in one SQLite file.

The engine identifies in memory and calls `Cache.commit` only for a confirmed identity;
enrichment reads only from here. One `Cache` owns one connection: use it from one thread.
Any number of processes may share the file (WAL, busy timeout, ``BEGIN IMMEDIATE`` writes).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from metarr.cache import identities, maintenance, provider_state, queues, store
from metarr.cache.database import open_database, write_transaction
from metarr.cache.records import (
    DEFAULT_TTL_DAYS,
    IDENTITY_SOURCES,
    CachedMovie,
    CacheStats,
    ConfirmedIdentity,
    PendingRetry,
    ProviderPart,
    ProviderPause,
    QueuedIdentification,
)
from metarr.cache.schema import MOVIES, migrate
from metarr.cache.times import from_text, system_clock, utc
from metarr.ids import Ids
from metarr.models import Movie, Outcome

# Strength of a part: a new part weaker than the stored one does not replace it.
_PART_RANK = {"ok": 2, "not_found": 1}


class Cache:
    """The metarr cache database. Opening it creates the file or upgrades its schema.

    ``ttl_days`` maps a provider to how many days its parts stay fresh (others:
    ``default_ttl_days``). All datetimes are UTC; naive ones are taken to be UTC.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        ttl_days: Mapping[str, float] | None = None,
        default_ttl_days: float = DEFAULT_TTL_DAYS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = path
        self.ttl_days: dict[str, float] = dict(ttl_days or {})
        self.default_ttl_days = default_ttl_days
        self._clock = clock or system_clock
        self.db = open_database(path)
        try:
            self.schema_version = migrate(self.db)
        except BaseException:
            self.db.close()
            raise
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if not self._closed:
            self._closed = True
            self.db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def now(self) -> datetime:
        """The cache's clock, in UTC."""
        return utc(self._clock())

    def _at(self, now: datetime | None) -> datetime:
        return utc(now) if now is not None else self.now()

    # -- reads -----------------------------------------------------------------------------

    def get(self, kind: str, value: int | str) -> CachedMovie | None:
        """The cached movie whose ``kind`` id (tmdb, imdb, tvdb) is ``value``."""
        rows = store.rows_by_id(self.db, kind, value)
        return store.load(self.db, rows)[0] if rows else None

    def find(self, ids: Ids) -> CachedMovie | None:
        """The first cached movie matching any of ``ids`` (tried in tmdb, imdb, tvdb order)."""
        for kind, value in ids.items():
            found = self.get(kind, value)
            if found is not None:
                return found
        return None

    def find_all(self, ids: Ids) -> list[CachedMovie]:
        """Every cached movie sharing an id with ``ids`` (more than one means a conflict)."""
        return store.load(self.db, store.rows_matching(self.db, ids))

    def iter_movies(self) -> Iterator[CachedMovie]:
        """Every cached movie, in row order, loaded in batches."""
        return store.iter_movies(self.db)

    def stale_providers(self, cached: CachedMovie, now: datetime | None = None) -> list[str]:
        """`CachedMovie.stale_providers` with this cache's TTLs."""
        return cached.stale_providers(
            self.ttl_days, self._at(now), default_ttl_days=self.default_ttl_days
        )

    # -- commit ----------------------------------------------------------------------------

    def commit(
        self,
        movie: Movie,
        parts: Mapping[str, ProviderPart],
        *,
        key: str | None = None,
        confirmed_by: str | None = None,
        input: Mapping[str, Any] | None = None,
    ) -> CachedMovie:
        """Store a confirmed movie and its provider parts in one transaction.

        Rows sharing any id with ``movie`` are replaced (several are merged into the lowest
        row id). A part that is not ``ok`` never replaces a stored ``ok`` part of its provider,
        and stored parts of providers not in ``parts`` are kept. The key leaves both queues;
        with ``confirmed_by`` the identity is recorded too.
        """
        if not movie.ids:
            raise ValueError("cannot cache a movie without ids")
        for name, part in parts.items():
            if part.provider != name:
                raise ValueError(f"part for {name!r} says it is from {part.provider!r}")
        if confirmed_by is not None:
            if key is None:
                raise ValueError("confirmed_by needs the input key")
            if confirmed_by not in IDENTITY_SOURCES:
                raise ValueError(
                    f"confirmed_by must be one of {', '.join(IDENTITY_SOURCES)}, "
                    f"not {confirmed_by!r}"
                )
        now = self.now()
        with write_transaction(self.db) as db:
            rows = store.rows_matching(db, movie.ids)
            row_ids = [row["id"] for row in rows]
            old_parts = store.part_rows(db, row_ids)
            merged = _merge_parts([old_parts[row_id] for row_id in row_ids], parts)
            identified_at = min((from_text(r["identified_at"]) for r in rows), default=now)
            if key is None and rows:
                key = rows[0].get("input_key")
                if input is None and rows[0].get("input"):
                    input = json.loads(rows[0]["input"])
            store.delete_movies(db, row_ids)
            if key is not None:
                db.execute(
                    f"UPDATE {MOVIES} SET input_key = NULL, input = NULL WHERE input_key = ?",
                    [key],
                )
            movie_id = store.insert_movie(
                db,
                movie_id=row_ids[0] if row_ids else None,
                movie=movie,
                parts=merged,
                identified_at=identified_at,
                refreshed_at=now,
                key=key,
                input=input,
            )
            if key is not None:
                queues.remove(db, "identification_queue", key)
                queues.remove(db, "retry_queue", key)
                if confirmed_by is not None:
                    identities.confirm(db, key, movie.ids, confirmed_by, now)
        return CachedMovie(
            id=movie_id,
            movie=movie,
            identified_at=identified_at,
            refreshed_at=now,
            parts=merged,
            key=key,
            input=dict(input) if input is not None else None,
        )

    def forget(self, ids: Ids) -> int:
        """Delete every cached movie sharing an id with ``ids``; return how many."""
        with write_transaction(self.db) as db:
            row_ids = [row["id"] for row in store.rows_matching(db, ids)]
            store.delete_movies(db, row_ids)
        return len(row_ids)

    # -- queues ----------------------------------------------------------------------------

    def queue_identification(self, key: str, input: Mapping[str, Any], outcome: Outcome) -> None:
        """Queue ``key`` for a person (outcome ambiguous, not_found or conflict)."""
        with write_transaction(self.db) as db:
            queues.queue_identification(db, key, input, outcome, self.now())

    def identification_queue(self) -> list[QueuedIdentification]:
        """Inputs waiting for a person, oldest first."""
        return queues.identification_queue(self.db)

    def queued(self, key: str) -> QueuedIdentification | None:
        """The queued identification for ``key`` (None when it needs no person)."""
        return queues.queued(self.db, key)

    def dequeue_identification(self, key: str) -> None:
        """Remove ``key`` from the identification queue."""
        with write_transaction(self.db) as db:
            queues.remove(db, "identification_queue", key)

    def schedule_retry(
        self, key: str, input: Mapping[str, Any], provider: str, not_before: datetime, reason: str
    ) -> None:
        """Identify ``key`` again once ``not_before`` has passed (replaces an earlier retry)."""
        with write_transaction(self.db) as db:
            queues.schedule_retry(db, key, input, provider, not_before, reason, self.now())

    def due_retries(self, now: datetime | None = None) -> list[PendingRetry]:
        """Retries whose time has come, earliest first."""
        return queues.due_retries(self.db, self._at(now))

    def pending_retry(self, key: str) -> PendingRetry | None:
        """The retry scheduled for ``key``, due or not."""
        return queues.pending_retry(self.db, key)

    def clear_retry(self, key: str) -> None:
        """Drop the retry for ``key``."""
        with write_transaction(self.db) as db:
            queues.remove(db, "retry_queue", key)

    # -- provider state --------------------------------------------------------------------

    def pause_provider(self, provider: str, until: datetime, reason: str) -> None:
        """Do not ask ``provider`` before ``until`` (a longer pause in force is kept)."""
        with write_transaction(self.db) as db:
            provider_state.pause_provider(db, provider, until, reason, self.now())

    def resume_provider(self, provider: str) -> None:
        """Lift a pause on ``provider`` before it ends."""
        with write_transaction(self.db) as db:
            provider_state.resume_provider(db, provider, self.now())

    def paused_providers(self, now: datetime | None = None) -> dict[str, ProviderPause]:
        """Pauses still in force, by provider."""
        return provider_state.paused_providers(self.db, self._at(now))

    # -- identities ------------------------------------------------------------------------

    def confirm_identity(self, key: str, ids: Ids, *, by: str) -> None:
        """Record the ids for ``key``, chosen ``by`` a person, a lookup or a search.

        A person's choice is never replaced by a lookup's or a search's.
        """
        with write_transaction(self.db) as db:
            identities.confirm(db, key, ids, by, self.now())

    def identity(self, key: str) -> ConfirmedIdentity | None:
        """The ids confirmed for ``key``."""
        return identities.identity(self.db, key)

    def export_identities(self, out: TextIO) -> int:
        """Write every identity as JSON Lines; return how many."""
        return identities.export(self.db, out)

    def import_identities(self, src: TextIO) -> int:
        """Read JSON Lines from `export_identities`, all or nothing; return how many were
        written. On a conflict a person's choice wins, then the newer one."""
        items = [
            identities.parse_line(line, number)
            for number, line in enumerate(src, start=1)
            if line.strip()
        ]
        with write_transaction(self.db) as db:
            return sum(identities.record(db, item) for item in items)

    # -- maintenance -----------------------------------------------------------------------

    def stale(self, now: datetime | None = None) -> list[CachedMovie]:
        """Movies with a part past its provider's TTL, or a part that needs a fill-in."""
        ids = maintenance.stale_movie_ids(
            self.db, self.ttl_days, self.default_ttl_days, self._at(now)
        )
        return self._load_ids(ids)

    def incomplete(self, providers: Collection[str] = ()) -> list[CachedMovie]:
        """Movies with a part that needs a fill-in (or, for ``providers``, no part at all)."""
        missing = maintenance.missing_by_provider(self.db, providers)
        return self._load_ids(sorted(set().union(*missing.values())))

    def stats(self, now: datetime | None = None, providers: Collection[str] = ()) -> CacheStats:
        """Counts of movies, stale and incomplete ones, queue sizes and the database size."""
        moment = self._at(now)
        missing = maintenance.missing_by_provider(self.db, providers)
        stale = maintenance.stale_movie_ids(self.db, self.ttl_days, self.default_ttl_days, moment)
        return CacheStats(
            movies=self.db[MOVIES].count,
            stale=len(stale),
            incomplete=len(set().union(*missing.values())),
            missing_by_provider={name: len(ids) for name, ids in missing.items()},
            identification_queue=self.db["identification_queue"].count,
            retry_queue=self.db["retry_queue"].count,
            retries_due=len(self.due_retries(moment)),
            paused_providers=tuple(self.paused_providers(moment)),
            identities=self.db["identities"].count,
            db_bytes=maintenance.db_bytes(self.db),
            schema_version=self.schema_version,
        )

    def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Delete orphaned child rows, ended pauses, and queue entries for cached movies."""
        with write_transaction(self.db) as db:
            counts = maintenance.prune(db, self._at(now))
        with contextlib.suppress(Exception):
            self.db.execute("PRAGMA optimize")
        return counts

    def export_movies(self, out: TextIO) -> int:
        """Write every cached movie as one line of the JSON contract; return how many."""
        return maintenance.export_movies(self.db, out)

    def _load_ids(self, movie_ids: list[int]) -> list[CachedMovie]:
        found: list[CachedMovie] = []
        for start in range(0, len(movie_ids), 500):
            chunk = movie_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = list(
                self.db.query(f"SELECT * FROM {MOVIES} WHERE id IN ({marks}) ORDER BY id", chunk)
            )
            found.extend(store.load(self.db, rows))
        return found


def _rank(status: str) -> int:
    return _PART_RANK.get(status, 0)


def _merge_parts(
    previous: list[list[dict[str, Any]]], new: Mapping[str, ProviderPart]
) -> dict[str, ProviderPart]:
    """Stored part rows (from every merged movie row) overlaid with the new parts.

    Between stored rows the stronger, then the newer wins; a new part replaces a stored one
    unless it is weaker. Stored rows are parsed only when they are kept.
    """
    kept: dict[str, dict[str, Any]] = {}
    for rows in previous:
        for row in rows:
            old = kept.get(row["provider"])
            if old is None or (_rank(row["status"]), row["fetched_at"]) > (
                _rank(old["status"]),
                old["fetched_at"],
            ):
                kept[row["provider"]] = row
    merged: dict[str, ProviderPart] = {}
    for name, part in new.items():
        old = kept.get(name)
        if old is None or _rank(part.status) >= _rank(old["status"]):
            merged[name] = part
            kept.pop(name, None)
    merged.update({name: store.to_part(row) for name, row in kept.items()})
    return dict(sorted(merged.items()))
