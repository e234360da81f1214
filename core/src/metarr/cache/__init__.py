"""The SQLite cache: committed movies, their provider parts, queues, pauses and identities."""

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
