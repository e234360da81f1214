"""metarr: identify movies and merge what every metadata provider knows about them.

The public surface is what this module exports; everything else may change.
"""

__version__ = "0.1.0"

from metarr.config import env_name
from metarr.errors import (
    AuthError,
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
from metarr.http import Classifier
from metarr.ids import IdKind, Ids
from metarr.models import (
    Candidate,
    CastMember,
    CrewMember,
    Image,
    Movie,
    Outcome,
    ProviderResult,
    Rating,
    SearchHit,
)
from metarr.provider import Option, Provider, ProviderContext
from metarr.redaction import redact
from metarr.spec import ProviderSpec

__all__ = [
    "AuthError",
    "Candidate",
    "CastMember",
    "Classifier",
    "ConfigError",
    "CrewMember",
    "IdKind",
    "Ids",
    "Image",
    "InvalidIdError",
    "InvalidResponseError",
    "MetarrError",
    "Movie",
    "NotFoundError",
    "Option",
    "Outcome",
    "PluginError",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "ProviderResult",
    "ProviderSpec",
    "RateLimitedError",
    "Rating",
    "SearchHit",
    "StorageError",
    "UnavailableError",
    "__version__",
    "env_name",
    "hookimpl",
    "redact",
]
