"""metarr: identify movies and merge what every metadata provider knows about them.

The public surface is what this module exports (`__all__`); everything else may change.
Embedders start with `Settings` and `Orchestrator` (or `SyncOrchestrator` without an event
loop); plugin authors with `Provider` and `hookimpl`.

Names load on first use (PEP 562), so ``import metarr`` costs almost nothing: `_EXPORTS` is
the one table of public names and the modules that define them. A new public name is a line
there, in `__all__` and in the ``TYPE_CHECKING`` imports (for linters and type checkers):
lines, no logic; ``tests/test_public_api.py`` keeps the three in step.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# A library's records go where the host sends them; with no logging configured, nowhere (not
# to the stderr of logging's last resort). The one change to logging metarr makes, on its own
# logger (the HOWTO's advice for libraries).
logging.getLogger("metarr").addHandler(logging.NullHandler())

_EXPORTS: dict[str, str] = {
    # embedding: the API, configuration, inputs and answers
    "Orchestrator": "metarr.orchestrator",
    "SyncOrchestrator": "metarr.sync",
    "Batch": "metarr.runner",
    "BatchResult": "metarr.runner",
    "BatchProgress": "metarr.runner",
    "SyncBatch": "metarr.sync",
    "Scan": "metarr.scan.run",
    "ScanResult": "metarr.scan.run",
    "SyncScan": "metarr.sync",
    "Settings": "metarr.config",
    "ProviderSettings": "metarr.config",
    "load_settings": "metarr.config",
    "env_name": "metarr.config",
    "Query": "metarr.query",
    "Ids": "metarr.ids",
    "IdKind": "metarr.ids",
    "Outcome": "metarr.models",
    "Movie": "metarr.models",
    "Candidate": "metarr.models",
    "SearchResult": "metarr.models",
    "Identification": "metarr.engine",
    "ProviderReport": "metarr.engine",
    "ProviderFailures": "metarr.engine",
    # the cache: committed movies, the queue, identities
    "CacheReader": "metarr.cache",
    "CachedMovie": "metarr.cache",
    "ProviderPart": "metarr.cache",
    "QueuedIdentification": "metarr.cache",
    "ConfirmedIdentity": "metarr.cache",
    "UnreadableMovieError": "metarr.cache",
    # JSON (the README's contract)
    "to_json": "metarr.convert",
    "from_json": "metarr.convert",
    # errors
    "MetarrError": "metarr.errors",
    "ConfigError": "metarr.errors",
    "StorageError": "metarr.errors",
    "ClosedError": "metarr.errors",
    "InvalidIdError": "metarr.errors",
    "ProviderError": "metarr.errors",
    "AuthError": "metarr.errors",
    "NotFoundError": "metarr.errors",
    "RateLimitedError": "metarr.errors",
    "UnavailableError": "metarr.errors",
    "InvalidResponseError": "metarr.errors",
    "PluginError": "metarr.errors",
    # plugin authors
    "Provider": "metarr.provider",
    "ProviderContext": "metarr.provider",
    "Option": "metarr.provider",
    "ProviderSpec": "metarr.spec",
    "hookimpl": "metarr.hookspecs",
    "Classifier": "metarr.http",
    "ProviderHttp": "metarr.http",
    "error_for_status": "metarr.http",
    "IMAGE_KINDS": "metarr.models",
    "read_private": "metarr.statedir",
    "write_private": "metarr.statedir",
    "remove_private": "metarr.statedir",
    "sanitize": "metarr.sanitize",
    "ProviderResult": "metarr.models",
    "SearchHit": "metarr.models",
    "Rating": "metarr.models",
    "Image": "metarr.models",
    "CastMember": "metarr.models",
    "CrewMember": "metarr.models",
    "redact": "metarr.redaction",
}

__all__ = [
    "IMAGE_KINDS",
    "AuthError",
    "Batch",
    "BatchProgress",
    "BatchResult",
    "CacheReader",
    "CachedMovie",
    "Candidate",
    "CastMember",
    "Classifier",
    "ClosedError",
    "ConfigError",
    "ConfirmedIdentity",
    "CrewMember",
    "IdKind",
    "Identification",
    "Ids",
    "Image",
    "InvalidIdError",
    "InvalidResponseError",
    "MetarrError",
    "Movie",
    "NotFoundError",
    "Option",
    "Orchestrator",
    "Outcome",
    "PluginError",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "ProviderFailures",
    "ProviderHttp",
    "ProviderPart",
    "ProviderReport",
    "ProviderResult",
    "ProviderSettings",
    "ProviderSpec",
    "Query",
    "QueuedIdentification",
    "RateLimitedError",
    "Rating",
    "Scan",
    "ScanResult",
    "SearchHit",
    "SearchResult",
    "Settings",
    "StorageError",
    "SyncBatch",
    "SyncOrchestrator",
    "SyncScan",
    "UnavailableError",
    "UnreadableMovieError",
    "__version__",
    "env_name",
    "error_for_status",
    "from_json",
    "hookimpl",
    "load_settings",
    "read_private",
    "redact",
    "remove_private",
    "sanitize",
    "to_json",
    "write_private",
]

if TYPE_CHECKING:
    from metarr import sanitize
    from metarr.cache import (
        CachedMovie,
        CacheReader,
        ConfirmedIdentity,
        ProviderPart,
        QueuedIdentification,
        UnreadableMovieError,
    )
    from metarr.config import ProviderSettings, Settings, env_name, load_settings
    from metarr.convert import from_json, to_json
    from metarr.engine import Identification, ProviderFailures, ProviderReport
    from metarr.errors import (
        AuthError,
        ClosedError,
        ConfigError,
        InvalidIdError,
        InvalidResponseError,
        MetarrError,
        NotFoundError,
        PluginError,
        ProviderError,
        RateLimitedError,
        StorageError,
        UnavailableError,
    )
    from metarr.hookspecs import hookimpl
    from metarr.http import Classifier, ProviderHttp, error_for_status
    from metarr.ids import IdKind, Ids
    from metarr.models import (
        IMAGE_KINDS,
        Candidate,
        CastMember,
        CrewMember,
        Image,
        Movie,
        Outcome,
        ProviderResult,
        Rating,
        SearchHit,
        SearchResult,
    )
    from metarr.orchestrator import Orchestrator
    from metarr.provider import Option, Provider, ProviderContext
    from metarr.query import Query
    from metarr.redaction import redact
    from metarr.runner import Batch, BatchProgress, BatchResult
    from metarr.scan.run import Scan, ScanResult
    from metarr.spec import ProviderSpec
    from metarr.statedir import read_private, remove_private, write_private
    from metarr.sync import SyncBatch, SyncOrchestrator, SyncScan


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'metarr' has no attribute {name!r}")
    value = importlib.import_module(module)
    if module != f"{__name__}.{name}":  # a public submodule (metarr.sanitize) is the value
        value = getattr(value, name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
