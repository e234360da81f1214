"""`CacheReader`: the cache for enrichment, read-only, from any thread.

An enrichment phase (artwork download, NFO writing, a web page) reads only committed truth and
never needs a provider. `CacheReader` opens an existing cache of the current schema read-only:
it never creates a file (a mistyped path is a `metarr.StorageError`), never migrates, never
writes. One reader may be shared by threads: its connection is used under a lock, and a read
holds it only for its query; decoding happens outside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from metarr.cache import identities, queues, store
from metarr.cache.api import Cache
from metarr.cache.errors import UnreadableMovieError
from metarr.cache.records import (
    DEFAULT_TTL_DAYS,
    CachedMovie,
    ConfirmedIdentity,
    QueuedIdentification,
)
from metarr.cache.store import OnUnreadable
from metarr.errors import ClosedError
from metarr.freshness import RefreshRules
from metarr.ids import Ids

T = TypeVar("T")
A = TypeVar("A")


class CacheReader:
    """A metarr cache, read-only: ``with CacheReader(path) as cache: cache.get(Ids(tmdb=603))``.

    Every failure is a `metarr.StorageError` naming the file; a movie whose stored data cannot
    be read raises `metarr.cache.UnreadableMovieError` (one of them), or with ``on_unreadable``
    is handed to it and skipped. Using a closed reader raises `metarr.ClosedError`.
    ``ttl_days``, ``default_ttl_days``, ``clock`` and ``rules`` are `Cache`'s: what `read`'s
    freshness checks use.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        ttl_days: Mapping[str, float] | None = None,
        default_ttl_days: float = DEFAULT_TTL_DAYS,
        clock: Callable[[], datetime] | None = None,
        rules: RefreshRules | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        self._cache = Cache(
            self.path,
            read_only=True,
            ttl_days=ttl_days,
            default_ttl_days=default_ttl_days,
            clock=clock,
            rules=rules,
        )
        self._lock = threading.Lock()
        self._closed = False

    def get(self, ids: Ids, *, parts: bool = False) -> CachedMovie | None:
        """The committed movie for any of these ids: its merged record (fast), or with
        ``parts`` every provider part and raw response too."""
        if parts:
            return self._read(Cache.find, ids)
        row = self._read(_first_row, ids)
        return None if row is None else self._light(row)

    def movies(
        self, *, parts: bool = False, on_unreadable: OnUnreadable | None = None
    ) -> Iterator[CachedMovie]:
        """Every cached movie in row order, read a batch at a time (memory stays flat)."""
        last = 0
        while True:
            batch = self._read(_rows_after, last)
            if not batch:
                return
            last = batch[-1]["id"]
            for row in batch:
                try:
                    if parts:
                        yield from self._read(_load, row)
                    else:
                        yield self._light(row)
                except UnreadableMovieError as exc:
                    if on_unreadable is None:
                        raise
                    on_unreadable(exc)

    def queue(self) -> list[QueuedIdentification]:
        """Inputs waiting for a person, oldest first."""
        return self._read(_queue, None)

    def identity(self, key: str) -> ConfirmedIdentity | None:
        """The ids confirmed for an input key (by a person, a lookup or a search)."""
        return self._read(_identity, key)

    def read(self, work: Callable[[Cache], T]) -> T:
        """``work(cache)`` with the read-only `Cache` under the reader's lock: any of its reads,
        together (the `Orchestrator` plans an identification this way). A write raises
        `metarr.StorageError`."""
        return self._read(_call, work)

    def close(self) -> None:
        """Close the connection (closing twice is harmless)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._cache.close()

    def __enter__(self) -> CacheReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _light(self, row: dict[str, Any]) -> CachedMovie:
        try:
            return store.to_light(row)
        except UnreadableMovieError as exc:
            raise self._cache._named(exc) from exc.__cause__

    def _read(self, work: Callable[[Cache, A], T], arg: A) -> T:
        with self._lock:
            if self._closed:
                raise ClosedError(f"the cache reader of {self.path} is closed")
            with self._cache._naming_errors():
                return work(self._cache, arg)


def _call(cache: Cache, work: Callable[[Cache], T]) -> T:
    return work(cache)


def _first_row(cache: Cache, ids: Ids) -> dict[str, Any] | None:
    for kind, value in ids.items():
        row = store.light_row(cache.conn, kind, value)
        if row is not None:
            return row
    return None


def _rows_after(cache: Cache, after: int) -> list[dict[str, Any]]:
    return store.rows_after(cache.conn, after)


def _load(cache: Cache, row: dict[str, Any]) -> list[CachedMovie]:
    return store.load(cache.conn, [row])


def _queue(cache: Cache, _: None) -> list[QueuedIdentification]:
    return queues.identification_queue(cache.conn)


def _identity(cache: Cache, key: str) -> ConfirmedIdentity | None:
    return identities.identity(cache.conn, key)
