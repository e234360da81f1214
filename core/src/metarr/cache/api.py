"""`Cache`: committed truth about movies, and the queues around it, in one SQLite file.

The engine identifies in memory and calls `Cache.commit` only for a confirmed identity;
enrichment reads only from here. One `Cache` owns one connection: use it from one thread.
Any number of processes may share the file (WAL, busy timeout, ``BEGIN IMMEDIATE`` writes).
Every failure of the database, reads included, is a `StorageError` naming the cache file.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TextIO, TypeVar

import attrs

from metarr.cache import disputes, identities, provider_state, queues, store
from metarr.cache.database import (
    group_broken,
    group_transaction,
    open_database,
    write_transaction,
)
from metarr.cache.errors import Clash, IdConflictError, UnreadableMovieError
from metarr.cache.records import (
    DEFAULT_TTL_DAYS,
    IDENTITY_SOURCES,
    CachedMovie,
    CacheStats,
    ConfirmedIdentity,
    IdDispute,
    PendingRetry,
    ProviderPart,
    ProviderPause,
    QueuedIdentification,
)
from metarr.cache.schema import MOVIES, checked_version, migrate
from metarr.cache.store import OnUnreadable
from metarr.cache.times import from_text, system_clock, to_text, utc
from metarr.convert import to_json
from metarr.errors import StorageError
from metarr.freshness import FLAT, RefreshRules
from metarr.ids import Ids, parse_id
from metarr.models import Movie, Outcome, ProviderResult

if TYPE_CHECKING:
    from sqlite_utils import Database

log = logging.getLogger("metarr.cache")

# Strength of a part: a new part weaker than the stored one does not replace it.
_PART_RANK = {"ok": 2, "not_found": 1}

Merge = Callable[[Mapping[str, ProviderResult]], Movie]
P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E", bound=StorageError)


def _guarded(method: Callable[Concatenate[Cache, P], R]) -> Callable[Concatenate[Cache, P], R]:
    """Database failures (``sqlite3.Error``, `StorageError`) leave as `StorageError` naming the
    cache file."""

    @functools.wraps(method)
    def wrapper(self: Cache, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._naming_errors():
            return method(self, *args, **kwargs)

    return wrapper


@attrs.frozen(kw_only=True)
class MovieRef:
    """A cached movie's row id, ids and input key: read from its row alone, never unreadable."""

    id: int
    ids: Ids
    key: str | None = None


class Cache:
    """The metarr cache database. Opening it creates the file or upgrades its schema; with
    ``read_only`` it opens an existing cache of the current schema and never writes (a
    missing file, an older or newer schema is a `StorageError` saying what to do).

    ``ttl_days`` maps a provider to how many days its parts stay fresh (others:
    ``default_ttl_days``), stretched by the film's age as ``rules`` say
    (`metarr.freshness.RefreshRules`; None: as given, whatever the age; the `Orchestrator`
    passes its settings' rules). All datetimes are UTC;
    naive ones are taken to be UTC. Use one `Cache` from one thread at a time.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        ttl_days: Mapping[str, float] | None = None,
        default_ttl_days: float = DEFAULT_TTL_DAYS,
        clock: Callable[[], datetime] | None = None,
        read_only: bool = False,
        rules: RefreshRules | None = None,
    ) -> None:
        self.path = path
        self.rules = rules or FLAT
        self.ttl_days: dict[str, float] = dict(ttl_days or {})
        self.default_ttl_days = default_ttl_days
        self.read_only = read_only
        self._clock = clock or system_clock
        with self._naming_errors():
            self.conn = open_database(path, read_only=read_only)
            try:
                self.schema_version = (
                    checked_version(self.conn) if read_only else migrate(self.conn)
                )
            except BaseException:
                self.conn.close()
                raise
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    @functools.cached_property
    def db(self) -> Database:
        """The same connection as a sqlite-utils ``Database``, made on first use: for
        maintenance and introspection beyond this API (`metarr scan`'s bookkeeping, ad-hoc
        SQL). The cache's own reads and writes use the connection directly (``conn``)."""
        from sqlite_utils import Database

        return Database(self.conn, execute_plugins=False)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if not self._closed:
            self._closed = True
            self.conn.close()

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

    @contextlib.contextmanager
    def _naming_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(f"cache {self.path}: {exc}") from exc
        except StorageError as exc:
            raise self._named(exc) from exc.__cause__

    def _named(self, exc: E) -> E:
        """``exc`` with the cache file in its message."""
        if str(self.path) not in str(exc):
            exc.args = (f"cache {self.path}: {exc}", *exc.args[1:])
        return exc

    def _naming(self, handler: OnUnreadable | None) -> OnUnreadable | None:
        """``handler``, given errors that name the cache file."""
        if handler is None:
            return None
        return lambda exc: handler(self._named(exc))

    # -- reads -----------------------------------------------------------------------------

    @_guarded
    def get(self, kind: str, value: int | str, *, parts: bool = True) -> CachedMovie | None:
        """The cached movie whose ``kind`` id (tmdb, imdb, tvdb) is ``value``; without
        ``parts``, its merged record only (a light read: see `CachedMovie`).

        `UnreadableMovieError` (a `StorageError`) when its stored data cannot be read.
        """
        if not parts:
            row = store.light_row(self.conn, kind, value)
            return None if row is None else store.to_light(row)
        rows = store.rows_by_id(self.conn, kind, value)
        return store.load(self.conn, rows)[0] if rows else None

    @_guarded
    def find(self, ids: Ids, *, parts: bool = True) -> CachedMovie | None:
        """The first cached movie matching any of ``ids`` (tried in tmdb, imdb, tvdb order)."""
        for kind, value in ids.items():
            found = self.get(kind, value, parts=parts)
            if found is not None:
                return found
        return None

    @_guarded
    def find_all(self, ids: Ids) -> list[CachedMovie]:
        """Every cached movie sharing an id with ``ids`` (more than one means a conflict)."""
        return store.load(self.conn, store.rows_matching(self.conn, ids))

    @_guarded
    def ref(self, ids: Ids) -> MovieRef | None:
        """Row id, ids and key of the first cached movie matching any of ``ids``, read from
        its row alone (works for a movie whose stored data cannot be read)."""
        for kind, value in ids.items():
            rows = store.rows_by_id(self.conn, kind, value)
            if rows:
                return _ref(rows[0])
        return None

    @_guarded
    def ref_by_id(self, movie_id: int) -> MovieRef | None:
        """`ref` by row id."""
        row = store.movie_row(self.conn, movie_id)
        return _ref(row) if row is not None else None

    def iter_movies(self, on_unreadable: OnUnreadable | None = None) -> Iterator[CachedMovie]:
        """Every cached movie, in row order, loaded in batches.

        An unreadable movie raises `UnreadableMovieError`; with ``on_unreadable`` it is handed
        to that function instead and skipped.
        """
        with self._naming_errors():
            yield from store.iter_movies(self.conn, on_unreadable=self._naming(on_unreadable))

    def unreadable(self) -> Iterator[UnreadableMovieError]:
        """Every cached movie whose stored data cannot be read (reads the whole cache)."""
        with self._naming_errors():
            for row in store.iter_rows(self.conn):
                try:
                    store.load(self.conn, [row])
                except UnreadableMovieError as exc:
                    yield self._named(exc)

    @_guarded
    def id_disputes(self, movie_id: int) -> tuple[IdDispute, ...]:
        """The id disputes naming this movie (as holder or as claimant)."""
        return disputes.load(self.conn, [movie_id]).get(movie_id, ())

    @_guarded
    def stale_providers(
        self, cached: CachedMovie, now: datetime | None = None, *, expected: Collection[str] = ()
    ) -> list[str]:
        """Providers to ask again about a cached movie, sorted: its parts past their provider's
        TTL stretched by the film's age (counted from the fetch, or from a later confirmation
        that the part is current), plus `CachedMovie.missing_providers`."""
        moment = self._at(now)
        stale = set(cached.missing_providers(expected))
        checks: dict[str, tuple[datetime, str]] | None = None  # read only when a part is old
        for name, part in cached.parts.items():
            ttl = self.rules.ttl(
                self.ttl_days.get(name, self.default_ttl_days), cached.movie.year, moment
            )
            if part.fetched_at + ttl > moment:
                continue
            if checks is None:
                from metarr.cache import maintenance  # loaded when first needed: not by lookups

                checks = maintenance.part_checks(self.conn, cached.id)
            if name not in checks or checks[name][0] + ttl <= moment:
                stale.add(name)
        return sorted(stale)

    @_guarded
    def part_checks(self, movie_id: int) -> dict[str, tuple[datetime, str]]:
        """When and how each part of a movie was last confirmed current without a refetch."""
        from metarr.cache import maintenance

        return maintenance.part_checks(self.conn, movie_id)

    @_guarded
    def feed_since(self, provider: str, after: datetime) -> datetime | None:
        """Where ``provider``'s change feed must start to vouch for every answered part it can
        (the oldest fetch or confirmation later than ``after``; None: no such part)."""
        from metarr.cache import maintenance

        return maintenance.feed_since(self.conn, provider, utc(after))

    @_guarded
    def record_feed(
        self,
        provider: str,
        kinds: Collection[str],
        since: datetime,
        changed: Collection[str],
        note: str,
        at: datetime | None = None,
    ) -> set[int]:
        """Apply what ``provider``'s change feed listed as changed (its ``kinds`` of id, as
        text) from ``since`` to ``at`` (default: now): its answered parts current at ``since``
        are confirmed current at ``at`` with ``note`` (they count as fresh from then), or,
        listed, marked changed (no confirmation until fetched again). Returns the ids of the
        movies confirmed."""
        with write_transaction(self.conn) as db:
            from metarr.cache import maintenance

            return maintenance.record_feed(
                db, provider, kinds, utc(since), changed, self._at(at), note
            )

    # -- commit ----------------------------------------------------------------------------

    @_guarded
    def commit(
        self,
        movie: Movie,
        parts: Mapping[str, ProviderPart],
        *,
        merge: Merge | None = None,
        key: str | None = None,
        confirmed_by: str | None = None,
        input: Mapping[str, Any] | None = None,
        given: Ids | None = None,
    ) -> CachedMovie:
        """Store a confirmed movie and its provider parts in one transaction.

        *Which rows.* The stored rows that are this movie, the ones sharing an id with
        ``movie.ids`` whose ids agree with it wherever both have one, become one record (the
        lowest row id): ``{tmdb 603}`` and ``{imdb tt0133093}`` rows merge into one carrying
        both. A row that shares an id but contradicts another is a different movie and is
        never deleted or rewritten.

        *Parts.* A new part replaces its provider's stored part unless it is weaker (``ok``
        beats ``not_found`` beats a failure) or, equally strong, older; stored parts of
        providers not in ``parts`` stay as they are, fetch times included.

        *The record.* With ``merge``, the record is ``merge(results of the final parts)``,
        computed here under the write lock, so it always reflects what is stored, whatever
        another process committed meanwhile; without it, ``movie`` is stored as given.

        *Disputed ids.* An id of the record that a different cached movie holds stays with that
        movie: the record is committed without it and the dispute is recorded (kind, value,
        holder, claimant, the provider that gave it, when; see `CachedMovie.disputes`). When a
        disputed id is one of ``given`` (the ids the caller gave), nothing is written and
        `IdConflictError` names both movies.

        *Key.* The key moves here from any other movie and leaves both queues; with
        ``confirmed_by`` the identity (the ids committed) is recorded too.
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
        with write_transaction(self.conn) as db:
            matching = store.rows_matching(db, movie.ids)
            same = disputes.same_movie(matching, movie.ids)
            same_ids = [int(row["id"]) for row in same]
            stored = store.part_rows(db, same_ids)
            final = _final_parts([row for i in same_ids for row in stored[i]], parts)
            by_id = {int(row["id"]): row for row in same}
            loaded = {name: _read(part, by_id) for name, part in final.items()}
            if merge is not None:
                results = {n: p.result for n, p in loaded.items() if p.result is not None}
                if not results:
                    raise ValueError("nothing to merge: no part holds a result")
                record = merge(results)
            else:
                record = movie
            record, clashes = _without_disputed(db, record, set(same_ids), (movie.ids, matching))
            blocking = [c for c in clashes if given is not None and given.get(c.kind) == c.value]
            if blocking or not record.ids:
                raise IdConflictError(disputes.label(_columns(record)), blocking or clashes)
            try:
                identified_at = min((from_text(r["identified_at"]) for r in same), default=now)
            except ValueError:
                identified_at = now  # an unreadable stamp (`metarr cache repair` fixes it)
            keep = same_ids[0] if same_ids else None
            columns: dict[str, Any] = {
                "identified_at": to_text(identified_at),
                "refreshed_at": to_text(now),
            }
            raw_input = store.dumps(dict(input)) if input is not None else None
            if key is not None:
                db.execute(
                    f"UPDATE {MOVIES} SET input_key = NULL, input = NULL WHERE input_key = ?",
                    [key],
                )
            elif same:
                owner = next((row for row in same if row.get("input_key")), same[0])
                key = owner.get("input_key")
                if input is None:
                    raw_input = owner.get("input")
            columns.update(input_key=key, input=raw_input)
            if keep is None:
                keep = store.insert_movie(
                    db,
                    movie=record,
                    identified_at=identified_at,
                    refreshed_at=now,
                    key=key,
                    input=input,
                )
            else:
                disputes.move(db, same_ids[1:], keep)
                store.delete_movies(db, same_ids[1:])
                store.update_movie(db, keep, record, **columns)
            store.write_parts(
                db,
                same_ids,
                keep,
                [
                    p if isinstance(p, dict) else store.part_row(keep, p)
                    for _, p in sorted(final.items())
                ],
            )
            for clash in clashes:
                disputes.record(
                    db,
                    kind=clash.kind,
                    value=clash.value,
                    holder_id=clash.holder_id,
                    claimant_id=keep,
                    provider=clash.provider,
                    now=now,
                )
            # A new row without clashes is named by no dispute: nothing to settle or read.
            fresh = not same and not clashes
            if not fresh:
                disputes.settle(db, keep)
            if key is not None:
                queues.remove(db, "identification_queue", key)
                queues.remove(db, "retry_queue", key)
                if confirmed_by is not None:
                    identities.confirm(db, key, record.ids, confirmed_by, now)
            known = () if fresh else disputes.load(db, [keep]).get(keep, ())
        return CachedMovie(
            id=keep,
            movie=record,
            identified_at=identified_at,
            refreshed_at=now,
            parts=dict(sorted(loaded.items())),
            key=key,
            input=_input(raw_input),
            disputes=known,
        )

    def together(self, calls: Sequence[Callable[[], R]]) -> list[tuple[R | None, Exception | None]]:
        """Run ``calls`` (each writing through this cache) in one write transaction: each in
        its own ``SAVEPOINT``, so one that fails rolls back only its own writes, and all of
        them land with one ``COMMIT`` (a group commit: fewer commits for writes that wait at
        the same moment). Returns each call's ``(result, None)`` or ``(None, error)``, in
        order, once the ``COMMIT`` is done: nothing is stored before that, and a killed
        process loses every call of the group, none of which has returned yet.

        A lone call runs in its own transaction, as if called directly. When the group as a
        whole fails (its ``COMMIT``, or an error that made SQLite roll the whole transaction
        back: a full disk, an I/O error), each call runs again alone, so one call's failure
        never costs the others theirs.
        """
        if len(calls) > 1:
            done: list[tuple[R | None, Exception | None]] = []
            try:
                with self._naming_errors(), group_transaction(self.conn):
                    for call in calls:
                        try:
                            with write_transaction(self.conn):
                                done.append((call(), None))
                        except Exception as exc:
                            if group_broken(self.conn):
                                raise
                            done.append((None, exc))
            except Exception as exc:
                log.debug("group commit of %d failed (%s): one at a time", len(calls), exc)
            else:
                return done
        return [_alone(call) for call in calls]

    @_guarded
    def remerge(
        self,
        merge: Merge,
        movie_ids: Iterable[int] | None = None,
        *,
        on_unreadable: OnUnreadable | None = None,
    ) -> int:
        """Rebuild merged records from the stored parts; return how many were rebuilt.

        Each movie is read and rewritten in its own write transaction, so what is rebuilt is
        what is stored at that moment, and movies are streamed one at a time (memory does not
        grow with the cache). Only the merged record, its child rows and its id columns change
        (an id another movie holds becomes a dispute, as in `commit`); parts, input, key and
        timestamps stay. A movie whose parts cannot be read raises `UnreadableMovieError`, or
        with ``on_unreadable`` is handed to it and skipped; a movie without any result is
        left alone.
        """
        done = 0
        for movie_id in store.iter_ids(self.conn) if movie_ids is None else movie_ids:
            try:
                with write_transaction(self.conn) as db:
                    done += _remerge_one(db, movie_id, merge, self.now())
            except UnreadableMovieError as exc:
                if on_unreadable is None:
                    raise
                on_unreadable(self._named(exc))
        return done

    @_guarded
    def forget(self, ids: Ids) -> int:
        """Delete every cached movie sharing an id with ``ids``; return how many."""
        with write_transaction(self.conn) as db:
            row_ids = [row["id"] for row in store.rows_matching(db, ids)]
            store.delete_movies(db, row_ids)
        return len(row_ids)

    @_guarded
    def drop(self, movie_id: int) -> bool:
        """Delete one cached movie by row id (readable or not); True when it was there."""
        with write_transaction(self.conn) as db:
            there = store.movie_row(db, movie_id) is not None
            store.delete_movies(db, [movie_id])
        return there

    @_guarded
    def drop_unreadable_parts(self, movie_id: int) -> list[str]:
        """Delete what of a movie cannot be read: its unreadable parts, an unreadable input
        (its key stays), unreadable timestamps (set to now). Returns what was dropped. The
        merged record is rebuilt by the next commit or `remerge`."""
        dropped: list[str] = []
        with write_transaction(self.conn) as db:
            row = store.movie_row(db, movie_id)
            if row is None:
                return dropped
            for part in store.part_rows(db, [movie_id])[movie_id]:
                try:
                    store.to_part(part)
                except ValueError as exc:
                    dropped.append(str(exc).removeprefix("its "))
                    db.execute(
                        "DELETE FROM provider_parts WHERE movie_id = ? AND provider = ?",
                        [movie_id, part["provider"]],
                    )
            if row.get("input"):
                try:
                    json.loads(row["input"])
                except ValueError:
                    dropped.append("its input")
                    db.execute(f"UPDATE {MOVIES} SET input = NULL WHERE id = ?", [movie_id])
            for column in ("identified_at", "refreshed_at"):
                try:
                    from_text(row[column])
                except (TypeError, ValueError):
                    dropped.append(f"its {column.replace('_', ' ')} time")
                    db.execute(
                        f"UPDATE {MOVIES} SET {column} = ? WHERE id = ?",
                        [to_text(self.now()), movie_id],
                    )
        return dropped

    # -- queues ----------------------------------------------------------------------------

    @_guarded
    def queue_identification(
        self, key: str, input: Mapping[str, Any], outcome: Outcome, *, reviewed: bool = False
    ) -> None:
        """Queue ``key`` for a person (outcome ambiguous, not_found or conflict); with
        ``reviewed``, marked as reviewed by a person who chose none of the candidates."""
        with write_transaction(self.conn) as db:
            queues.queue_identification(db, key, input, outcome, self.now(), reviewed=reviewed)

    @_guarded
    def mark_reviewed(self, key: str) -> bool:
        """Mark the queued ``key`` reviewed (a person chose none of its candidates; it stays
        queued). False when ``key`` is not queued."""
        with write_transaction(self.conn) as db:
            return queues.mark_reviewed(db, key, self.now())

    @_guarded
    def identification_queue(self) -> list[QueuedIdentification]:
        """Inputs waiting for a person, oldest first."""
        return queues.identification_queue(self.conn)

    @_guarded
    def queued(self, key: str) -> QueuedIdentification | None:
        """The queued identification for ``key`` (None when it needs no person)."""
        return queues.queued(self.conn, key)

    @_guarded
    def input_state(self, key: str) -> queues.InputState:
        """The identity of ``key``, its entry waiting for a person and its pending retry, read
        in one query (`identity`, `queued` and `pending_retry` together)."""
        return queues.input_state(self.conn, key)

    @_guarded
    def dequeue_identification(self, key: str) -> None:
        """Remove ``key`` from the identification queue."""
        with write_transaction(self.conn) as db:
            queues.remove(db, "identification_queue", key)

    @_guarded
    def schedule_retry(
        self, key: str, input: Mapping[str, Any], provider: str, not_before: datetime, reason: str
    ) -> None:
        """Identify ``key`` again once ``not_before`` has passed (replaces an earlier retry)."""
        with write_transaction(self.conn) as db:
            queues.schedule_retry(db, key, input, provider, not_before, reason, self.now())

    @_guarded
    def due_retries(self, now: datetime | None = None) -> list[PendingRetry]:
        """Retries whose time has come, earliest first."""
        return queues.due_retries(self.conn, self._at(now))

    @_guarded
    def pending_retry(self, key: str) -> PendingRetry | None:
        """The retry scheduled for ``key``, due or not."""
        return queues.pending_retry(self.conn, key)

    @_guarded
    def clear_retry(self, key: str) -> None:
        """Drop the retry for ``key``."""
        with write_transaction(self.conn) as db:
            queues.remove(db, "retry_queue", key)

    # -- provider state --------------------------------------------------------------------

    @_guarded
    def pause_provider(self, provider: str, until: datetime, reason: str) -> None:
        """Do not ask ``provider`` before ``until`` (a longer pause in force is kept)."""
        with write_transaction(self.conn) as db:
            provider_state.pause_provider(db, provider, until, reason, self.now())

    @_guarded
    def resume_provider(self, provider: str) -> None:
        """Lift a pause on ``provider`` before it ends."""
        with write_transaction(self.conn) as db:
            provider_state.resume_provider(db, provider, self.now())

    @_guarded
    def paused_providers(self, now: datetime | None = None) -> dict[str, ProviderPause]:
        """Pauses still in force, by provider."""
        return provider_state.paused_providers(self.conn, self._at(now))

    @_guarded
    def reserve_requests(self, provider: str, day: str, count: int, limit: int) -> bool:
        """Count ``count`` more of ``provider``'s requests on UTC ``day`` (``YYYY-MM-DD``) if
        the day's count stays within ``limit``; False, counting nothing, otherwise. Atomic
        across processes sharing the cache."""
        with write_transaction(self.conn) as db:
            return provider_state.reserve_requests(db, provider, day, count, limit)

    @_guarded
    def add_requests(self, provider: str, day: str, count: int) -> None:
        """Correct ``provider``'s count on ``day`` by ``count`` (negative: fewer were sent)."""
        if count:
            with write_transaction(self.conn) as db:
                provider_state.add_requests(db, provider, day, count)

    @_guarded
    def requests_on(self, provider: str, day: str) -> int:
        """``provider``'s requests counted on UTC ``day``."""
        return provider_state.requests_on(self.conn, provider, day)

    # -- identities ------------------------------------------------------------------------

    @_guarded
    def confirm_identity(self, key: str, ids: Ids, *, by: str) -> None:
        """Record the ids for ``key``, chosen ``by`` a person, a lookup or a search.

        A person's choice is never replaced by a lookup's or a search's.
        """
        with write_transaction(self.conn) as db:
            identities.confirm(db, key, ids, by, self.now())

    @_guarded
    def identity(self, key: str) -> ConfirmedIdentity | None:
        """The ids confirmed for ``key``."""
        return identities.identity(self.conn, key)

    @_guarded
    def export_identities(self, out: TextIO) -> int:
        """Write every identity as JSON Lines; return how many."""
        return identities.export(self.conn, out)

    @_guarded
    def import_identities(self, src: TextIO) -> int:
        """Read JSON Lines from `export_identities`, all or nothing; return how many were
        written. On a conflict a person's choice wins, then the newer one."""
        items = [
            identities.parse_line(line, number)
            for number, line in enumerate(src, start=1)
            if line.strip()
        ]
        with write_transaction(self.conn) as db:
            return sum(identities.record(db, item) for item in items)

    # -- maintenance -----------------------------------------------------------------------

    @_guarded
    def stale_ids(self, now: datetime | None = None) -> list[int]:
        """Row ids of movies with a part past its provider's TTL or needing a fill-in."""
        from metarr.cache import maintenance

        return maintenance.stale_movie_ids(
            self.conn, self.ttl_days, self.default_ttl_days, self._at(now), self.rules
        )

    @_guarded
    def incomplete_ids(self, providers: Collection[str] = ()) -> list[int]:
        """Row ids of movies with a part that needs a fill-in (or, for ``providers``, none)."""
        from metarr.cache import maintenance

        missing = maintenance.missing_by_provider(self.conn, providers)
        return sorted(set().union(*missing.values()))

    def stale(
        self, now: datetime | None = None, *, on_unreadable: OnUnreadable | None = None
    ) -> list[CachedMovie]:
        """Movies with a part past its provider's TTL, or a part that needs a fill-in."""
        return self._load_ids(self.stale_ids(now), on_unreadable)

    def incomplete(
        self, providers: Collection[str] = (), *, on_unreadable: OnUnreadable | None = None
    ) -> list[CachedMovie]:
        """Movies with a part that needs a fill-in (or, for ``providers``, no part at all)."""
        return self._load_ids(self.incomplete_ids(providers), on_unreadable)

    @_guarded
    def stats(self, now: datetime | None = None, providers: Collection[str] = ()) -> CacheStats:
        """Counts of movies, stale and incomplete ones, queue sizes and the database size."""
        moment = self._at(now)
        from metarr.cache import maintenance

        missing = maintenance.missing_by_provider(self.conn, providers)
        stale = maintenance.stale_movie_ids(
            self.conn, self.ttl_days, self.default_ttl_days, moment, self.rules
        )
        return CacheStats(
            movies=_count(self.conn, MOVIES),
            stale=len(stale),
            incomplete=len(set().union(*missing.values())),
            missing_by_provider={name: len(ids) for name, ids in missing.items()},
            identification_queue=_count(self.conn, "identification_queue"),
            retry_queue=_count(self.conn, "retry_queue"),
            retries_due=len(self.due_retries(moment)),
            paused_providers=tuple(self.paused_providers(moment)),
            identities=_count(self.conn, "identities"),
            db_bytes=maintenance.db_bytes(self.conn),
            schema_version=self.schema_version,
            id_disputes=disputes.count(self.conn),
        )

    @_guarded
    def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Delete orphaned child rows, ended pauses, void disputes and queue entries for
        cached movies."""
        with write_transaction(self.conn) as db:
            from metarr.cache import maintenance

            counts = maintenance.prune(db, self._at(now))
            counts["void_disputes"] = disputes.settle(db)
        with contextlib.suppress(Exception):
            self.conn.execute("PRAGMA optimize")
        return counts

    @_guarded
    def export_movies(self, out: TextIO, *, on_unreadable: OnUnreadable | None = None) -> int:
        """Write every cached movie as one line of the JSON contract; return how many.

        An unreadable movie raises `UnreadableMovieError`; with ``on_unreadable`` it is handed
        to that function and left out.
        """
        from metarr.cache import maintenance

        return maintenance.export_movies(self.conn, out, self._naming(on_unreadable))

    @_guarded
    def _load_ids(
        self, movie_ids: list[int], on_unreadable: OnUnreadable | None
    ) -> list[CachedMovie]:
        found: list[CachedMovie] = []
        for start in range(0, len(movie_ids), 500):
            chunk = movie_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.extend(
                store.iter_movies(
                    self.conn, f"id IN ({marks})", chunk, on_unreadable=self._naming(on_unreadable)
                )
            )
        return found


def _alone(call: Callable[[], R]) -> tuple[R | None, Exception | None]:
    try:
        return call(), None
    except Exception as exc:
        return None, exc


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _ref(row: Mapping[str, Any]) -> MovieRef:
    return MovieRef(id=int(row["id"]), ids=disputes.row_ids(row), key=row.get("input_key"))


def _rank(status: str) -> int:
    return _PART_RANK.get(status, 0)


def _final_parts(
    stored: list[dict[str, Any]], new: Mapping[str, ProviderPart]
) -> dict[str, dict[str, Any] | ProviderPart]:
    """Each provider's part after a commit: stored rows (of every row being merged) and the
    new parts, the stronger winning, then the newer (stored rows are not parsed here)."""
    final: dict[str, dict[str, Any] | ProviderPart] = {}
    strength: dict[str, tuple[int, str]] = {}
    for row in stored:
        rank = (_rank(row["status"]), str(row["fetched_at"]))
        if row["provider"] not in strength or rank > strength[row["provider"]]:
            final[row["provider"]] = row
            strength[row["provider"]] = rank
    for name, part in new.items():
        if name not in strength or (_rank(part.status), to_text(part.fetched_at)) >= strength[name]:
            final[name] = part
    return final


def _read(
    part: dict[str, Any] | ProviderPart, rows: Mapping[int, Mapping[str, Any]]
) -> ProviderPart:
    if isinstance(part, ProviderPart):
        return part
    try:
        return store.to_part(part)
    except ValueError as exc:
        raise store.unreadable(rows[int(part["movie_id"])], str(exc)) from exc


def _columns(movie: Movie) -> dict[str, Any]:
    return {
        "title": movie.title,
        "year": movie.year,
        **{f"{k}_id": v for k, v in movie.ids.items()},
    }


def _without_disputed(
    db: sqlite3.Connection,
    record: Movie,
    own: Collection[int],
    read: tuple[Ids, list[dict[str, Any]]] | None = None,
) -> tuple[Movie, list[Clash]]:
    """The record without the ids that rows other than ``own`` hold, and those clashes.
    ``read``: ids whose matching rows were read in this transaction, and those rows (read
    again only when the record has an id they do not cover)."""
    clashes = []
    covered = read is not None and all(read[0].get(k) == v for k, v in record.ids.items())
    found = read[1] if read is not None and covered else store.rows_matching(db, record.ids)
    holders = [row for row in found if int(row["id"]) not in own]
    for kind, value in record.ids.items():
        for row in holders:
            if row[store.id_column(kind)] == parse_id(kind, value):
                clashes.append(
                    Clash(
                        kind=kind,
                        value=value,
                        holder_id=int(row["id"]),
                        holder=disputes.label(row),
                        holder_ids=disputes.row_ids(row),
                        provider=record.provenance.get(f"ids.{kind}"),
                    )
                )
    if not clashes:
        return record, clashes
    taken = {clash.kind for clash in clashes}
    ids = Ids(**{kind: value for kind, value in record.ids.items() if kind not in taken})
    provenance = {k: v for k, v in record.provenance.items() if k.removeprefix("ids.") not in taken}
    return attrs.evolve(record, ids=ids, provenance=provenance), clashes


def _remerge_one(db: sqlite3.Connection, movie_id: int, merge: Merge, now: datetime) -> bool:
    """Rebuild one movie's record from its stored parts (inside the caller's transaction)."""
    row = store.movie_row(db, movie_id)
    if row is None:
        return False  # deleted meanwhile
    results: dict[str, ProviderResult] = {}
    for part_row in store.part_rows(db, [movie_id])[movie_id]:
        if part_row["status"] != "ok":
            continue
        try:
            part = store.to_part(part_row)
        except ValueError as exc:
            raise store.unreadable(row, str(exc)) from exc
        if part.result is not None:
            results[part.provider] = part.result
    if not results:
        return False
    record, clashes = _without_disputed(db, merge(results), {movie_id})
    if not record.ids:
        log.warning(
            "movie %s: every id of its rebuilt record is disputed; left as it was", movie_id
        )
        return False
    for clash in clashes:
        disputes.record(
            db,
            kind=clash.kind,
            value=clash.value,
            holder_id=clash.holder_id,
            claimant_id=movie_id,
            provider=clash.provider,
            now=now,
        )
    if store.pack(to_json(record)) != row["movie"]:
        store.update_movie(db, movie_id, record)
    disputes.settle(db, movie_id)
    return True


def _input(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
