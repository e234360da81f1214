"""The CLI's JSON: `metarr.cli.output.json_text` (json's layout) and `json_line` (compact,
by orjson) escape hidden characters byte for byte as `json` text escaped by `sanitize.HIDDEN`
(the rule, searched as one character class after an ASCII check)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from metarr import sanitize
from metarr.cli.output import escape_hidden, json_line, json_text
from metarr.convert import to_json
from metarr.ids import Ids
from metarr.models import Image, Movie

# every character `sanitize.HIDDEN` matches outside the surrogates, and some it does not
HIDDEN = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
HIDDEN = [c for c in HIDDEN if sanitize.HIDDEN.fullmatch(c)]


def _reference(data: Any) -> str:
    """The rule: `json`'s compact text, every `sanitize.HIDDEN` match escaped."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=to_json)
    return sanitize.HIDDEN.sub(escape_hidden, text)


def test_there_are_hidden_characters_to_check() -> None:
    assert len(HIDDEN) > 100 and "\u2028" in HIDDEN and "\U000e0001" in HIDDEN


@pytest.mark.parametrize(
    "value",
    [
        "".join(HIDDEN),
        "plain ascii",
        "caf\u00e9 \u6620\u753b \U0001f3ac",  # visible text beyond ASCII stays raw
        "del\x7f tab\t cr\r\nlf ff\x0c nul\x00",
        "\ud800 lone",  # orjson refuses a lone surrogate: json writes it, escaped the same
    ],
)
def test_json_lines_escape_byte_for_byte_as_the_rule_does(value: str) -> None:
    data = {"title": value, "list": [value, {"k": value}], "n": 1, "x": 1.5, "none": None}
    line = json_line(data)
    assert line == _reference(data)
    assert json.loads(line) == data
    assert "\n" not in line and "\u2028" not in line


def test_models_dates_and_what_orjson_refuses_read_back_as_json_writes_them() -> None:
    movie = Movie(
        ids=Ids(tmdb=603),
        title="The Matrix",
        release_date=date(1999, 3, 31),
        images=(Image(provider="tmdb", kind="poster", url="https://img.test/a.jpg"),),
    )
    when = datetime(2026, 12, 2, 12, 0, 0, 123456, tzinfo=UTC)
    cases: list[Any] = [
        {"movie": movie, "ids": Ids(imdb="tt0133093")},
        {"at": when, "day": date(2020, 1, 2)},  # the converter's format, not orjson's
        {"big": 2**70},  # beyond 64 bits
        {1: "a key that is not text"},
    ]
    for data in cases:
        assert json_line(data) == _reference(data)


@pytest.mark.parametrize("indent", [None, 2])
def test_json_text_keeps_json_s_layout_byte_for_byte(indent: int | None) -> None:
    data = {"title": "".join(HIDDEN) + " caf\u00e9", "n": [1, 2.5], "ids": Ids(tmdb=603)}
    text = json_text(data, indent=indent)
    laid_out = json.dumps(data, ensure_ascii=False, indent=indent, default=to_json)
    assert text == sanitize.HIDDEN.sub(escape_hidden, laid_out)  # the rule, its slow form
    assert json.loads(text) == json.loads(laid_out)
