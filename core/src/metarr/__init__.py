"""metarr: identify movies and merge what every metadata provider knows about them.

The public surface is what this module exports; everything else may change.
"""

__version__ = "0.1.0"

from metarr import sanitize
from metarr.config import ProviderSettings, env_name
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
)
from metarr.provider import Option, Provider, ProviderContext
from metarr.redaction import redact
from metarr.spec import ProviderSpec
from metarr.statedir import read_private, remove_private, write_private

__all__ = [
    "IMAGE_KINDS",
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
    "ProviderHttp",
    "ProviderResult",
    "ProviderSettings",
    "ProviderSpec",
    "RateLimitedError",
    "Rating",
    "SearchHit",
    "StorageError",
    "UnavailableError",
    "__version__",
    "env_name",
    "error_for_status",
    "hookimpl",
    "read_private",
    "redact",
    "remove_private",
    "sanitize",
    "write_private",
]
