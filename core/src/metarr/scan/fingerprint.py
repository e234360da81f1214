"""An item's evidence fingerprint: what its evidence is read from, without reading it.

It covers the names (the item's own folder or file name, its main videos, its NFOs) and each
NFO's size and modification time — everything `metarr.scan.evidence.gather` reads — and not the
folders above the item, so a folder moved elsewhere in the library keeps its fingerprint. The
walk has already listed the folder and stat'ed the NFOs: computing it costs no I/O.
"""

from __future__ import annotations

import hashlib
import json

from metarr.scan.walk import Item

VERSION = 1  # bump when what `gather` reads changes: every item is then read again


def fingerprint(item: Item) -> str:
    """A short hex digest that changes whenever the item's evidence may have changed."""
    data = [
        VERSION,
        item.layout,
        item.path.name,
        list(item.videos),
        [[nfo.name, nfo.size, nfo.mtime_ns] for nfo in item.nfos],
    ]
    # Names as the walk gives them: ensure_ascii escapes undecodable bytes' surrogates too.
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("ascii"), digest_size=16).hexdigest()
