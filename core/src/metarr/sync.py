"""`SyncOrchestrator`: the `Orchestrator` API for code without an event loop, and for threads.

**Design.** One background thread runs an event loop that owns one `Orchestrator`; a call
from any thread submits its coroutine to that loop (`asyncio.run_coroutine_threadsafe`) and
waits for the answer. Calls from many threads therefore run as concurrent tasks of one loop,
exactly like a batch: one HTTP client, one set of provider gates (a 429 seen by one thread
pauses the provider for all), one cache thread owning the SQLite connection. `get` does not
hop at all: it reads through the orchestrator's read-only `CacheReader` in the calling thread.
So a `SyncOrchestrator` may be shared freely: a web framework's worker threads, a
`ThreadPoolExecutor`. Do not call it from inside a coroutine (use `Orchestrator` there): the
calling thread blocks until the answer comes.

A new `Orchestrator` method gets its twin here with the same signature (`test_sync_parity`
checks that none is missing).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar

from metarr.cache import Cache, CachedMovie, ConfirmedIdentity, QueuedIdentification
from metarr.cache.errors import UnreadableMovieError
from metarr.config import Settings
from metarr.engine import Identification, ProviderFailures
from metarr.errors import ClosedError
from metarr.ids import Ids
from metarr.models import Candidate, Outcome, SearchResult
from metarr.orchestrator import SEARCH_DETAILS, Orchestrator
from metarr.query import Query
from metarr.runner import DEFAULT_CONCURRENCY, Batch, BatchProgress, BatchResult, StopReason

if TYPE_CHECKING:
    from metarr.scan.run import Scan, ScanResult  # noqa: F401 - ScanResult: the quoted base

T = TypeVar("T")
P = ParamSpec("P")


class SyncOrchestrator:
    """`Orchestrator`'s methods, blocking: ``with SyncOrchestrator(settings) as orc:
    orc.lookup(Ids(tmdb=603))``. Safe to share between threads (see the module docstring).
    Closing twice is harmless; a closed one raises `metarr.ClosedError`."""

    def __init__(
        self,
        settings: Settings,
        *,
        only: Iterable[str] | None = None,
        without: Iterable[str] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        chosen = None if only is None else list(only)
        left_out = list(without)
        self._start(lambda: Orchestrator(settings, only=chosen, without=left_out, clock=clock))

    @classmethod
    def from_factory(cls, factory: Callable[[], Orchestrator]) -> SyncOrchestrator:
        """Wrap the `Orchestrator` that ``factory`` builds (called on the loop thread), e.g.
        one made with `Orchestrator.from_parts`."""
        sync = cls.__new__(cls)
        sync._start(factory)
        return sync

    def _start(self, factory: Callable[[], Orchestrator]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="metarr-loop", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._lock = threading.Lock()
        try:
            self._orchestrator = self._call(_built(factory))
            self._call(self._orchestrator.open())
        except BaseException:
            self._stop_loop()
            raise

    # -- lifetime ----------------------------------------------------------------------------

    def __enter__(self) -> SyncOrchestrator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once `close` has begun."""
        return self._closed

    def open(self) -> None:
        """Open the cache (done on construction; kept for parity with `Orchestrator.open`)."""
        self._call(self._orchestrator.open())

    def close(self) -> None:
        """Wait for the calls in progress, close the orchestrator and stop its loop thread.
        Closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self._orchestrator.aclose(), self._loop).result()
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join()
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coroutine.close()
            raise ClosedError("the orchestrator is closed")
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("SyncOrchestrator called from its own event loop: use Orchestrator")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # a Ctrl-C while waiting: the coroutine does not go on alone
            raise

    # -- identification ----------------------------------------------------------------------

    def lookup(
        self,
        ids: Ids,
        *,
        interactive: bool = False,
        refresh: bool = False,
        key: str | None = None,
    ) -> Outcome:
        """Blocking `Orchestrator.lookup`."""
        return self._call(
            self._orchestrator.lookup(ids, interactive=interactive, refresh=refresh, key=key)
        )

    def identify_title(
        self,
        title: str,
        year: int | None = None,
        *,
        interactive: bool = False,
        key: str | None = None,
    ) -> Outcome:
        """Blocking `Orchestrator.identify_title`."""
        return self._call(
            self._orchestrator.identify_title(title, year, interactive=interactive, key=key)
        )

    def identify(
        self, query: Query, *, interactive: bool = False, refresh: bool = False
    ) -> Outcome:
        """Blocking `Orchestrator.identify`."""
        return self._call(
            self._orchestrator.identify(query, interactive=interactive, refresh=refresh)
        )

    def run(
        self,
        query: Query,
        *,
        interactive: bool = False,
        refresh: bool = False,
        retry_queued: bool = False,
    ) -> Identification:
        """Blocking `Orchestrator.run`."""
        return self._call(
            self._orchestrator.run(
                query, interactive=interactive, refresh=refresh, retry_queued=retry_queued
            )
        )

    def identify_many(
        self,
        queries: Iterable[Query] | AsyncIterator[Query],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry_queued: bool = False,
    ) -> SyncBatch:
        """`Orchestrator.identify_many` as a plain iterator (`SyncBatch`). The inputs are read
        on the loop thread, as the async batch reads them."""
        return SyncBatch(
            self,
            lambda: self._orchestrator.identify_many(
                queries, concurrency=concurrency, retry_queued=retry_queued
            ),
        )

    def scan(
        self,
        path: str | Path,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        dry_run: bool = False,
        retry_queued: bool = False,
    ) -> SyncScan:
        """`Orchestrator.scan` as a plain iterator (`SyncScan`)."""
        return SyncScan(
            self,
            lambda: self._orchestrator.scan(
                path, concurrency=concurrency, dry_run=dry_run, retry_queued=retry_queued
            ),
        )

    def retry_due(self, *, concurrency: int = DEFAULT_CONCURRENCY) -> SyncBatch:
        """`Orchestrator.retry_due` as a plain iterator (`SyncBatch`)."""
        return SyncBatch(self, lambda: self._orchestrator.retry_due(concurrency=concurrency))

    def search(
        self, query: str, year: int | None = None, *, details: int = SEARCH_DETAILS
    ) -> SearchResult:
        """Blocking `Orchestrator.search`."""
        return self._call(self._orchestrator.search(query, year, details=details))

    def choose(
        self, key: str, candidate: Candidate, *, search: SearchResult | None = None
    ) -> Outcome:
        """Blocking `Orchestrator.choose`."""
        return self._call(self._orchestrator.choose(key, candidate, search=search))

    def none_of_these(
        self, query: Query, *, search: SearchResult | None = None
    ) -> QueuedIdentification:
        """Blocking `Orchestrator.none_of_these`."""
        return self._call(self._orchestrator.none_of_these(query, search=search))

    def confirm(self, key: str, ids: Ids) -> Outcome:
        """Blocking `Orchestrator.confirm`."""
        return self._call(self._orchestrator.confirm(key, ids))

    def refresh(self, ids: Ids, *, interactive: bool = False) -> Outcome:
        """Blocking `Orchestrator.refresh`."""
        return self._call(self._orchestrator.refresh(ids, interactive=interactive))

    def refresh_stale(
        self,
        *,
        incomplete_only: bool = False,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Blocking `Orchestrator.refresh_stale` (``on_outcome`` is called on the
        orchestrator's event-loop thread)."""
        return self._call(
            self._orchestrator.refresh_stale(incomplete_only=incomplete_only, on_outcome=on_outcome)
        )

    def repair(self, movie_id: int) -> Outcome:
        """Blocking `Orchestrator.repair`."""
        return self._call(self._orchestrator.repair(movie_id))

    def remerge(
        self,
        ids: Iterable[Ids] | None = None,
        *,
        on_unreadable: Callable[[UnreadableMovieError], None] | None = None,
    ) -> int:
        """Blocking `Orchestrator.remerge` (``on_unreadable`` runs on the cache thread)."""
        return self._call(self._orchestrator.remerge(ids, on_unreadable=on_unreadable))

    # -- the cache ---------------------------------------------------------------------------

    def get(self, ids: Ids, *, parts: bool = False) -> CachedMovie | None:
        """`Orchestrator.get`, read in the calling thread (no hop to the loop)."""
        if self._closed:
            raise ClosedError("the orchestrator is closed")
        reader = self._orchestrator.reader
        if reader is None:
            return self._call(self._orchestrator.get(ids, parts=parts))
        return reader.get(ids, parts=parts)

    def queue(self) -> list[QueuedIdentification]:
        """Blocking `Orchestrator.queue`."""
        return self._call(self._orchestrator.queue())

    def identity(self, key: str) -> ConfirmedIdentity | None:
        """Blocking `Orchestrator.identity`."""
        return self._call(self._orchestrator.identity(key))

    def dismiss(self, key: str) -> bool:
        """Blocking `Orchestrator.dismiss`."""
        return self._call(self._orchestrator.dismiss(key))

    def with_cache(
        self, work: Callable[Concatenate[Cache, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Blocking `Orchestrator.with_cache` (``work`` runs on the cache thread)."""
        return self._call(self._orchestrator.with_cache(work, *args, **kwargs))

    def provider_failures(self) -> dict[str, ProviderFailures]:
        """`Orchestrator.provider_failures` (no I/O)."""
        if self._closed:
            raise ClosedError("the orchestrator is closed")
        return self._orchestrator.provider_failures()


R = TypeVar("R", covariant=True)


class _Stream(Protocol[R]):
    """What `SyncBatch` and `SyncScan` drive: a `Batch` or a `metarr.Scan`."""

    async def __anext__(self) -> R: ...
    def stop(self) -> None: ...
    def cancel(self) -> None: ...
    async def aclose(self) -> None: ...
    @property
    def progress(self) -> BatchProgress: ...
    @property
    def stopped(self) -> StopReason | None: ...


class _SyncStream(Generic[R]):
    """A stream of results of the loop thread, as a plain iterator (see `SyncBatch`)."""

    def __init__(self, owner: SyncOrchestrator, make: Callable[[], _Stream[R]]) -> None:
        self._owner = owner
        self._batch = owner._call(_built(make))
        self.interrupted = False

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> R:
        future = self._submit(self._batch.__anext__())
        while True:
            try:
                return future.result()
            except StopAsyncIteration:
                if self.interrupted:
                    raise KeyboardInterrupt from None
                raise StopIteration from None
            except KeyboardInterrupt:
                if self.interrupted:
                    self.cancel()
                    raise
                self.interrupted = True
                self.stop()

    def stop(self) -> None:
        """`Batch.stop`."""
        self._owner._loop.call_soon_threadsafe(self._batch.stop)

    def cancel(self) -> None:
        """`Batch.cancel`."""
        self._owner._loop.call_soon_threadsafe(self._batch.cancel)

    @property
    def progress(self) -> BatchProgress:
        """`Batch.progress`."""
        return self._batch.progress

    @property
    def stopped(self) -> StopReason | None:
        """`Batch.stopped`."""
        return self._batch.stopped

    def close(self) -> None:
        """Stop and wait for the inputs in flight (their results are dropped)."""
        self._submit(self._batch.aclose()).result()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._owner._loop)


class SyncBatch(_SyncStream[BatchResult]):
    """A `Batch` for plain iteration: ``for result in orc.identify_many(queries)``.

    Ctrl-C while waiting stops it (no new input starts; the ones in flight finish, commit and
    are still yielded), then `KeyboardInterrupt` is raised once they are done; a second
    Ctrl-C cancels them and is raised at once. Leaving ``with`` (or `close`) stops the batch
    and waits for the inputs in flight.
    """

    _batch: Batch

    def __init__(self, owner: SyncOrchestrator, make: Callable[[], Batch]) -> None:
        super().__init__(owner, make)

    @property
    def failed(self) -> BatchResult | None:
        """`Batch.failed`."""
        return self._batch.failed


class SyncScan(_SyncStream["ScanResult"]):  # (quoted: the scan modules load on first use)
    """A `metarr.Scan` for plain iteration: ``for result in orc.scan(path)``; Ctrl-C and
    ``with`` as for `SyncBatch`."""

    _batch: Scan

    def __init__(self, owner: SyncOrchestrator, make: Callable[[], Scan]) -> None:
        super().__init__(owner, make)

    @property
    def error(self) -> BaseException | None:
        """`metarr.Scan.error`."""
        return self._batch.error


async def _built(factory: Callable[[], T]) -> T:
    """``factory()`` called on the loop thread (what it builds may bind to the loop)."""
    return factory()
