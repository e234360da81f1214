"""How the cache writes its JSON documents (`metarr.cache.store.encode`/`pack`), and what it
reads back: every value that JSON can hold comes back as it went in, whichever encoder wrote it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from metarr.cache import Cache
from metarr.cache.packed import unpack
from metarr.cache.store import _loads, dumps, encode, pack
from metarr.ids import Ids

DOCUMENTS = [
    {"title": "Amélie", "tagline": "日本語 ✓", "nested": [1, 2.5, None, True, {"a": []}]},
    {"lone": "\ud800 surrogate", "ok": "é"},  # orjson refuses: json's ASCII escapes
    {"big": 2**70, "small": -(2**63)},  # beyond 64 bits: json writes it
    {"7": "text key", "x": 1e16, "y": 0.1},
]


@pytest.mark.parametrize("data", DOCUMENTS)
def test_a_document_reads_back_as_it_was_given(data: object) -> None:
    assert json.loads(unpack(pack(data))) == data
    assert _loads(unpack(pack(data))) == data
    assert json.loads(dumps(data)) == data


def test_a_lone_surrogate_is_stored_as_ascii_escapes() -> None:
    raw = encode({"t": "\ud800"})
    assert raw == b'{"t":"\\ud800"}'
    raw.decode("utf-8")  # storable as UTF-8 text


def test_keys_that_are_not_text_are_written_as_json_writes_them() -> None:
    assert json.loads(encode({7: "seven", "pair": (1, 2)})) == {"7": "seven", "pair": [1, 2]}


def test_the_json_is_compact_utf8_in_the_given_order() -> None:
    assert encode({"b": "é", "a": [1, {"c": None}]}) == '{"b":"é","a":[1,{"c":null}]}'.encode()


def test_a_number_that_is_not_finite_is_written_as_null() -> None:
    """Not JSON (json wrote ``NaN``): stored as orjson writes it; documents json wrote before
    (``NaN`` in the text) still read back."""
    assert json.loads(encode({"n": math.nan, "i": math.inf})) == {"n": None, "i": None}
    old = json.dumps({"n": math.nan})
    assert math.isnan(_loads(old)["n"])


def test_an_object_json_cannot_write_is_refused() -> None:
    with pytest.raises(TypeError):
        encode({"x": object()})


def test_a_commit_is_a_few_indexed_statements(tmp_path: Path) -> None:
    """Issue 15: the cache thread's CPU. A first commit of a movie with four parts is one
    transaction of fixed SQL (sqlite-utils wrapped each read in a savepoint and read
    ``sqlite_master`` on each insert), and every read uses an index."""
    from tests.test_cache import MATRIX, Clock, movie, ok, parts

    with Cache(tmp_path / "c.sqlite", clock=Clock()) as cache:
        cache.commit(movie(Ids(tmdb=949), "Heat"), parts(ok("tmdb", Ids(tmdb=949), title="Heat")))
        statements: list[str] = []
        cache.conn.set_trace_callback(statements.append)
        cache.commit(
            movie(),
            parts(ok("tmdb"), ok("omdb"), ok("fanart"), ok("tvdb")),
            key="imdb:tt0133093",
            confirmed_by="lookup",
            input={"imdb_id": "tt0133093"},
        )
        cache.conn.set_trace_callback(None)
        assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT"
        assert not any("SAVEPOINT" in s or "sqlite_master" in s for s in statements)
        assert len(statements) <= 15, statements  # 4 parts: one executemany, traced per row
        for sql in statements:
            if sql.startswith("SELECT"):
                plan = str(cache.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())
                assert "SCAN provider_cache_movies" not in plan, (sql, plan)
        assert cache.find(MATRIX) is not None
