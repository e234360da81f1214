"""Opening the cache file safely, and the one kind of write transaction the cache uses."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from metarr.errors import StorageError

if TYPE_CHECKING:
    from sqlite_utils import Database

Connection = sqlite3.Connection
D = TypeVar("D", bound="sqlite3.Connection | Database")

MEMORY = ":memory:"
BUSY_TIMEOUT_SECONDS = 30.0
PAGE_SIZE = 8192
"""Bytes per page of a new cache file. A movie's rows are a few kB each (its compressed
parts up to ~4 kB): in 4 kB pages a fifth of every page was left empty; in 8 kB, a twentieth.
An existing file keeps the page size it was made with."""


def open_database(path: str | Path, *, read_only: bool = False) -> Connection:
    """Connect with WAL, a busy timeout and foreign keys; refuse files that are not SQLite.

    The connection is in driver autocommit mode (``isolation_level=None``): every transaction
    is opened explicitly, by `write_transaction`. It may be
    handed from one thread to another (``check_same_thread=False``) but must be used by one
    at a time: `metarr.orchestrator` keeps it on one thread. ``read_only`` opens an existing
    file for reading and never creates one (nor its folder): a mistyped path is an error.
    """
    name = str(path)
    target = name
    if name != MEMORY:
        file = Path(path)
        if file.is_dir():
            raise StorageError(f"cache path {name} is a directory, not a database file")
        if read_only:
            if not file.is_file():
                raise StorageError(f"no cache database at {name} (check the path)")
            target = f"{file.resolve().as_uri()}?mode=ro"
        else:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the folder for cache {name}: {exc}") from exc
    try:
        conn = sqlite3.connect(
            target,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
            uri=target != name,
        )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open cache database {name}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Reading the schema is what fails on a file that is not a database.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if name != MEMORY and not read_only:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only a new, empty file takes it
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
        # WAL + NORMAL: a killed process never loses a committed transaction.
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise StorageError(
                f"{name} is not a SQLite database ({exc}); point the cache at another file"
            ) from exc
        raise StorageError(f"cannot open cache database {name}: {exc}") from exc
    return conn


def connection(db: sqlite3.Connection | Database) -> Connection:
    """The sqlite3 connection of ``db`` (itself, or a sqlite-utils ``Database``'s)."""
    return db if isinstance(db, sqlite3.Connection) else db.conn


def fetch(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The rows of a query, as dicts by column name (plain sqlite3: the hot path's reads)."""
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


_GROUPS: set[int] = set()
"""The connections (by ``id``) inside a `group_transaction`."""


@contextmanager
def write_transaction(db: D) -> Iterator[D]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: all of the block's writes land, or none do.

    Taking the write lock up front means a second writer waits (up to the busy timeout)
    instead of failing halfway. SQLite errors become `StorageError`; others propagate as is.
    Inside a `group_transaction` the block is a ``SAVEPOINT`` instead: a failure rolls back
    the block's writes only, and they land with the group's ``COMMIT``.
    """
    conn = connection(db)
    if conn.in_transaction:
        if id(conn) in _GROUPS:
            with _savepoint(conn):
                yield db
            return
        raise StorageError("a cache write transaction is already open on this connection")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot start a cache write: {exc}") from exc
    try:
        yield db
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        raise StorageError(f"cache write failed and was rolled back: {exc}") from exc
    except BaseException:
        _rollback(conn)
        raise


@contextmanager
def group_transaction(db: D) -> Iterator[D]:
    """One `write_transaction` around several: each `write_transaction` inside it is a
    ``SAVEPOINT`` (rolled back alone when it fails), and all of them land with one ``COMMIT``
    at the end, or none do (`StorageError` when the ``COMMIT`` fails). Fewer commits, for
    writes that can wait together: nothing inside may be reported as stored before the
    block ends. `group_broken` tells whether a failure inside lost the whole group."""
    conn = connection(db)
    with write_transaction(db):
        _GROUPS.add(id(conn))
        try:
            yield db
        finally:
            _GROUPS.discard(id(conn))


def group_broken(db: sqlite3.Connection | Database) -> bool:
    """Whether the `group_transaction` of ``db`` is gone: SQLite rolled the whole transaction
    back (a full disk, an I/O error) and the group's earlier writes with it."""
    return not connection(db).in_transaction


@contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    try:
        conn.execute("SAVEPOINT metarr_write")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot start a cache write: {exc}") from exc
    try:
        yield
        conn.execute("RELEASE metarr_write")
    except sqlite3.Error as exc:
        _undo(conn)
        raise StorageError(f"cache write failed and was rolled back: {exc}") from exc
    except BaseException:
        _undo(conn)
        raise


def _undo(conn: sqlite3.Connection) -> None:
    """Roll back to the savepoint and drop it (nothing to do when SQLite already rolled the
    whole transaction back)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK TO metarr_write")
            conn.execute("RELEASE metarr_write")
        except sqlite3.Error:
            _rollback(conn)  # the group cannot be trusted any more: `group_broken` says so


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")
