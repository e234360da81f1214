"""A new cache file is made in one step (`metarr.cache.schema.FRESH_SCHEMA`): it must be the
very schema the migrations build one by one, recorded as them."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from metarr.cache import Cache
from metarr.cache.database import open_database
from metarr.cache.schema import (
    FRESH_VERSION,
    LATEST_VERSION,
    MIGRATIONS,
    MIGRATIONS_TABLE,
    migrate,
)
from metarr.ids import Ids


def _one_by_one(path: Path) -> sqlite3.Connection:
    conn = open_database(path)
    for version in range(1, LATEST_VERSION + 1):
        assert migrate(conn, upto=version) == version
    return conn


def _schema(conn: sqlite3.Connection) -> dict[str, object]:
    def norm(sql: str | None) -> str | None:
        return None if sql is None else re.sub(r" ?([(),]) ?", r"\1", " ".join(sql.split()))

    master = sorted(
        (kind, name, table, norm(sql))
        for kind, name, table, sql in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"
        )
    )
    tables = [name for kind, name, _, _ in master if kind == "table"]
    return {
        "master": master,
        "raw_sql": sorted(r[0] for r in conn.execute("SELECT sql FROM sqlite_master") if r[0]),
        "columns": {t: conn.execute(f"PRAGMA table_xinfo({t})").fetchall() for t in tables},
        "keys": {t: conn.execute(f"PRAGMA foreign_key_list({t})").fetchall() for t in tables},
        "indexes": {t: conn.execute(f"PRAGMA index_list({t})").fetchall() for t in tables},
        "user_version": conn.execute("PRAGMA user_version").fetchone()[0],
        "migrations": conn.execute(
            f"SELECT version, name FROM {MIGRATIONS_TABLE} ORDER BY version"
        ).fetchall(),
        "page_size": conn.execute("PRAGMA page_size").fetchone()[0],
        "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
    }


def test_a_new_file_has_the_schema_the_migrations_build(tmp_path: Path) -> None:
    migrated = _one_by_one(tmp_path / "migrated.sqlite")
    with Cache(tmp_path / "fresh.sqlite") as fresh:
        assert fresh.schema_version == LATEST_VERSION
        assert _schema(fresh.conn) == _schema(migrated)
    assert [name for _, name in _schema(migrated)["migrations"]] == [  # type: ignore[union-attr]
        step.__name__ for step in MIGRATIONS
    ]
    migrated.close()


def test_a_new_file_is_made_in_one_transaction(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "c.sqlite")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    assert migrate(conn) == LATEST_VERSION
    assert statements.count("BEGIN IMMEDIATE") == 1 + (LATEST_VERSION - FRESH_VERSION) + 1
    conn.close()


def test_a_cache_migrated_part_way_goes_on_one_migration_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    conn = open_database(path)
    assert migrate(conn, upto=3) == 3
    conn.close()
    with Cache(path) as cache:
        assert cache.schema_version == LATEST_VERSION
        assert _schema(cache.conn) == _schema(_one_by_one(tmp_path / "ref.sqlite"))


@pytest.mark.parametrize("upto", [1, FRESH_VERSION - 1])
def test_a_new_file_migrated_up_to_an_older_version_stops_there(tmp_path: Path, upto: int) -> None:
    conn = open_database(tmp_path / "c.sqlite")
    assert migrate(conn, upto=upto) == upto
    assert conn.execute("PRAGMA user_version").fetchone()[0] == upto
    conn.close()


def test_opening_a_current_cache_does_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    """Opening checked the schema under the write lock: a command opening a current cache
    waited for another process's write (up to the 30 s busy timeout) to read it."""
    path = tmp_path / "c.sqlite"
    Cache(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        with Cache(path) as cache:
            assert cache.schema_version == LATEST_VERSION
            assert cache.find(Ids(tmdb=603)) is None
        assert time.monotonic() - start < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()
