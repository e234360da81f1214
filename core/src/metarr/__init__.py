"""metarr: identify movies and merge what every metadata provider knows about them.

The public surface is what this module exports; everything else may change.
"""

__version__ = "0.1.0"

from metarr.errors import (  # noqa: E402
    AuthError,
    ConfigError,
    InvalidIdError,
    InvalidResponseError,
    MetarrError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    StorageError,
    UnavailableError,
)
from metarr.config import env_name  # noqa: E402
from metarr.hookspecs import hookimpl  # noqa: E402
from metarr.http import Classifier  # noqa: E402
from metarr.ids import IdKind, Ids  # noqa: E402
from metarr.models import (  # noqa: E402
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
from metarr.provider import Provider, ProviderContext  # noqa: E402
from metarr.redaction import redact  # noqa: E402

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
    "Outcome",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "ProviderResult",
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
