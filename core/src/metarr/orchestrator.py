"""The Python API for embedders: identify, search, confirm and refresh, memory first.

`Orchestrator` ties the engine (in-memory identification) to the cache (committed truth):
a fresh cached movie costs no request; a stale or incomplete one is refetched only from the
providers that need it; an identification is committed only once its identity is confirmed,
and inputs that need a person, or a provider that asked us to wait, go to the queues.

Use it as ``async with Orchestrator(settings) as orc: ...``; without an event loop, or from
threads, `metarr.SyncOrchestrator` has the same methods, blocking.

**Threads and the event loop.** Network work runs on the caller's event loop; no SQLite
call runs there. Writes (and waiting up to 30 s for another process's write lock) run on the
orchestrator's own cache thread, one connection owned by that one thread: public coroutines
hop there with `Orchestrator._db` (plain, sync functions of the `Cache`); new public methods
follow the same pattern. The identifications waiting to be persisted when the thread gets to
them are committed together (`_persist_soon`: one transaction, a savepoint each), and each is
reported only once that transaction is committed. Committed truth is read through a separate
read-only `CacheReader` (`get` in a worker thread, `_plan` on the plan thread, the plans waiting
for it read in one job), so a read never queues behind a commit or a write waiting for the lock.

**Opening.** `open` queues opening the cache for writing as the cache thread's first job and
does not wait for it: every later job of that thread runs after it. An existing cache of the
current schema is planned with through the reader at once; a file not made yet holds nothing
to plan with (`_Plan.blank`) until the writer has made it; anything else (a schema to upgrade,
a file the reader cannot open) waits for the writer, whose error, if any, is the one raised.
So the first requests go out while the write side opens.

**Automated or interactive.** Every identification takes ``interactive``: automated
(``False``, the default for every method but `confirm`) never waits out a 429 beyond a short
pause of TMDB and queues what needs a person; interactive (a person is waiting for this one
answer) retries with back-off. `confirm` records a person's choice and is interactive.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import attrs
import httpx

from metarr import http
from metarr.cache import (  # (the light names: records and errors)
    CachedMovie,
    ConfirmedIdentity,
    IdConflictError,
    ProviderPart,
    ProviderPause,
    QueuedIdentification,
    UnreadableMovieError,
)
from metarr.config import Settings
from metarr.engine import Engine, Identification, ProviderFailures, ProviderReport
from metarr.errors import ClosedError, PluginError, ProviderError, StorageError
from metarr.http import TrafficStats, new_client
from metarr.ids import Ids
from metarr.matching import fits_name, titles_of
from metarr.models import Candidate, Outcome, ProviderStatus, SearchResult
from metarr.plugins import Registry, build_registry
from metarr.query import Query
from metarr.redaction import install_log_redaction
from metarr.runner import DEFAULT_CONCURRENCY, Batch

if TYPE_CHECKING:  # the cache's write path loads on the cache thread (`Orchestrator.open`)
    from metarr.cache.api import Cache, MovieRef
    from metarr.cache.reader import CacheReader
    from metarr.cache.records import PendingRetry
    from metarr.scan.run import Scan

RETRY_DEFAULT = timedelta(minutes=1)
SEARCH_DETAILS = 5  # candidates of a person's search whose details are fetched
log = logging.getLogger("metarr.orchestrator")
FEED_CHUNK = timedelta(days=14)
"""How much of a change feed `Orchestrator.refresh_stale` asks for at once, newest first."""
WRITER_GRACE = 0.03
"""Seconds opening the cache for writing waits, unless a job needs it, while the first
identifications send their requests (`Orchestrator._open_writer`)."""
P = ParamSpec("P")
T = TypeVar("T")
Orc = TypeVar("Orc", bound="Orchestrator")


def _api(
    method: Callable[Concatenate[Orc, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[Orc, P], Coroutine[Any, Any, T]]:
    """A public coroutine: refused once the orchestrator is closed, opens it on first use,
    and counted while it runs (closing waits for the calls in progress)."""

    @functools.wraps(method)
    async def wrapper(self: Orc, /, *args: P.args, **kwargs: P.kwargs) -> T:
        await self._enter()
        try:
            return await method(self, *args, **kwargs)
        finally:
            self._leave()

    return wrapper


@attrs.frozen(kw_only=True)
class _Plan:
    """What the cache says before any request: an answer already, or what to ask."""

    answer: Outcome | None = None
    ids: Ids = attrs.field(factory=Ids)
    decided: bool = False
    cached: CachedMovie | None = None
    todo: list[str] | None = None
    pauses: dict[str, ProviderPause] = attrs.field(factory=dict)

    @classmethod
    def blank(cls, query: Query) -> _Plan:
        """The plan of an empty cache: ask about the input as given."""
        return cls(ids=query.ids)


class Orchestrator:
    """Identify movies with every enabled provider and keep the results in the cache.

    ``Orchestrator(settings)`` builds everything from `metarr.Settings` (no file, no
    variable: use `metarr.load_settings` for those); ``only``/``without`` pick providers for
    this orchestrator's life. Open it with ``async with`` (or let the first call open it) and
    close it with `aclose` (closing twice is harmless; a closed one raises
    `metarr.ClosedError`). Safe for any number of concurrent tasks on one event loop.
    """

    settings: Settings
    registry: Registry
    engine: Engine
    stats: TrafficStats
    ttl_days: dict[str, float]

    def __init__(
        self,
        settings: Settings,
        *,
        only: Iterable[str] | None = None,
        without: Iterable[str] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        install_log_redaction()
        client = new_client()
        stats = TrafficStats()
        registry = build_registry(
            settings,
            client,
            plugins=settings.provider_plugins(),
            only=only,
            without=without,
            stats=stats,
        )
        self._setup(settings, registry, None, client, True, stats, clock)

    @classmethod
    def from_parts(
        cls,
        *,
        registry: Registry,
        settings: Settings | None = None,
        cache: Cache | None = None,
        client: httpx.AsyncClient | None = None,
        stats: TrafficStats | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Orchestrator:
        """Build one around parts made elsewhere (tests; a host sharing a registry): an open
        ``cache`` is handed over (only the orchestrator's cache thread uses it from now on,
        and closing the orchestrator closes it); a ``client`` stays the caller's to close."""
        orchestrator = cls.__new__(cls)
        orchestrator._setup(
            settings or Settings(), registry, cache, client, False, stats or TrafficStats(), clock
        )
        return orchestrator

    def _setup(
        self,
        settings: Settings,
        registry: Registry,
        cache: Cache | None,
        client: httpx.AsyncClient | None,
        owns_client: bool,
        stats: TrafficStats,
        clock: Callable[[], datetime] | None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.stats = stats
        self._client = client
        self._owns_client = owns_client
        self._clock = clock or (lambda: datetime.now(UTC))
        self.engine = Engine(
            registry,
            language=settings.language,
            priority=settings.priority,
            tmdb_policy=settings.tmdb_policy,
        )
        self.ttl_days = provider_ttls(settings, registry)
        self._cache = cache
        self._reader: CacheReader | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._planning: ThreadPoolExecutor | None = None
        self._writer: Future[None] | None = None
        self._writer_error: BaseException | None = None
        self._wanted = threading.Event()  # a job needs the writer: it opens at once
        self._new_file = False
        self._opening: asyncio.Lock | None = None
        self._opened = False
        self._closed = False
        self._calls = 0
        self._idle: asyncio.Event | None = None
        self._unpersisted = _Waiting()
        self._unplanned = _Waiting()

    # -- lifetime ----------------------------------------------------------------------------

    async def __aenter__(self) -> Orchestrator:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the cache. The first call does this by itself.

        Opening it for writing (creating or upgrading it may wait for another process's write
        lock) is queued on the cache thread and not waited for when its reader can plan
        without it: see the module's notes. A cache that cannot be opened raises here when
        nothing can be planned without it, else in the first call that needs it."""
        if self._closed:
            raise ClosedError("the orchestrator is closed")
        if self._opened:
            return
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._opened or self._closed:
                return
            thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metarr-cache")
            planning = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metarr-plan")
            self._thread, self._planning = thread, planning
            try:
                await self._start(thread, planning)
            except BaseException:
                self._thread = self._planning = None
                await self._close_cache(thread)
                planning.shutdown(wait=False)
                raise
            self._opened = True

    async def _start(self, thread: ThreadPoolExecutor, planning: ThreadPoolExecutor) -> None:
        """`open`'s work: the writer queued, the reader opened (or known to be unneeded)."""
        loop = asyncio.get_running_loop()
        path = self._cache.path if self._cache is not None else self.settings.db
        exists = _is_file(path)
        if self._cache is None:
            self._new_file, self._writer_error = _new_file(path), None
            self._writer = thread.submit(self._open_writer, reader=not exists)
        if exists:
            try:
                self._reader = await loop.run_in_executor(planning, self._new_reader, path)
            except StorageError:  # a schema to upgrade, a file it cannot open: the writer's turn
                log.debug("the cache's reader waits for its writer", exc_info=True)
        if self._reader is None and not self._new_file:
            if self._writer is not None:
                self._wanted.set()
                await asyncio.wrap_future(self._writer)
            if exists and self._reader is None:
                self._reader = await loop.run_in_executor(planning, self._new_reader, path)

    def _open_writer(self, *, reader: bool) -> None:
        """On the cache thread, its first job: open (make, upgrade) the cache for writing, and
        its reader when ``reader`` (the file was not there to read before).

        It leaves the interpreter to the first requests for up to `WRITER_GRACE` unless a job
        needs the writer sooner: opening (importing the write path, making a file) holds the
        interpreter lock long enough to delay their sending and the first answers."""
        self._wanted.wait(WRITER_GRACE)
        cache = None
        try:
            cache = self._new_cache()
            if reader and _is_file(cache.path):
                self._reader = self._new_reader(cache.path)
        except BaseException as exc:
            if cache is not None:
                cache.close()
            self._writer_error = exc
            raise
        self._cache = cache  # (after the reader: a plan never finds the file it made blank)

    def _new_cache(self) -> Cache:
        from metarr.cache.api import Cache

        return Cache(
            self.settings.db, ttl_days=self.ttl_days, clock=self._clock, rules=self.settings.refresh
        )

    def _new_reader(self, path: str | Path) -> CacheReader:
        """A reader of ``path`` whose freshness is the writer's: a handed-over cache's own
        (`from_parts`), else this orchestrator's."""
        from metarr.cache.reader import CacheReader

        like = self._cache  # (None on the writer's own thread until it is opened)
        if like is None:
            return CacheReader(
                Path(path), ttl_days=self.ttl_days, clock=self._clock, rules=self.settings.refresh
            )
        return CacheReader(
            Path(path),
            ttl_days=like.ttl_days,
            default_ttl_days=like.default_ttl_days,
            clock=like.now,
            rules=like.rules,
        )

    @property
    def reader(self) -> CacheReader | None:
        """The read-only reader `get` and the plans use, once open (None for a cache not in a
        file, and until a new cache file is made)."""
        return self._reader

    @property
    def closed(self) -> bool:
        """True once `aclose` has begun."""
        return self._closed

    async def aclose(self) -> None:
        """Wait for the calls in progress, then close the HTTP client (when it is ours) and
        the cache. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._calls and self._idle is not None:
            await self._idle.wait()
        try:
            if self._client is not None and self._owns_client:
                await self._client.aclose()
        finally:
            await self._close_cache(self._thread)
            if self._planning is not None:
                self._planning.shutdown(wait=False)

    async def _close_cache(self, thread: ThreadPoolExecutor | None) -> None:
        """Close the cache and its reader: on the cache thread, after its jobs (the writer
        still opening included), when there is one."""
        if thread is None:
            self._close_now()
            return
        self._wanted.set()
        await asyncio.get_running_loop().run_in_executor(thread, self._close_now)
        thread.shutdown(wait=False)
        if self._writer is not None and self._writer_error is not None:
            log.debug("the cache could not be opened: %s", self._writer_error)

    def _close_now(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._cache is not None:
            self._cache.close()

    async def _enter(self) -> None:
        if self._closed:
            raise ClosedError("the orchestrator is closed")
        if not self._opened:
            await self.open()
        if self._idle is None:
            self._idle = asyncio.Event()
        self._calls += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._calls -= 1
        if self._calls == 0 and self._idle is not None:
            self._idle.set()

    async def _db(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``work`` (plain code using the cache: `_live_cache`) on the cache thread."""
        if self._thread is None:
            raise ClosedError("the orchestrator is closed")
        self._wanted.set()
        call = functools.partial(work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def _persist_soon(
        self,
        query: Query,
        identification: Identification,
        by: str,
        now: datetime,
        *,
        asked: Collection[str] | None,
    ) -> Identification:
        """`_persist` on the cache thread, committed together with the other persists waiting
        for the thread at the same moment (`Cache.together`: one transaction, a savepoint
        each). A lone persist is not held back for company: the thread takes whatever waits
        as soon as it is free. Returns once the ``COMMIT`` that stored it is done."""
        thread = self._thread
        if thread is None:
            raise ClosedError("the orchestrator is closed")
        call = functools.partial(self._persist, query, identification, by, now, asked=asked)
        self._wanted.set()
        result: Identification = await self._unpersisted.run(thread, call, self._persist_group)
        return result

    def _persist_group(
        self, calls: list[Callable[[], Any]]
    ) -> list[tuple[Any, BaseException | None]]:
        """On the cache thread: the waiting persists in one group commit."""
        return list(self._live_cache().together(calls))

    # -- identification ----------------------------------------------------------------------

    @_api
    async def lookup(
        self,
        ids: Ids,
        *,
        interactive: bool = False,
        refresh: bool = False,
        key: str | None = None,
    ) -> Outcome:
        """Identify by ids (lookup mode); commits when confirmed. ``refresh`` asks every
        provider again whatever the cache holds; ``key`` is your handle for the input."""
        query = Query(ids=ids, key=key)
        return (await self._run(query, interactive=interactive, refresh=refresh)).outcome

    @_api
    async def identify_title(
        self,
        title: str,
        year: int | None = None,
        *,
        interactive: bool = False,
        key: str | None = None,
    ) -> Outcome:
        """The title (+ year) decision; commits only a single confident match, queues the rest
        for a person."""
        query = Query(title=title, year=year, key=key)
        return (await self._run(query, interactive=interactive)).outcome

    @_api
    async def identify(
        self, query: Query, *, interactive: bool = False, refresh: bool = False
    ) -> Outcome:
        """Identify any input (ids, title, or both; ``query.key`` is your handle for it)."""
        return (await self._run(query, interactive=interactive, refresh=refresh)).outcome

    @_api
    async def run(
        self,
        query: Query,
        *,
        interactive: bool = False,
        refresh: bool = False,
        retry_queued: bool = False,
    ) -> Identification:
        """`identify`, returning the whole `Identification`: the outcome, each provider's
        report and the requests sent. ``retry_queued`` searches again for an input already
        waiting for a person (automated runs otherwise answer with its queued outcome)."""
        return await self._run(
            query, interactive=interactive, refresh=refresh, retry_queued=retry_queued
        )

    def identify_many(
        self,
        queries: Iterable[Query] | AsyncIterator[Query],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry_queued: bool = False,
    ) -> Batch:
        """Identify a stream of inputs, automated, at most ``concurrency`` at a time: an async
        iterator of `metarr.BatchResult` in the order they finish (see `metarr.Batch` for
        stopping, progress, and what ends it early). Rerunning the same inputs resumes:
        cached movies cost nothing, queued ones answer from the queue, due retries run."""
        return Batch(self._batch_run, queries, concurrency=concurrency, retry_queued=retry_queued)

    def scan(
        self,
        path: str | Path,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        dry_run: bool = False,
        retry_queued: bool = False,
    ) -> Scan:
        """Identify every movie item of the library at ``path``, automated: an async iterator
        of `metarr.ScanResult`, one per item (and per skipped entry, problem and remembered
        item gone from disk), items in the order they finish, at most ``concurrency`` at a
        time (`metarr.Scan`). Keys are paths relative to ``path`` with ``/`` separators.

        Rescanning is cheap: an unchanged item identified before costs no request and is not
        read again, a person's choice for a key is never overridden, a moved folder keeps its
        identity. ``dry_run`` walks and reads the evidence only (status ``dry_run``, nothing
        sent, nothing remembered)."""
        from metarr.scan.run import Scan  # (here: the scan modules load on first use)

        return Scan(
            self,
            Path(path),
            concurrency=concurrency,
            dry_run=dry_run,
            retry_queued=retry_queued,
        )

    def retry_due(self, *, concurrency: int = DEFAULT_CONCURRENCY) -> Batch:
        """Identify again every input whose scheduled retry is due (a provider asked us to
        wait): a `metarr.Batch` like `identify_many`'s, draining the retry queue."""
        return Batch(self._batch_run, self._due(), concurrency=concurrency)

    async def _due(self) -> AsyncIterator[Query]:
        for retry in await self._cache_call(_cache_type().due_retries, self._clock()):
            try:
                yield Query.from_input(retry.input)
            except (ValueError, TypeError) as exc:
                log.warning("retry %s: its input cannot be read (%s); dropped", retry.key, exc)
                await self._cache_call(_cache_type().clear_retry, retry.key)

    async def _batch_run(self, query: Query, retry_queued: bool) -> Identification:
        return await self.run(query, interactive=False, retry_queued=retry_queued)

    @_api
    async def search(
        self, query: str, year: int | None = None, *, details: int = SEARCH_DETAILS
    ) -> SearchResult:
        """Candidates from every search provider for a person to choose from, best first, and
        each provider's status (`SearchResult`); nothing is cached.

        The first ``details`` candidates (0: none) are looked up, concurrently, for what tells
        films apart (director, cast, runtime, outline, IMDb rating, …); `choose` then reuses
        those responses.
        """
        return await self.engine.search(query, year, details=details)

    @_api
    async def choose(
        self, key: str, candidate: Candidate, *, search: SearchResult | None = None
    ) -> Outcome:
        """A person's choice of a candidate for the input ``key``: `confirm` with its ids,
        reusing every response ``search`` (the search it came from) received, so a candidate
        whose details were fetched costs no request to the providers that gave them."""
        if search is None:
            return await self.confirm(key, candidate.ids)
        with http.reusing(search.responses):
            return await self.confirm(key, candidate.ids)

    @_api
    async def none_of_these(
        self, query: Query, *, search: SearchResult | None = None
    ) -> QueuedIdentification:
        """Record that a person found none of the candidates to be the movie: the input stays
        in the identification queue, marked reviewed. An input that was not queued is queued
        now (``not_found``, with ``search``'s candidates)."""
        return await self._db(self._none_of_these, query, search)

    def _none_of_these(self, query: Query, search: SearchResult | None) -> QueuedIdentification:
        cache = self._live_cache()
        key = query.input_key
        if cache.queued(key) is None:
            shown = search.candidates if search is not None else ()
            looked = f" among {len(shown)} candidates" if shown else ""
            outcome = Outcome(
                status="not_found",
                candidates=shown,
                reasons=(f"a person found none of these to be the movie{looked}",),
            )
            cache.queue_identification(key, query.to_input(), outcome, reviewed=True)
        else:
            cache.mark_reviewed(key)
        queued = cache.queued(key)
        assert queued is not None
        return queued

    @_api
    async def confirm(self, key: str, ids: Ids) -> Outcome:
        """Record a person's choice for an input key: look the movie up (interactive), commit
        it and remember the choice (never searched again). A choice that cannot be looked up
        (no provider knows the ids, or they failed) records nothing: the key keeps its state,
        identified or queued."""
        identification = await self._run(Query(ids=ids, key=key), interactive=True, by="person")
        return identification.outcome

    @_api
    async def refresh(self, ids: Ids, *, interactive: bool = False) -> Outcome:
        """Refetch a movie from every provider now, whatever its age (identify it if it is not
        cached). When nothing could be refetched the outcome is ``error`` (or ``rate_limited``)
        with the cached record, which stays as it was: still stale."""
        ref = await self._cache_call(_cache_type().ref, ids)
        if ref is None:
            query = Query(ids=ids)
            return (await self._run(query, interactive=interactive, refresh=True)).outcome
        return await self._refresh(ref, everything=True, interactive=interactive)

    @_api
    async def refresh_stale(
        self,
        *,
        incomplete_only: bool = False,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Refetch stale parts (with ``incomplete_only``: only the missing ones), automated.
        Returns each movie's outcome; with ``on_outcome``, hands each over as it comes and
        keeps none (the list is empty), so memory stays flat whatever the library's size.

        First, a provider with a change feed (the ``changed_since`` hook: TMDB) is asked which
        movies changed since the oldest of its parts it can vouch for (at most
        ``feed_lookback_days`` ago): each part of a movie it did not list is confirmed current
        without a request (a stale one's outcome says so), a listed one is refetched when
        stale; a feed that fails or cannot tell confirms nothing. A provider with a
        ``daily_requests`` allowance is asked at most ``refresh_share`` of it per UTC day: past
        that its stale parts stay stale, and the outcome says so.
        Movies are loaded one at a time, as each comes up; an unreadable one gives an ``error``
        outcome naming it. A refresh changes parts and the merged record, never the movie's
        input key, input or confirmed identity.
        """
        now = self._clock()
        confirmed: dict[str, tuple[set[int], str]] = {}
        if incomplete_only:
            movie_ids = await self._cache_call(_cache_type().incomplete_ids)
        else:
            movie_ids = await self._cache_call(_cache_type().stale_ids, now)
            if movie_ids:
                confirmed = await self._ask_feeds(now)
        outcomes = []
        for movie_id in movie_ids:
            ref = await self._cache_call(_cache_type().ref_by_id, movie_id)
            if ref is not None:  # else merged into another movie or deleted meanwhile
                notes = [
                    f"{note} (no request)" for ids, note in confirmed.values() if movie_id in ids
                ]
                outcome = await self._refresh(ref, everything=False, interactive=False, notes=notes)
                if on_outcome is None:
                    outcomes.append(outcome)
                else:
                    on_outcome(outcome)
        return outcomes

    async def _ask_feeds(self, now: datetime) -> dict[str, tuple[set[int], str]]:
        """Ask each provider with a change feed what changed since the oldest of its parts it
        can vouch for (within ``feed_lookback_days``, or as far back as the feed can tell) and
        record the answer: unchanged parts current at its start are confirmed current,
        changed ones marked. Returns, by provider, the movies confirmed and the note."""
        lookback = self.settings.refresh.feed_lookback_days
        confirmed: dict[str, tuple[set[int], str]] = {}
        if lookback <= 0:
            return confirmed
        paused = await self._cache_call(_cache_type().paused_providers, now)
        for name in self._lookup_providers():
            kinds = self.registry.spec(name).authority_for
            if name in paused or not kinds or not self.registry.implements(name, "changed_since"):
                continue
            since = await self._cache_call(
                _cache_type().feed_since, name, now - timedelta(days=lookback)
            )
            if since is None:
                continue
            covered = await self._read_feed(name, since, now)
            if covered is None:
                continue
            start, changed = covered
            note = f"{name}: confirmed unchanged by {name}'s change feed on {now:%Y-%m-%d}"
            ids = await self._cache_call(
                _cache_type().record_feed, name, kinds, start, changed, note, now
            )
            confirmed[name] = (ids, note)
        return confirmed

    @_api
    async def repair(self, movie_id: int) -> Outcome:
        """Mend a cached movie whose stored data cannot be read: drop what cannot be read,
        refetch it from every provider and rebuild its record (from what is left, when nothing
        could be refetched). ``identified`` when it reads back whole; else ``error``."""
        ref = await self._cache_call(_cache_type().ref_by_id, movie_id)
        if ref is None:
            return Outcome(status="error", reasons=(f"movie {movie_id} is not in the cache",))
        dropped = await self._cache_call(_cache_type().drop_unreadable_parts, movie_id)
        notes = [f"dropped what could not be read: {', '.join(dropped)}"] if dropped else []
        now = self._clock()
        self._apply_pauses(await self._cache_call(_cache_type().paused_providers, now), now)
        identification = await self.engine.lookup(ref.ids, interactive=True)
        if identification.outcome.status == "identified":
            query = Query(ids=ref.ids, key=ref.key)
            identification = await self._db(
                self._persist, query, identification, "lookup", now, maintenance=True
            )
        else:
            notes.append("nothing could be refetched: " + "; ".join(identification.outcome.reasons))
            await self._cache_call(_cache_type().remerge, self.engine.merge, [movie_id])
        outcome = identification.outcome
        try:
            cached = await self._cache_call(_cache_type().find, ref.ids)
        except UnreadableMovieError as exc:
            return attrs.evolve(outcome, status="error", movie=None, reasons=(*notes, str(exc)))
        if cached is None or outcome.status not in ("identified", "error", "rate_limited"):
            return attrs.evolve(outcome, reasons=(*notes, *outcome.reasons))
        repaired = _cached_outcome(cached, self.registry)
        return attrs.evolve(repaired, reasons=(*notes, "repaired: it reads back whole"))

    @_api
    async def remerge(
        self,
        ids: Iterable[Ids] | None = None,
        *,
        on_unreadable: Callable[[UnreadableMovieError], None] | None = None,
    ) -> int:
        """Rebuild merged records from the stored provider results, with zero requests.

        Each movie is re-read and rewritten in its own write transaction (see `Cache.remerge`);
        only the merged record changes. Unreadable movies are skipped and handed to
        ``on_unreadable`` (called on the cache thread; default: logged as a warning). Returns
        how many were rebuilt.
        """
        wanted = None if ids is None else list(ids)
        return await self._db(self._remerge, wanted, on_unreadable or _log_unreadable)

    def _remerge(
        self, ids: list[Ids] | None, on_unreadable: Callable[[UnreadableMovieError], None]
    ) -> int:
        cache = self._live_cache()
        movie_ids = None
        if ids is not None:
            refs = (cache.ref(i) for i in ids)
            movie_ids = [ref.id for ref in refs if ref is not None]
        return cache.remerge(self.engine.merge, movie_ids, on_unreadable=on_unreadable)

    # -- the cache ---------------------------------------------------------------------------

    @_api
    async def get(self, ids: Ids, *, parts: bool = False) -> CachedMovie | None:
        """The committed movie for any of these ids, from the cache only (no network): its
        merged record (a fast read), or with ``parts`` every provider part too."""
        return await self._read(ids, parts)

    async def _read(self, ids: Ids, parts: bool) -> CachedMovie | None:
        reader = self._reader
        if reader is not None:
            return await asyncio.to_thread(reader.get, ids, parts=parts)
        return await self._cache_call(_cache_type().find, ids, parts=parts)

    @_api
    async def queue(self) -> list[QueuedIdentification]:
        """The inputs waiting for a person (ambiguous, not found, conflict), oldest first."""
        return await self._cache_call(_cache_type().identification_queue)

    @_api
    async def identity(self, key: str) -> ConfirmedIdentity | None:
        """The identity recorded for an input key: its ids, and who chose them (a ``person``,
        a ``lookup`` or a ``search``)."""
        return await self._cache_call(_cache_type().identity, key)

    @_api
    async def dismiss(self, key: str) -> bool:
        """Take an input off the identification queue without identifying it (it is searched
        again the next time it is met); False when it was not queued."""
        return await self._db(self._dismiss, key)

    def _dismiss(self, key: str) -> bool:
        cache = self._live_cache()
        if cache.queued(key) is None:
            return False
        cache.dequeue_identification(key)
        return True

    @_api
    async def with_cache(
        self, /, work: Callable[Concatenate[Cache, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``work(cache, *args, **kwargs)`` on the cache thread and return its result:
        for maintenance beyond this API (the ``metarr`` command uses it). The `Cache` API is
        internal and may change."""
        return await self._cache_call(work, *args, **kwargs)

    async def _cache_call(
        self, method: Callable[Concatenate[Cache, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``method(cache, ...)`` on the cache thread (the cache is opened by then)."""
        return await self._db(lambda: method(self._live_cache(), *args, **kwargs))

    def _live_cache(self) -> Cache:
        """The cache, on the cache thread (opened by then: its opening is the first job);
        raises what opening it raised."""
        if self._closed and self._calls == 0:
            raise ClosedError("the orchestrator is closed")
        if self._cache is None:
            if self._writer_error is not None:
                raise self._writer_error
            raise ClosedError("the orchestrator is closed")
        return self._cache

    def provider_failures(self) -> dict[str, ProviderFailures]:
        """The providers that failed (or were rate limited) in this orchestrator's run so far,
        with how often and why; a provider whose credentials were rejected is marked
        ``out_for_run`` (it is not asked again). For summaries and exit codes."""
        return self.engine.failures()

    # -- one identification ------------------------------------------------------------------

    async def _run(
        self,
        query: Query,
        *,
        interactive: bool = False,
        refresh: bool = False,
        retry_queued: bool = False,
        by: str | None = None,
    ) -> Identification:
        """Identify one input and persist the result; returns the full identification.

        A recorded identity answers only the same input (its key: the caller's, or one derived
        from the input as given); a cached movie answers only when it fits the input (no given
        id contradicts it, a given title is one of its titles). Automated runs do not search
        again for an input already waiting for a person: its queued outcome comes back with no
        request, unless ``retry_queued``. ``refresh`` asks every provider again whatever the
        cache holds.
        """
        now = self._clock()
        plan = await self._planned(
            query, now, interactive=interactive, refresh=refresh, retry_queued=retry_queued, by=by
        )
        self._apply_pauses(plan.pauses, now)
        if plan.answer is not None:
            return Identification(outcome=plan.answer)
        if plan.cached is not None:
            identification = await self.engine.lookup(
                plan.cached.ids, interactive=interactive, providers=plan.todo
            )
            identification = self._with_stored(identification, plan.cached, plan.todo)
        elif plan.ids:
            name = None if plan.decided else query.title
            identification = await self.engine.lookup(
                plan.ids, interactive=interactive, title=name, year=query.year if name else None
            )
        else:
            identification = await self.engine.identify_title(query.title or "", query.year)
        by = by or ("lookup" if query.ids else "search")
        return await self._persist_soon(query, identification, by, now, asked=plan.todo)

    async def _planned(
        self,
        query: Query,
        now: datetime,
        *,
        interactive: bool,
        refresh: bool,
        retry_queued: bool,
        by: str | None,
    ) -> _Plan:
        """`_plan` where it waits for nothing but the reads: through the reader on the plan
        thread (committed truth; the plans waiting for the thread at the same moment are read
        in one job and handed back together), blank while a new cache is being made, else (a
        person's choice may write; no reader) on the cache thread."""
        plan = functools.partial(
            self._plan,
            query=query,
            now=now,
            interactive=interactive,
            refresh=refresh,
            retry_queued=retry_queued,
            by=by,
        )
        reader, planning = self._reader, self._planning
        if by != "person" and reader is not None and planning is not None:
            read = functools.partial(reader.read, plan)
            planned: _Plan = await self._unplanned.run(planning, read, _each)
            return planned
        if self._new_file and self._cache is None and self._writer_error is None:
            return _Plan.blank(query)
        return await self._db(lambda: plan(self._live_cache()))

    def _plan(
        self,
        cache: Cache,
        *,
        query: Query,
        now: datetime,
        interactive: bool,
        refresh: bool,
        retry_queued: bool,
        by: str | None,
    ) -> _Plan:
        """What ``cache`` answers already, or whom to ask (it writes only for a person's
        choice of a cached movie)."""
        pauses = cache.paused_providers(now)
        key = query.input_key
        state = cache.input_state(key)  # its identity, queue entry and retry: one read
        ids = query.ids
        decided = False  # a recorded identity says which movie: the input is not checked again
        if by != "person":
            identity = state.identity()
            if identity is not None and (identity.by == "person" or not ids):
                ids = identity.ids  # a person's choice is never re-searched or overridden
                decided = True
        cached = self._answer(cache, query, ids, check=not decided) if ids else None
        if cached is None and not (interactive or retry_queued or refresh):
            queued = self._queued(state.queued(), query)
            if queued is not None:
                return _Plan(answer=queued, pauses=pauses)
        todo: list[str] | None = None
        if cached is not None:
            todo = None if refresh else self._refetch(cache, cached, state.pending_retry(), now)
            if todo == []:
                if by == "person":
                    cache.confirm_identity(key, cached.ids, by="person")
                    cache.dequeue_identification(key)
                    cache.clear_retry(key)
                return _Plan(answer=_cached_outcome(cached, self.registry), pauses=pauses)
        else:
            waiting = None if interactive else self._waiting(state.pending_retry(), now)
            if waiting is not None:
                return _Plan(answer=waiting, pauses=pauses)
        return _Plan(ids=ids, decided=decided, cached=cached, todo=todo, pauses=pauses)

    async def _read_feed(
        self, name: str, since: datetime, now: datetime
    ) -> tuple[datetime, set[str]] | None:
        """``name``'s changes from ``since`` (or as far back as it can tell) to ``now``: newest
        first, `FEED_CHUNK` at a time (only the newest day when even one chunk is too much).
        Returns where the answer starts and the ids listed; None when it cannot tell at all."""
        changed: set[str] = set()
        start, chunk, covered = now, FEED_CHUNK, None
        while start > since:
            begin = max(since, start - chunk)
            try:
                got = await self.registry.changed_since(name, begin, start)
            except (ProviderError, PluginError) as exc:
                log.warning("%s: its change feed failed, refetching instead: %s", name, exc)
                return None
            if got is None:
                if covered is None and chunk > timedelta(days=1):
                    chunk = timedelta(days=1)
                    continue
                break
            changed |= got
            start = covered = begin
            if chunk < FEED_CHUNK:
                break  # the newest day is all it can tell
        return None if covered is None else (covered, changed)

    async def _refresh(
        self, ref: MovieRef, *, everything: bool, interactive: bool, notes: Collection[str] = ()
    ) -> Outcome:
        """Refetch a cached movie: every provider, or the stale ones. Never touches its key,
        input or identity; an unreadable movie gives an ``error`` outcome naming it. ``notes``
        join the outcome's reasons."""
        now = self._clock()
        try:
            cached, todo, pauses, held = await self._db(self._refresh_plan, ref, everything, now)
        except UnreadableMovieError as exc:
            return Outcome(status="error", reasons=(str(exc),))
        notes = [*notes, *held]
        self._apply_pauses(pauses, now)
        if cached is None:
            return Outcome(status="error", reasons=(f"{ref.ids} is no longer in the cache",))
        if todo == []:
            outcome = _cached_outcome(cached, self.registry)
        else:
            identification = await self.engine.lookup(
                cached.ids, interactive=interactive, providers=todo
            )
            sent = identification.requests_by_provider
            for name in todo or ():  # one request each was counted ahead: count what was sent
                if self._refresh_budget(name) is not None:
                    await self._cache_call(
                        _cache_type().add_requests, name, f"{now:%Y-%m-%d}", sent.get(name, 0) - 1
                    )
            identification = self._with_stored(identification, cached, todo)
            query = Query(ids=cached.ids, key=ref.key)
            persisted = await self._db(
                self._persist, query, identification, "lookup", now, asked=todo, maintenance=True
            )
            outcome = persisted.outcome
        return attrs.evolve(outcome, reasons=(*outcome.reasons, *notes)) if notes else outcome

    def _refresh_plan(
        self, ref: MovieRef, everything: bool, now: datetime
    ) -> tuple[CachedMovie | None, list[str] | None, dict[str, ProviderPause], list[str]]:
        """On the cache thread: the cached movie, the providers to ask again (None: all), the
        pauses in force, and notes on the stale parts left alone because a provider's refresh
        share of its daily requests is spent (one request each is counted for the others)."""
        cache = self._live_cache()
        pauses = cache.paused_providers(now)
        cached = cache.find(ref.ids)
        if cached is None or everything:
            return cached, None, pauses, []
        key = Query(ids=cached.ids, key=ref.key).input_key
        todo = self._refetch(cache, cached, cache.pending_retry(key), now)
        notes = []
        for name in list(todo):
            budget = self._refresh_budget(name)
            if budget is None or cache.reserve_requests(name, f"{now:%Y-%m-%d}", 1, budget[0]):
                continue
            todo.remove(name)
            notes.append(
                f"{name}: not refreshed, its part stays stale: refreshes may spend {budget[0]} of "
                f"its {budget[1]} daily requests and today's are spent (identifications keep "
                "the rest)"
            )
        return cached, todo, pauses, notes

    def _refresh_budget(self, name: str) -> tuple[int, int] | None:
        """(requests refreshes may spend per UTC day, the daily allowance) for a provider that
        declares a ``daily_requests`` option; None: no limit."""
        option = self.registry.spec(name).options.get("daily_requests")
        if option is None:
            return None
        settings = getattr(self.registry.provider(name), "settings", None)  # checked values
        allowance = settings.get("daily_requests", option.default) if settings else option.default
        if not isinstance(allowance, int) or isinstance(allowance, bool) or allowance <= 0:
            return None
        return int(allowance * self.settings.refresh.refresh_share), allowance

    # -- internals (on the cache thread unless said otherwise) -------------------------------

    def _lookup_providers(self) -> list[str]:
        return [n for n in self.registry.enabled if self.registry.implements(n, "lookup_by_id")]

    def _answer(self, cache: Cache, query: Query, ids: Ids, *, check: bool) -> CachedMovie | None:
        """The cached movie for ``ids`` when it answers ``query``: no given id contradicts it,
        no other cached movie holds a given id, a given title (and year) fits it."""
        if not check:
            return cache.find(ids)
        found = cache.find_all(ids)
        if len(found) != 1:
            return None  # not cached, or the given ids are cached as different movies
        [cached] = found
        if any(cached.ids.get(kind) not in (None, value) for kind, value in ids.items()):
            return None
        if query.title is not None:
            records = [cached.movie, *(p.result for p in cached.parts.values() if p.result)]
            titles = [title for record in records for title in titles_of(record)]
            if not fits_name(query.title, query.year, titles, [r.year for r in records]):
                return None
        return cached

    def _queued(self, waiting: QueuedIdentification | None, query: Query) -> Outcome | None:
        """The outcome of this input waiting for a person (``waiting``: its key's queue entry),
        without a request."""
        if waiting is None or not _same_input(waiting.input, query):
            return None
        note = (
            f"queued for a person since {waiting.queued_at:%Y-%m-%d %H:%M} UTC (metarr queue); "
            "not searched again until resolved"
        )
        return Outcome(
            status=waiting.status,  # type: ignore[arg-type]
            candidates=waiting.candidates,
            reasons=(*waiting.reasons, note),
        )

    def _waiting(self, pending: PendingRetry | None, now: datetime) -> Outcome | None:
        """A ``rate_limited`` outcome while the input's retry (``pending``) is not due yet (no
        request)."""
        if pending is None or pending.not_before <= now:
            return None
        return Outcome(
            status="rate_limited",
            reasons=(
                f"waiting for {pending.provider} until "
                f"{pending.not_before:%Y-%m-%d %H:%M:%S} UTC: {pending.reason}",
            ),
        )

    def _refetch(
        self, cache: Cache, cached: CachedMovie, pending: PendingRetry | None, now: datetime
    ) -> list[str]:
        """The providers to ask again for a cached movie ([] when it is fresh); ``pending`` is
        the retry of the input's key."""
        expected = self._lookup_providers()
        stale = set(cache.stale_providers(cached, now, expected=expected)) & set(expected)
        missing = set(cached.missing_providers(expected)) & stale
        pending = pending or cache.pending_retry(_ids_key(cached.ids))
        if pending is not None and pending.not_before > now:
            stale -= missing  # the fill-in is not due yet
        paused = cache.paused_providers(now)
        return sorted(stale - set(paused))

    def _with_stored(
        self, identification: Identification, cached: CachedMovie, asked: Collection[str] | None
    ) -> Identification:
        """The outcome of refetching a cached movie (``asked``: the providers asked, None for
        all): its stored results with the fresh ones on top. The reports stay the fresh ones:
        only they become new parts, so kept parts keep their own fetch times. When no asked
        provider answered, nothing is to be stored: the outcome is ``error`` (``rate_limited``
        if every failure was a rate limit) with the cached record and its age."""
        outcome = identification.outcome
        if outcome.status not in ("identified", "rate_limited", "error", "not_found"):
            return identification
        names = set(self._lookup_providers() if asked is None else asked)
        reports = identification.reports
        answered = [n for n in names if n in reports and reports[n].status in ("ok", "not_found")]
        results = {n: p.result for n, p in cached.parts.items() if p.result is not None}
        results.update({n: r.result for n, r in reports.items() if r.result is not None})
        providers = dict(outcome.providers)
        for name, part in cached.parts.items():
            if providers.get(name) in ("skipped", None):  # not asked: the stored part stands
                providers[name] = _part_status(part)
        if not answered or not results:
            failures = [r.status for n, r in reports.items() if n in names and r.status != "ok"]
            limited = bool(failures) and all(status == "rate_limited" for status in failures)
            fetched = min(
                (p.fetched_at for p in cached.parts.values()), default=cached.refreshed_at
            )
            age = self._clock() - fetched
            note = (
                "nothing could be refetched, so nothing was stored: this is the cached record, "
                f"fetched {fetched:%Y-%m-%d %H:%M} UTC ({_age(age)} old), and it stays stale"
            )
            stale = Outcome(
                status="rate_limited" if limited else "error",
                movie=cached.movie,
                providers=providers,
                reasons=(*outcome.reasons, note),
            )
            return attrs.evolve(identification, outcome=stale)
        merged = attrs.evolve(
            outcome, status="identified", movie=self.engine.merge(results), providers=providers
        )
        return attrs.evolve(identification, outcome=merged)

    def _persist(
        self,
        query: Query,
        identification: Identification,
        by: str,
        now: datetime,
        *,
        asked: Collection[str] | None = None,
        maintenance: bool = False,
    ) -> Identification:
        """Store what an identification settled and return it as stored.

        An identified movie is committed with the parts of the providers really asked
        (``asked``, None for all) and merged from the stored parts under the write lock; its
        outcome then holds the committed movie and says which ids it went without. An id the
        caller gave that belongs to a different cached movie turns it into a ``conflict``
        queued for a person (a person's own choice is committed without that id). With
        ``maintenance`` (a refresh) the movie's key, input and identity are left alone.
        """
        cache = self._live_cache()
        outcome = identification.outcome
        key = query.input_key
        for name, report in identification.reports.items():
            if report.until is not None:
                cache.pause_provider(name, report.until, report.detail or "quota reached")
        if outcome.status == "identified" and outcome.movie is not None:
            parts = self._parts(identification, asked, self._clock())
            try:
                committed = cache.commit(
                    outcome.movie,
                    parts,
                    merge=self.engine.merge,
                    key=None if maintenance else key,
                    confirmed_by=None if maintenance else by,
                    input=None if maintenance else query.to_input(),
                    given=None if maintenance or by == "person" else query.ids,
                )
            except IdConflictError as exc:
                conflict = Outcome(
                    status="conflict",
                    reasons=(*outcome.reasons, *exc.reasons()),
                    providers=outcome.providers,
                )
                if by != "person":
                    cache.queue_identification(key, query.to_input(), conflict)
                return attrs.evolve(identification, outcome=conflict)
            notes = tuple(
                d.describe(committed.id)
                for d in committed.disputes
                if d.claimant_id == committed.id
            )
            outcome = attrs.evolve(
                outcome, movie=committed.movie, reasons=(*outcome.reasons, *notes)
            )
            identification = attrs.evolve(identification, outcome=outcome)
            for name, report in identification.reports.items():
                if report.status == "rate_limited":
                    cache.schedule_retry(
                        key,
                        query.to_input(),
                        name,
                        _not_before(report, now),
                        f"fill in {name}: {report.detail}",
                    )
        elif by == "person":
            note = "nothing was recorded: the key keeps its state (identified, or queued)"
            outcome = attrs.evolve(outcome, reasons=(*outcome.reasons, note))
            return attrs.evolve(identification, outcome=outcome)
        elif outcome.needs_person:
            cache.queue_identification(key, query.to_input(), outcome)
        elif outcome.status == "rate_limited":
            limited = [
                (n, r) for n, r in identification.reports.items() if r.status == "rate_limited"
            ]
            name, report = limited[0] if limited else ("", ProviderReport(status="rate_limited"))
            cache.schedule_retry(
                key,
                query.to_input(),
                name or "unknown",
                _not_before(report, now),
                "; ".join(outcome.reasons) or "rate limited",
            )
        return identification

    def _parts(
        self, identification: Identification, asked: Collection[str] | None, fetched_at: datetime
    ) -> dict[str, ProviderPart]:
        """A new part for each provider asked (None: every lookup provider), stamped
        ``fetched_at``; providers not asked get none, so their stored parts stay as they are."""
        parts: dict[str, ProviderPart] = {}
        for name in self._lookup_providers():
            if asked is not None and name not in asked:
                continue
            report = identification.reports.get(name)
            if report is None or report.status in ("skipped", "not_found", "disabled"):
                status, result = "not_found", None
            else:
                status, result = report.status, report.result
            parts[name] = ProviderPart(
                provider=name,
                status=status,
                fetched_at=fetched_at,
                result=result,
                error=None if report is None else (report.detail if status != "ok" else None),
            )
        return parts

    def _apply_pauses(self, pauses: dict[str, ProviderPause], now: datetime) -> None:
        """Pause the gates of providers the cache says are paused (on the event loop)."""
        for name, pause in pauses.items():
            gate = self.engine.gates.get(name)
            if gate is not None:
                seconds = (pause.until - now).total_seconds()
                if seconds > gate.paused_for():
                    gate.pause(seconds, pause.reason)


def _cache_type() -> type[Cache]:
    """`metarr.cache.Cache`, its module loaded on first use: a lookup loads it on the cache
    thread, while its requests are out (`Orchestrator.open`)."""
    from metarr.cache.api import Cache

    return Cache


def _is_file(path: str | Path) -> bool:
    return str(path) != ":memory:" and Path(path).is_file()


def _new_file(path: str | Path) -> bool:
    """Whether ``path`` names a cache file yet to be made in a folder that can take it (a
    folder to create, or one that cannot be written, is left to the writer: its error comes
    before any request, as a file the reader cannot open does)."""
    if str(path) == ":memory:" or os.path.lexists(path):
        return False
    folder = Path(path).parent
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


class _Waiting:
    """Calls waiting for a worker thread, each with the future its caller awaits: the thread
    takes every call waiting in one job and hands the results back to each event loop in one
    call. A batch's tasks are woken together (a group commit settles them all at once), so
    their next calls arrive together: one hand-off each way instead of one per call."""

    def __init__(self) -> None:
        self._calls: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._calls)

    async def run(
        self,
        thread: ThreadPoolExecutor,
        call: Callable[[], Any],
        job: Callable[[list[Callable[[], Any]]], list[tuple[Any, BaseException | None]]],
    ) -> Any:
        """``call``'s result (or error), once ``job`` ran it on ``thread`` with the others
        waiting then (``job`` gives each call's ``(result, None)`` or ``(None, error)``)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._calls.append((call, future))
            first = len(self._calls) == 1
        if first:
            try:
                thread.submit(self._take, job)
            except RuntimeError:  # the thread is shut down
                waiting = self._drain()
                closed = ClosedError("the orchestrator is closed")
                _settle([waiter for _, waiter in waiting], [(None, closed)] * len(waiting))
        return await future

    def _drain(self) -> list[tuple[Callable[[], Any], asyncio.Future[Any]]]:
        with self._lock:
            waiting, self._calls = self._calls, []
        return waiting

    def _take(
        self, job: Callable[[list[Callable[[], Any]]], list[tuple[Any, BaseException | None]]]
    ) -> None:
        """On the thread: ``job`` over every waiting call, the results handed back."""
        waiting = self._drain()
        outcomes: list[tuple[Any, BaseException | None]]
        try:
            outcomes = job([call for call, _ in waiting])
        except BaseException as exc:
            outcomes = [(None, exc)] * len(waiting)
        futures = [future for _, future in waiting]
        for loop in {future.get_loop() for future in futures}:  # one, unless shared across loops
            mine = [i for i, future in enumerate(futures) if future.get_loop() is loop]
            loop.call_soon_threadsafe(
                _settle, [futures[i] for i in mine], [outcomes[i] for i in mine]
            )


def _each(calls: list[Callable[[], Any]]) -> list[tuple[Any, BaseException | None]]:
    """Each call in turn, alone: its result or its error."""
    done: list[tuple[Any, BaseException | None]] = []
    for call in calls:
        try:
            done.append((call(), None))
        except BaseException as exc:
            done.append((None, exc))
    return done


def _settle(
    futures: list[asyncio.Future[Any]], outcomes: list[tuple[Any, BaseException | None]]
) -> None:
    """Hand each waiting persist its result or error (on the event loop)."""
    for future, (result, error) in zip(futures, outcomes, strict=True):
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def provider_ttls(settings: Settings, registry: Registry) -> dict[str, float]:
    """Each provider's freshness in days: its ``ttl_days`` setting (0 included: always
    stale), else its plugin default."""
    ttls: dict[str, float] = {}
    for name in registry.names:
        ttl = settings.provider(name).ttl_days
        default = 7.0 if name in registry.broken else registry.spec(name).default_ttl_days
        ttls[name] = float(ttl if ttl is not None else default)
    return ttls


def _part_status(part: ProviderPart) -> ProviderStatus:
    """A stored part's status as a provider status (a part still ``missing`` was skipped)."""
    statuses: dict[str, ProviderStatus] = {
        "ok": "ok",
        "not_found": "not_found",
        "rate_limited": "rate_limited",
        "error": "error",
    }
    return statuses.get(part.status, "skipped")


def _age(delta: timedelta) -> str:
    """``3 days``, ``5 hours``, ``12 minutes``."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "under a minute"


def _log_unreadable(error: UnreadableMovieError) -> None:
    log.warning("skipped: %s", error)


def _not_before(report: ProviderReport, now: datetime) -> datetime:
    if report.until is not None:
        return report.until
    if report.retry_after is not None:
        return now + timedelta(seconds=report.retry_after)
    return now + RETRY_DEFAULT


def _same_input(stored: dict[str, Any], query: Query) -> bool:
    """Whether a queue entry's stored input is ``query``'s input (not just its key)."""
    try:
        return Query.from_input(stored).same_input(query)
    except (ValueError, TypeError):
        return False


def _ids_key(ids: Ids) -> str:
    kind, value = ids.items()[0]
    return f"{kind}:{value}"


def _cached_outcome(cached: CachedMovie, registry: Registry) -> Outcome:
    providers: dict[str, Any] = {}
    for name in registry.names:
        part = cached.parts.get(name)
        if name not in registry.enabled:
            providers[name] = "disabled"
        elif part is None:
            providers[name] = "skipped"
        else:
            providers[name] = _part_status(part)
    return Outcome(
        status="identified",
        movie=cached.movie,
        providers=providers,
        reasons=(f"from the cache (refreshed {cached.refreshed_at:%Y-%m-%d %H:%M} UTC)",),
    )
