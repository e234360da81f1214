"""Identifying a library: `Orchestrator.scan` streams one `ScanResult` per entry of a scan.

The walk (`metarr.scan.library.Scanner`) runs on the orchestrator's cache thread with the
cache's own connection, a chunk of entries per hop; each chunk's rows are written before any
of its items is identified. What the cache already answers is answered in that hop, with no
request:

- a person's choice for the item's key (never overridden, whatever the evidence says now);
- an item identified by an earlier scan whose evidence is unchanged (its fingerprint): the
  committed movie, read light (the merged record and each provider part's status);
- ids in the evidence that contradict each other (``conflict``, queued for a person);
- an item with no id, title or year (``not_found``, nothing to search for).

The rest go to the library's streaming runner (`metarr.runner.Batch`, as `identify_many`):
bounded concurrency, ``identify``'s rules (ids looked up and checked against the name, a title
decided automatically, queued outcomes answered from the queue), and each identified item
recorded (`metarr.cache.scans.record_ids`) right after its commit. A moved folder keeps its
identity: the old key's identity and queue entry are copied to the new key.
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from metarr import sanitize
from metarr.cache import Cache, decode, scans
from metarr.cache.database import write_transaction
from metarr.convert import to_json
from metarr.engine import Identification
from metarr.ids import Ids
from metarr.models import Outcome, ProviderStatus
from metarr.query import MAX_TITLE, Query
from metarr.runner import _END, DEFAULT_CONCURRENCY, Batch, BatchProgress, StopReason, _Stream
from metarr.scan.library import ScanEntry, Scanner, root_name

if TYPE_CHECKING:
    from metarr.orchestrator import Orchestrator

CHUNK = 256  # entries walked per hop to the cache thread, at most
CHUNK_SECONDS = 0.05  # ... or this long: the cache thread also commits identifications
NON_ITEMS = ("skipped", "problem", "missing")
_PART_STATUS: dict[str, ProviderStatus] = {
    "ok": "ok",
    "not_found": "not_found",
    "rate_limited": "rate_limited",
    "error": "error",
}


@attrs.frozen(kw_only=True)
class Remembered:
    """An item answered from memory: the committed movie as stored, decoded only when its
    outcome is asked for (a rescan of an unchanged library prints thousands of them)."""

    stored: scans.StoredMovie
    providers: dict[str, ProviderStatus]
    reason: str

    @functools.cached_property
    def outcome(self) -> Outcome:
        """``identified`` with the committed movie; ``error`` naming the movie when its stored
        record cannot be read (``metarr cache repair``)."""
        try:
            movie = decode.movie(_record(self.stored.record))
        except Exception as exc:  # a damaged record: the cache's repair fixes it
            why = (
                f"the cached record of movie {self.stored.id} ({self.stored.ids}) cannot be "
                f"read ({type(exc).__name__}): metarr cache repair {self.stored.id}"
            )
            return Outcome(status="error", reasons=(why,))
        return Outcome(
            status="identified", movie=movie, providers=self.providers, reasons=(self.reason,)
        )


@attrs.frozen(kw_only=True)
class ScanResult:
    """One entry of a scan: a movie item and its outcome, or an entry that is not one.

    ``status`` is the outcome's for items (``identified``, ``ambiguous``, …; ``dry_run`` in a
    dry run) and the entry's otherwise: ``skipped`` (extras, samples, episodes…, with a
    ``reason``), ``problem`` (an unreadable folder, a symlink loop) or ``missing`` (a
    remembered item gone from disk; nothing is deleted). ``entry`` holds the evidence;
    ``remembered`` is set when the cache answered (the movie is decoded on first use).
    """

    entry: ScanEntry
    _outcome: Outcome | None = None
    remembered: Remembered | None = None

    @property
    def outcome(self) -> Outcome | None:
        """The item's outcome (None for entries that are not items, and in a dry run)."""
        if self.remembered is not None:
            return self.remembered.outcome
        return self._outcome

    @property
    def key(self) -> str:
        """The item's key: its path relative to the scanned folder, ``/`` separators."""
        return self.entry.key

    @property
    def status(self) -> str:
        """The outcome's status, or the entry's (see the class docstring)."""
        if self.remembered is not None:
            return "identified"
        if self._outcome is not None:
            return self._outcome.status
        return "dry_run" if self.entry.status == "item" else self.entry.status

    def to_json(self, *, movie: bool = True) -> dict[str, Any]:
        """Plain data, one ``metarr scan --json`` line: the key, the outcome's fields
        (``status``, ``movie``, ``candidates``, ``reasons``, ``providers``) and the evidence
        (each id, title and year with its source). Without ``movie``, a remembered item's
        line leaves its movie out (the CLI writes the stored record as it is)."""
        entry = self.entry
        line: dict[str, Any] = {"key": entry.key, "status": self.status}
        if entry.status in ("skipped", "problem"):
            return {**line, "reason": entry.reason}
        remembered = self.remembered
        if remembered is not None:  # the stored record is the movie's JSON already
            if movie:
                line["movie"] = _record(remembered.stored.record)
            line.update(
                candidates=[],
                reasons=[remembered.reason],
                providers=remembered.providers,
            )
        elif self._outcome is not None:
            line.update(to_json(self._outcome))
        line["change"] = entry.change
        line["layout"] = entry.layout
        if entry.moved_from is not None:
            line["moved_from"] = entry.moved_from
        evidence = entry.evidence
        line["evidence"] = [clue.to_json() for clue in evidence.clues] if evidence else []
        line["notes"] = list(evidence.notes) if evidence else []
        if entry.status == "missing":
            line["ids"] = dict(entry.ids.items()) if entry.ids else None
            line["reason"] = entry.reason
        return line


def _record(text: str) -> Any:
    """A stored record's JSON: orjson (four times as fast), or `json` for what orjson refuses
    (a lone surrogate escape)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _input_key(entry: ScanEntry) -> str:
    """The key the item's identity and queue entry are stored under: its own key, unless
    that is no valid input key (`metarr.Query` caps keys at 500 characters)."""
    if sanitize.text(entry.key, MAX_TITLE) == entry.key:
        return entry.key  # (no Query built: a rescan asks this of every item)
    query = entry.query()
    return query.input_key if query is not None else entry.key


class Scan(_Stream[ScanResult]):
    """An `Orchestrator.scan` run: ``async for result in scan`` gives a `ScanResult` per
    entry, items in the order they finish (see the module docstring).

    `stop` starts nothing new (the walk stops; the items in flight finish, commit and are
    still yielded); `cancel` cancels them too. A failure of the cache or of the walk (the
    folder cannot be read: `metarr.scan.ScanRootError`) is raised once the items in flight are
    yielded. Leaving ``async with scan`` stops it and waits for the items in flight.
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        root: Path,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        dry_run: bool = False,
        retry_queued: bool = False,
    ) -> None:
        super().__init__()
        self.root = Path(root)
        self.dry_run = dry_run
        self.error: BaseException | None = None
        """The failure that ended the scan early (raised once the items in flight end)."""
        self._orc = orchestrator
        self._name = root_name(self.root)
        self._batch = Batch(
            self._identify, self._queries(), concurrency=concurrency, retry_queued=retry_queued
        )
        self._pending: dict[int, ScanEntry] = {}  # the runner's input index -> its entry
        self._by_query: dict[int, ScanEntry] = {}  # id(query) -> its entry
        self._scanner: Scanner | None = None
        self._entries: Generator[ScanEntry, None, None] | None = None
        self._walked = False
        self._stopping = False
        self._counts: Counter[str] = Counter()
        self._started = time.monotonic()

    # -- control -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Walk no further and start no new item; the ones in flight finish and are yielded."""
        self._stopping = True
        self._batch.stop()

    def cancel(self) -> None:
        """Stop, and cancel the identifications in flight (what they committed stays)."""
        self._stopping = True
        self._batch.cancel()

    @property
    def stopped(self) -> StopReason | None:
        """Why no new item starts (`metarr.Batch.stopped`), None while it walks on."""
        return self._batch.stopped

    @property
    def progress(self) -> BatchProgress:
        """Where the scan stands: entries yielded by status, items in flight."""
        return BatchProgress(
            read=sum(self._counts.values()) + self._batch.progress.in_flight,
            done=sum(self._counts.values()),
            in_flight=self._batch.progress.in_flight,
            counts=dict(self._counts),
            elapsed=time.monotonic() - self._started,
        )

    def _queue_size(self) -> int:
        return max(64, self._batch.concurrency)

    def _yielded(self, item: ScanResult) -> None:
        self._counts[item.status] += 1

    # -- the work (on the event loop) --------------------------------------------------------

    async def _supervise(self) -> None:
        out = self._begin()
        try:
            async for result in self._batch:
                entry = self._pending.pop(result.index)
                await out.put(ScanResult(entry=entry, outcome=result.outcome))
        except Exception as exc:  # the cache or the walk failed: raised after the last result
            self.error = exc
        finally:
            try:
                await self._orc.with_cache(self._close_walk)
            except Exception as exc:
                self.error = self.error or exc
            await out.put(_END)

    async def _queries(self) -> AsyncIterator[Query]:
        """The items to identify, walking chunk by chunk; what the cache answers goes straight
        to the output."""
        out = self._begin()
        index = 0
        while not (self._stopping or self._walked or self._batch.stopped):
            for step in await self._orc.with_cache(self._chunk):
                if self._stopping or self._batch.stopped:  # (blocked, or the cache failed)
                    return
                if isinstance(step, ScanResult):
                    await out.put(step)
                    continue
                query = step.query()
                assert query is not None  # `_decide` answers items without one
                self._pending[index] = step
                self._by_query[id(query)] = step
                index += 1
                yield query

    async def _identify(self, query: Query, retry_queued: bool) -> Identification:
        entry = self._by_query.pop(id(query))
        identification = await self._orc.run(query, retry_queued=retry_queued)
        movie = identification.outcome.movie
        if identification.outcome.status == "identified" and movie is not None and movie.ids:
            await self._orc.with_cache(self._record, entry, movie.ids)
        return identification

    # -- the cache thread ----------------------------------------------------------------------

    def _chunk(self, cache: Cache) -> list[ScanResult | ScanEntry]:
        """Walk on (a chunk), write what was read, and answer what the cache knows."""
        if self._entries is None:
            self._scanner = Scanner(self.root, cache.db, remember=not self.dry_run, clock=cache.now)
            self._entries = self._scanner.run()
        entries: list[ScanEntry] = []
        deadline = time.monotonic() + CHUNK_SECONDS
        for entry in self._entries:
            entries.append(entry)
            if len(entries) >= CHUNK or time.monotonic() > deadline:
                break
        else:
            self._walked = True
        assert self._scanner is not None
        self._scanner.flush()
        return [self._decide(cache, entry) for entry in entries]

    def _close_walk(self, cache: Cache) -> None:
        del cache
        if self._entries is not None:
            self._entries.close()  # writes what was read (the scanner's own `finally`)

    def _decide(self, cache: Cache, entry: ScanEntry) -> ScanResult | ScanEntry:
        """The answer the cache gives for ``entry`` with no request, or the entry itself when
        it must be identified."""
        if entry.status != "item" or self.dry_run:
            return ScanResult(entry=entry)
        key = _input_key(entry)
        if entry.moved_from is not None:
            self._carry(cache, entry.moved_from, key)
        identity = cache.identity(key)
        if identity is not None and identity.by == "person":
            answer = self._remembered(cache, entry, identity.ids, "a person chose this movie")
            if answer is not None:
                return answer
        elif entry.ids:
            ids = identity.ids if identity is not None else entry.ids
            why = "identified by an earlier scan; its evidence is unchanged"
            answer = self._remembered(cache, entry, ids, why)
            if answer is not None:
                return answer
        query = entry.query()
        evidence = entry.evidence
        contradictions = evidence.contradictions() if evidence is not None else ()
        if contradictions and query is not None:
            return ScanResult(entry=entry, outcome=self._conflict(cache, query, contradictions))
        if query is None:
            why = "nothing to identify: no id, title or year in its names or NFO files"
            return ScanResult(entry=entry, outcome=Outcome(status="not_found", reasons=(why,)))
        return entry

    def _remembered(self, cache: Cache, entry: ScanEntry, ids: Ids, why: str) -> ScanResult | None:
        """The committed movie for ``ids`` (read, not decoded), recorded for the item when it
        was not yet; None when it is not cached."""
        stored = scans.stored_movie(cache.db, ids)
        if stored is None:
            return None
        registry = self._orc.registry
        parts = scans.part_statuses(cache.db, stored.id)
        providers: dict[str, ProviderStatus] = {}
        for name in registry.names:
            if name not in registry.enabled:
                providers[name] = "broken" if name in registry.broken else "disabled"
            else:
                providers[name] = _PART_STATUS.get(parts.get(name, ""), "skipped")
        if entry.ids != stored.ids:
            self._record(cache, entry, stored.ids)
        reason = f"{why}: from the cache (refreshed {stored.refreshed_at:%Y-%m-%d %H:%M} UTC)"
        remembered = Remembered(stored=stored, providers=providers, reason=reason)
        return ScanResult(entry=entry, remembered=remembered)

    def _conflict(self, cache: Cache, query: Query, contradictions: tuple[str, ...]) -> Outcome:
        """Ids of one kind that disagree: a ``conflict`` queued for a person (once)."""
        outcome = Outcome(
            status="conflict",
            reasons=(
                "the item's evidence names different movies: "
                + "; ".join(contradictions)
                + " (a person decides)",
            ),
        )
        queued = cache.queued(query.input_key)
        if queued is None or queued.input != query.to_input():
            cache.queue_identification(query.input_key, query.to_input(), outcome)
        return outcome

    def _carry(self, cache: Cache, old: str, new: str) -> None:
        """A moved item keeps its identity and its place in the queue under its new key."""
        identity = cache.identity(old)
        if identity is not None and cache.identity(new) is None:
            cache.confirm_identity(new, identity.ids, by=identity.by)
        queued = cache.queued(old)
        if queued is not None and cache.queued(new) is None:
            outcome = Outcome(
                status=queued.status,  # type: ignore[arg-type]
                candidates=queued.candidates,
                reasons=queued.reasons,
            )
            given = {**queued.input, "key": new}
            cache.queue_identification(new, given, outcome, reviewed=queued.reviewed_at is not None)

    def _record(self, cache: Cache, entry: ScanEntry, ids: Ids) -> None:
        """Remember that the item, as read under its fingerprint, is the movie ``ids``."""
        if entry.fingerprint is None or self.dry_run:
            return
        with write_transaction(cache.db) as db:
            scans.record_ids(
                db,
                root=self._name,
                key=entry.key,
                fingerprint=entry.fingerprint,
                ids=ids,
                now=cache.now(),
            )
