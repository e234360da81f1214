"""Stored documents: Zstandard frames since schema m010, zlib rows of older caches still read."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import metarr.cache.packed
import metarr.cache.schema
import pytest
from metarr.cache import Cache
from metarr.cache.database import open_database
from metarr.cache.packed import ZSTD_MAGIC, pack_text, unpack
from metarr.cache.schema import MIGRATIONS, migrate
from metarr.errors import StorageError
from test_cache_processes import synthetic


def zlib_text(text: str) -> bytes:
    """What metarr wrote from m008 to m009."""
    return zlib.compress(text.encode("utf-8"), 3)


def kinds(path: Path) -> set[bytes]:
    """The first byte of every stored document: 0x78 for zlib, 0x28 for Zstandard."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT movie FROM provider_cache_movies UNION ALL "
            "SELECT result FROM provider_parts WHERE result IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    return {bytes(value[:1]) for (value,) in rows}


def test_round_trip_and_format() -> None:
    text = '{"title":"Amélie","raw":{"s":"\\ud800"},"n":' + "1" * 5000 + "}"
    stored = pack_text(text)
    assert stored[:4] == ZSTD_MAGIC
    assert len(stored) < len(text) // 10
    assert unpack(stored) == text
    assert unpack(zlib_text(text)) == text  # a row written before m010
    assert unpack(text) == text  # a row written before m008


@pytest.mark.parametrize("bad", [ZSTD_MAGIC + b"not a frame", b"\x78\x9c broken", b""])
def test_a_damaged_document_is_a_value_error(bad: bytes) -> None:
    with pytest.raises(ValueError, match="cannot be decompressed"):
        unpack(bad)


def test_a_zlib_cache_upgrades_and_mixes_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v9.db"
    conn = open_database(path)
    assert migrate(conn, upto=9) == 9
    conn.close()
    with monkeypatch.context() as patch:  # the store as it was at schema 9
        patch.setattr(metarr.cache.packed, "pack_json", lambda data: zlib.compress(data, 3))
        patch.setattr(metarr.cache.schema, "LATEST_VERSION", 9)
        patch.setattr(metarr.cache.schema, "MIGRATIONS", MIGRATIONS[:9])
        with Cache(path) as old:
            old.commit(*synthetic(1), key="one")
            old.commit(*synthetic(2), key="two")
    assert kinds(path) == {b"\x78"}
    with Cache(path) as cache:
        assert cache.schema_version == 10
        before = cache.get("tmdb", 1)
        assert before is not None and before.movie.title == "Movie 1 take 0"
        cache.commit(*synthetic(2, round_=1), key="two")  # rewritten: Zstandard now
        cache.commit(*synthetic(3), key="three")
        assert kinds(path) == {b"\x78", b"\x28"}
        assert [m.movie.title for m in cache.iter_movies()] == [
            "Movie 1 take 0",
            "Movie 2 take 1",
            "Movie 3 take 0",
        ]
        assert list(cache.unreadable()) == []


def test_a_metarr_of_schema_9_refuses_the_upgraded_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It reads zlib only: it must not take Zstandard rows for damaged ones."""
    path = tmp_path / "v10.db"
    with Cache(path) as cache:
        cache.commit(*synthetic(1))
    with monkeypatch.context() as patch:
        patch.setattr(metarr.cache.schema, "LATEST_VERSION", 9)
        patch.setattr(metarr.cache.schema, "MIGRATIONS", MIGRATIONS[:9])
        with pytest.raises(StorageError, match="newer than version 9"):
            Cache(path)
