"""The SQLite cache: committed movies, their provider parts, queues, pauses and identities.

Names load on first use (PEP 562): importing one light submodule (``metarr.cache.errors``,
for an ``except`` clause) does not import the whole cache with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Cache": "metarr.cache.api",
    "Merge": "metarr.cache.api",
    "MovieRef": "metarr.cache.api",
    "Clash": "metarr.cache.errors",
    "IdConflictError": "metarr.cache.errors",
    "UnreadableMovieError": "metarr.cache.errors",
    "CacheReader": "metarr.cache.reader",
    "DEFAULT_TTL_DAYS": "metarr.cache.records",
    "PART_STATUSES": "metarr.cache.records",
    "CachedMovie": "metarr.cache.records",
    "CacheStats": "metarr.cache.records",
    "ConfirmedIdentity": "metarr.cache.records",
    "IdDispute": "metarr.cache.records",
    "PendingRetry": "metarr.cache.records",
    "ProviderPart": "metarr.cache.records",
    "ProviderPause": "metarr.cache.records",
    "QueuedIdentification": "metarr.cache.records",
    "LATEST_VERSION": "metarr.cache.schema",
}

__all__ = [
    "DEFAULT_TTL_DAYS",
    "LATEST_VERSION",
    "PART_STATUSES",
    "Cache",
    "CacheReader",
    "CacheStats",
    "CachedMovie",
    "Clash",
    "ConfirmedIdentity",
    "IdConflictError",
    "IdDispute",
    "Merge",
    "MovieRef",
    "PendingRetry",
    "ProviderPart",
    "ProviderPause",
    "QueuedIdentification",
    "UnreadableMovieError",
]

if TYPE_CHECKING:
    from metarr.cache.api import Cache, Merge, MovieRef
    from metarr.cache.errors import Clash, IdConflictError, UnreadableMovieError
    from metarr.cache.reader import CacheReader
    from metarr.cache.records import (
        DEFAULT_TTL_DAYS,
        PART_STATUSES,
        CachedMovie,
        CacheStats,
        ConfirmedIdentity,
        IdDispute,
        PendingRetry,
        ProviderPart,
        ProviderPause,
        QueuedIdentification,
    )
    from metarr.cache.schema import LATEST_VERSION


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'metarr.cache' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
