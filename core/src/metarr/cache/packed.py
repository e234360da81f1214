"""Stored JSON documents, compressed: the merged movie and each provider part's result (its
raw payload included) are zlib over their UTF-8 JSON text, a BLOB in SQLite (since schema
``m008_compact_movies``); about a quarter of the text's size."""

from __future__ import annotations

import zlib

LEVEL = 3
"""zlib's level. On 200 real identifications (26 kB of JSON per movie): level 6 took 0.40 ms
a movie for 6.67 kB, level 3 0.27 ms for 7.08 kB (+1.7 % of the database file, pages
absorbing part of it), level 1 0.26 ms for 7.24 kB; unpacking a merged movie takes ~0.02 ms
at any level, and every level reads every other's output."""


def pack_text(text: str) -> bytes:
    """The stored form of a JSON text."""
    return pack_json(text.encode("utf-8"))


def pack_json(data: bytes) -> bytes:
    """The stored form of UTF-8 JSON."""
    return zlib.compress(data, LEVEL)


def unpack(value: bytes | str) -> str:
    """The JSON text of a stored document: a packed BLOB, or text as caches before
    ``m008_compact_movies`` stored it (`ValueError` if the BLOB is not one of ours)."""
    if isinstance(value, str):
        return value
    try:
        return zlib.decompress(value).decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as exc:
        raise ValueError(f"stored JSON cannot be decompressed: {exc}") from exc
