"""Library intake: find the movie items in a folder tree and the evidence for each.

`scan_library` walks a library (`walk`), reads each item's NFOs and names into its `Evidence`
(`gather`) unless the cache remembers it under the same `fingerprint`, and streams one
`ScanEntry` per item, skipped entry, problem and missing item. `ScanEntry.query` is the query
the item's evidence makes; `Evidence.title_forms` the names its title stands for.
"""

from metarr.scan.evidence import SOURCES, Clue, Evidence, gather
from metarr.scan.fingerprint import fingerprint
from metarr.scan.library import ScanEntry, root_name, scan_library
from metarr.scan.walk import Item, NfoFile, Problem, ScanRootError, Skipped, walk

__all__ = [
    "SOURCES",
    "Clue",
    "Evidence",
    "Item",
    "NfoFile",
    "Problem",
    "ScanEntry",
    "ScanRootError",
    "Skipped",
    "fingerprint",
    "gather",
    "root_name",
    "scan_library",
    "walk",
]
