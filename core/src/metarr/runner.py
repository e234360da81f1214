"""The streaming batch runner behind `Orchestrator.identify_many` (and the ``metarr batch``,
``demo`` and ``scan`` commands): bounded concurrency, results as they finish, clean stops.

A `Batch` reads its inputs lazily (a plain iterable is read on the event loop: keep it cheap,
or pass an async iterator) and keeps at most ``concurrency`` identifications in flight, and
about as many finished results waiting for the consumer: memory does not grow with the input.

What stops it starting new inputs, letting the ones in flight finish (and commit):

- `Batch.stop` (the consumer's choice: Ctrl-C, a closed output, enough results);
- an outcome ``blocked`` (the configuration cannot identify anything: every later input
  would be blocked too); `Batch.stopped` says ``"blocked"``;
- a cache failure (`metarr.StorageError`: nothing more could be stored, so no more requests)
  or a closed orchestrator, and an error raised by the input iterator: the results in flight
  are yielded, then iteration raises that error (`Batch.failed` is the input it hit).

`Batch.cancel` cancels the identifications in flight too (a second Ctrl-C); a commit already
under way completes or leaves nothing, never half. Leaving ``async with batch`` (or
`Batch.aclose`) stops the batch and waits for the inputs in flight, dropping their results.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Generic, Literal, Self, TypeVar

import attrs

from metarr.cache import UnreadableMovieError
from metarr.engine import Identification
from metarr.errors import ClosedError, MetarrError, StorageError
from metarr.models import OUTCOME_STATUSES, Outcome
from metarr.query import Query
from metarr.redaction import redact

DEFAULT_CONCURRENCY = 16
"""Inputs in flight by default. An input costs about two sequential round trips (an IMDb id:
TMDB find, then details ‖ TheTVDB's remote id, then its record), so N in flight cap a batch
near N ÷ (2 × latency) movies/s: 8 capped it at 80/s at 50 ms. 16 lifts that to 160/s, past
the ~60/s one core's CPU allows (≈17 ms a movie), while each provider's own limit stays the
gate's job (`metarr.gate`; measured: 429s after the first pause 0.34 % at 16, within 1 %)."""

log = logging.getLogger("metarr.runner")

RunOne = Callable[[Query, bool], Awaitable[Identification]]
StopReason = Literal["stopped", "blocked", "failed", "cancelled"]


@attrs.frozen(kw_only=True)
class BatchResult:
    """One finished input: its position in the input (0-based), the query and its outcome."""

    index: int
    query: Query
    outcome: Outcome


@attrs.frozen(kw_only=True)
class BatchProgress:
    """Where a batch stands: inputs read, finished and in flight, outcomes by status (in the
    order of `metarr.models.OUTCOME_STATUSES`: identified first)."""

    read: int
    done: int
    in_flight: int
    counts: dict[str, int]
    elapsed: float

    @property
    def rate(self) -> float:
        """Finished inputs per second."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


class _End:
    pass


_END = _End()
T = TypeVar("T")


class _Stream(Generic[T]):
    """The async iteration `Batch` and `metarr.scan.Scan` share: results come through one
    queue filled by ``_supervise`` (started on the first ``__anext__``) and ended by `_END`;
    a failure held in ``error`` is raised once, after the last result. Subclasses give
    `stop`, `cancel`, ``_supervise`` and the queue's size."""

    error: BaseException | None

    def __init__(self) -> None:
        self._queue: asyncio.Queue[T | _End] | None = None
        self._task: asyncio.Task[None] | None = None
        self._ended = False
        self._raised = False

    def stop(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        raise NotImplementedError

    async def _supervise(self) -> None:
        raise NotImplementedError

    def _queue_size(self) -> int:
        raise NotImplementedError

    def _yielded(self, item: T) -> None:
        """Called with each result as it is yielded."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        if self._ended:
            raise StopAsyncIteration
        item = await self._begin().get()
        if isinstance(item, _End):
            self._ended = True
            if self.error is not None and not self._raised:
                self._raised = True
                raise self.error
            raise StopAsyncIteration
        self._yielded(item)
        return item

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop and wait for the work in flight (its results are dropped)."""
        if self._task is None:
            self._ended = True
            return
        self.stop()
        try:
            while not self._ended:
                self._ended = isinstance(await self._begin().get(), _End)
        except BaseException:
            self.cancel()
            raise
        finally:
            if self._ended:
                await asyncio.gather(self._task, return_exceptions=True)

    def _begin(self) -> asyncio.Queue[T | _End]:
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=self._queue_size())
            self._task = asyncio.ensure_future(self._supervise())
        return self._queue


class Batch(_Stream[BatchResult]):
    """An `Orchestrator.identify_many` run: ``async for result in batch`` gives a
    `BatchResult` per input, in the order they finish (see the module docstring)."""

    def __init__(
        self,
        run_one: RunOne,
        queries: Iterable[Query] | AsyncIterator[Query],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry_queued: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        super().__init__()
        self._run_one = run_one
        self._queries = queries
        self.concurrency = concurrency
        self.retry_queued = retry_queued
        self.stopped: StopReason | None = None
        """Why no new input starts (None: it reads them all)."""
        self.error: BaseException | None = None
        """The failure that ended the batch early (raised once the inputs in flight end)."""
        self.failed: BatchResult | None = None
        """The input the failure hit (its outcome is ``error``; nothing of it was stored)."""
        self._started = time.monotonic()
        self._read = 0
        self._counts: Counter[str] = Counter()
        self._in_flight = 0
        self._stop = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._producer: asyncio.Task[None] | None = None

    # -- control -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Start no new input; the ones in flight finish, commit and are still yielded."""
        self._halt("stopped")

    def cancel(self) -> None:
        """Stop, and cancel the identifications in flight (what they committed stays)."""
        self._halt("cancelled")
        for task in (self._producer, *self._workers):
            if task is not None:
                task.cancel()

    @property
    def progress(self) -> BatchProgress:
        """A snapshot of where the batch stands."""
        return BatchProgress(
            read=self._read,
            done=sum(self._counts.values()),
            in_flight=self._in_flight,
            counts={s: self._counts[s] for s in OUTCOME_STATUSES if self._counts[s]},
            elapsed=time.monotonic() - self._started,
        )

    def _halt(self, reason: StopReason) -> None:
        if self.stopped is None or reason == "cancelled":
            self.stopped = reason
        self._stop.set()

    def _queue_size(self) -> int:
        return self.concurrency

    # -- the work ----------------------------------------------------------------------------

    async def _supervise(self) -> None:
        assert self._queue is not None
        work: asyncio.Queue[tuple[int, Query] | None] = asyncio.Queue(maxsize=self.concurrency)
        self._workers = [asyncio.ensure_future(self._worker(work)) for _ in range(self.concurrency)]
        self._producer = asyncio.ensure_future(self._produce(work))
        try:
            await asyncio.gather(self._producer, *self._workers, return_exceptions=True)
        finally:
            await self._queue.put(_END)

    async def _produce(self, work: asyncio.Queue[tuple[int, Query] | None]) -> None:
        try:
            async for query in _each(self._queries):
                if self._stop.is_set():
                    break
                await work.put((self._read, query))
                self._read += 1
        except Exception as exc:  # the input failed: what is in flight still finishes
            self._fail(exc, None)
        finally:
            for _ in self._workers:  # (cancel() cancels this wait too)
                await work.put(None)

    async def _worker(self, work: asyncio.Queue[tuple[int, Query] | None]) -> None:
        assert self._queue is not None
        while (item := await work.get()) is not None:
            if self._stop.is_set():
                continue  # drain: the producer must never wait on a full queue
            index, query = item
            self._in_flight += 1
            try:
                outcome = await self._identify(index, query)
            finally:
                self._in_flight -= 1
            if outcome is None:
                continue
            self._counts[outcome.status] += 1
            if outcome.status == "blocked":
                self._halt("blocked")
            await self._queue.put(BatchResult(index=index, query=query, outcome=outcome))

    async def _identify(self, index: int, query: Query) -> Outcome | None:
        """The input's outcome; None when a failure of the cache (or a closed orchestrator)
        stopped the batch: nothing of it was stored."""
        try:
            return (await self._run_one(query, self.retry_queued)).outcome
        except (StorageError, ClosedError) as exc:
            if isinstance(exc, UnreadableMovieError):  # one movie, not the cache
                return _error(exc)
            log.debug("input %d: the cache failed", index, exc_info=True)
            self._fail(exc, BatchResult(index=index, query=query, outcome=_error(exc)))
            return None
        except Exception as exc:  # one input's failure must not stop the others
            log.debug("input %d failed", index, exc_info=True)
            return _error(exc)

    def _fail(self, exc: BaseException, result: BatchResult | None) -> None:
        if self.error is None:
            self.error, self.failed = exc, result
        self._halt("failed")


async def _each(queries: Iterable[Query] | AsyncIterator[Query]) -> AsyncIterator[Query]:
    if isinstance(queries, AsyncIterator):
        async for query in queries:
            yield query
    else:
        for query in queries:
            yield query


def _error(exc: BaseException) -> Outcome:
    text = str(exc) if isinstance(exc, MetarrError) else f"unexpected {type(exc).__name__}: {exc}"
    return Outcome(status="error", reasons=(redact(" ".join(text.split())),))
