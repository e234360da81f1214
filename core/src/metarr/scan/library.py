"""Scanning a library: walk it, read each item's evidence unless it is remembered, and say
what changed since the last scan.

`scan_library` streams one `ScanEntry` per movie item (``new``, ``changed``, ``unchanged`` or
``moved``), per skipped entry and per problem, then one per remembered item gone from disk
(``missing``). An item whose fingerprint is unchanged is not read again: its evidence comes
from the cache, costing the walk's listing and one stat per NFO. A folder moved within the
library (a new key with the fingerprint of a remembered item whose path is gone) keeps its
evidence and identity. With ``remember=False`` (a dry run) the cache is read but never written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

import attrs
from sqlite_utils import Database

from metarr.cache import scans
from metarr.cache.database import write_transaction
from metarr.cache.times import system_clock
from metarr.ids import Ids
from metarr.query import Query
from metarr.scan import evidence as reading
from metarr.scan import names
from metarr.scan.evidence import Evidence
from metarr.scan.fingerprint import fingerprint
from metarr.scan.walk import Item, Problem, Skipped, walk

Change = Literal["new", "changed", "unchanged", "moved"]
Status = Literal["item", "skipped", "problem", "missing"]
WRITE_BATCH = 256  # items remembered per write transaction


@attrs.frozen(kw_only=True)
class ScanEntry:
    """One line of a scan: a movie item with its evidence, or something that is not one."""

    key: str
    status: Status
    change: Change | None = None
    layout: str | None = None
    evidence: Evidence | None = None
    ids: Ids | None = None  # what the item was identified as under this evidence, if known
    fingerprint: str | None = None  # what `metarr.cache.scans.record_ids` needs for this item
    reason: str | None = None  # why skipped, what the problem is
    moved_from: str | None = None
    parsed: bool = False  # whether this scan read the item's NFOs and names

    def query(self) -> Query | None:
        """The query this item's evidence makes (None for non-items and empty evidence)."""
        return self.evidence.query(self.key) if self.evidence is not None else None


def root_name(root: Path) -> str:
    """How a library root is remembered: its absolute path, printable."""
    return names.printable(os.path.abspath(root))


def scan_library(
    root: Path,
    db: Database | None = None,
    *,
    remember: bool = True,
    clock: Callable[[], datetime] = system_clock,
) -> Generator[ScanEntry, None, None]:
    """Scan ``root`` (see the module doc); ``db`` is the cache database, or None for none.

    Closing the generator early (a consumer that stops) writes what was read so far.

    Raises `metarr.scan.walk.ScanRootError` when the root itself cannot be read.
    """
    scanner = Scanner(root, db, remember=remember and db is not None, clock=clock)
    yield from scanner.run()


class Scanner:
    """One scan of a library: `run` streams its entries (as `scan_library` does); `flush`
    writes what was read so far (the identifying scan flushes before it identifies an item, so
    the item's row is there for `metarr.cache.scans.record_ids`)."""

    def __init__(
        self, root: Path, db: Database | None, *, remember: bool, clock: Callable[[], datetime]
    ) -> None:
        self.root = Path(root)
        self.name = root_name(self.root)
        self.db = db
        self.remember = remember
        self.clock = clock
        self.started = clock()
        self.pending: list[Callable[[Database], None]] = []  # writes for new and changed items
        self.seen: list[str] = []  # unchanged items, to mark as seen
        self.moved_away: set[str] = set()  # keys that moved during this scan
        self.unreadable: list[str] = []  # folders this scan could not read

    def run(self) -> Generator[ScanEntry, None, None]:
        try:
            for found in walk(self.root):
                if isinstance(found, Skipped):
                    yield ScanEntry(key=found.key, status="skipped", reason=found.reason)
                elif isinstance(found, Problem):
                    self.unreadable.append(found.key)
                    yield ScanEntry(key=found.key, status="problem", reason=found.reason)
                else:
                    yield self._item(found)
                    if len(self.pending) + len(self.seen) >= WRITE_BATCH:
                        self._flush()
        finally:
            self._flush()
        yield from self._missing()

    def _item(self, item: Item) -> ScanEntry:
        print_ = fingerprint(item)
        path = os.fsencode(item.rel)
        known = scans.get(self.db, self.name, item.key) if self.db is not None else None
        if known is not None and known.fingerprint == print_:
            if self.remember:
                self.seen.append(item.key)
            return self._entry(item, "unchanged", Evidence.from_json(known.evidence), known, print_)
        moved = self._moved_from(print_) if known is None and self.db is not None else None
        if moved is not None:
            self.moved_away.add(moved.key)
            evidence = Evidence.from_json(moved.evidence)

            def move(db: Database) -> None:
                if not scans.move(
                    db,
                    root=self.name,
                    old_key=moved.key,
                    new_key=item.key,
                    path=path,
                    fingerprint=print_,
                    now=self.clock(),
                ):
                    self._remember(db, item, path, print_, evidence)

            self._later(move)
            entry = self._entry(item, "moved", evidence, moved, print_)
            return attrs.evolve(entry, moved_from=moved.key)
        evidence = reading.gather(item)
        self._later(lambda db: self._remember(db, item, path, print_, evidence))
        change: Change = "new" if known is None else "changed"
        return attrs.evolve(self._entry(item, change, evidence, None, print_), parsed=True)

    def _entry(
        self,
        item: Item,
        change: Change,
        evidence: Evidence,
        known: scans.ScanRecord | None,
        print_: str,
    ) -> ScanEntry:
        return ScanEntry(
            key=item.key,
            status="item",
            change=change,
            layout=item.layout,
            evidence=evidence,
            ids=known.identified if known is not None else None,
            fingerprint=print_,
        )

    def _moved_from(self, print_: str) -> scans.ScanRecord | None:
        """The one remembered item with this fingerprint whose path is gone, if exactly one."""
        if self.db is None:
            return None
        gone = [
            record
            for record in scans.with_fingerprint(self.db, self.name, print_)
            if record.key not in self.moved_away and not self._exists(record)
        ]
        return gone[0] if len(gone) == 1 else None

    def _unread(self, key: str) -> bool:
        return any(key == top or key.startswith(top + "/") for top in self.unreadable)

    def _exists(self, record: scans.ScanRecord) -> bool:
        return os.path.lexists(os.path.join(os.fsencode(self.root), record.path))

    def _remember(
        self, db: Database, item: Item, path: bytes, print_: str, evidence: Evidence
    ) -> None:
        scans.remember(
            db,
            root=self.name,
            key=item.key,
            path=path,
            layout=item.layout,
            fingerprint=print_,
            evidence=evidence.to_json(),
            now=self.clock(),
        )

    def _later(self, write: Callable[[Database], None]) -> None:
        if self.remember:
            self.pending.append(write)

    def flush(self) -> None:
        """Write the pending rows (new, changed, moved items) and the unchanged items seen."""
        self._flush()

    def _flush(self) -> None:
        if not (self.pending or self.seen) or self.db is None:
            return
        writes, self.pending = self.pending, []
        keys, self.seen = self.seen, []
        with write_transaction(self.db) as db:
            scans.seen(db, self.name, keys, self.clock())
            for write in writes:
                write(db)

    def _missing(self) -> Iterator[ScanEntry]:
        """Remembered items this scan did not find: not seen since it began (in a dry run,
        which records nothing: whose path is gone), except inside folders it could not read.
        Nothing is deleted."""
        if self.db is None:
            return
        if self.remember:
            gone = scans.not_seen_since(self.db, self.name, self.started)
        else:
            gone = (
                record
                for record in scans.items(self.db, self.name)
                if record.key not in self.moved_away and not self._exists(record)
            )
        for record in gone:
            if self._unread(record.key):
                continue
            yield ScanEntry(
                key=record.key,
                status="missing",
                layout=record.layout,
                evidence=Evidence.from_json(record.evidence),
                ids=record.identified,
                reason="gone from disk since the last scan",
            )
