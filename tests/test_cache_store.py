"""How the cache writes its JSON documents (`metarr.cache.store.encode`/`pack`), and what it
reads back: every value that JSON can hold comes back as it went in, whichever encoder wrote it."""

from __future__ import annotations

import json
import math

import pytest
from metarr.cache.packed import unpack
from metarr.cache.store import _loads, dumps, encode, pack

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
