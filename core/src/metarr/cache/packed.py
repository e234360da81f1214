"""Stored JSON documents, compressed: the merged movie and each provider part's result (its
raw payload included) are a Zstandard frame over their UTF-8 JSON text, a BLOB in SQLite
(since schema ``m010_zstd_documents``; zlib from ``m008_compact_movies`` on, and rows written
then still read: the frame's first bytes say which); about a quarter of the text's size."""

from __future__ import annotations

import sys
import threading
import zlib

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

LEVEL = 1
"""Zstandard's level. On 200 real identifications (26 kB of JSON per movie, 3.5 documents):
level 3 takes 0.11 ms a movie for 6.97 kB; zlib's level 3 (the format before) 0.27 ms for
7.25 kB, its level 6 0.44 ms for 6.83 kB; Zstandard's level 1 0.09 ms for 7.08 kB, level 5
0.26 ms for 6.80 kB. On the 400 movies of the side-by-side batch (32.7 kB of JSON a movie,
4.6 documents; thread CPU, medians of 7): level 3 120 us for 8,885 B, level 2 96 us for
9,087 B, level 1 91 us for 9,019 B, level -1 77 us for 11,237 B: level 1 is a quarter
faster than 3 for 1.5 % more bytes. Unpacking costs about the same as zlib's (~0.1 ms a
movie, all parts)."""

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
"""How every Zstandard frame begins (a zlib stream begins with ``0x78``)."""

_local = threading.local()


def pack_text(text: str) -> bytes:
    """The stored form of a JSON text."""
    return pack_json(text.encode("utf-8"))


def pack_json(data: bytes) -> bytes:
    """The stored form of UTF-8 JSON: one Zstandard frame (a compressor kept per thread: making
    one per document cost a third of the time)."""
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstd.ZstdCompressor(LEVEL)
    return bytes(compressor.compress(data, zstd.ZstdCompressor.FLUSH_FRAME))


def unpack(value: bytes | str) -> str:
    """The JSON text of a stored document: a packed BLOB (Zstandard, or zlib as caches from
    ``m008_compact_movies`` to ``m010_zstd_documents`` wrote it), or text as caches before
    ``m008_compact_movies`` stored it (`ValueError` if the BLOB is not one of ours)."""
    if isinstance(value, str):
        return value
    try:
        if value[:4] == ZSTD_MAGIC:
            return zstd.decompress(value).decode("utf-8")
        return zlib.decompress(value).decode("utf-8")
    except (zstd.ZstdError, zlib.error, UnicodeDecodeError) as exc:
        raise ValueError(f"stored JSON cannot be decompressed: {exc}") from exc
