"""The error hierarchy: one root, and for provider errors whether the provider is out for the run.

Messages never contain secrets: everything that builds one from an HTTP exchange goes through
`metarr.redaction.redact` first.
"""

from __future__ import annotations

from datetime import datetime


class MetarrError(Exception):
    """Root of every error metarr raises on purpose."""


class ConfigError(MetarrError):
    """The configuration cannot be used (bad file, bad value, unknown provider)."""


class InvalidIdError(MetarrError, ValueError):
    """An id does not have the shape of its kind."""


class StorageError(MetarrError):
    """The cache database cannot be opened, migrated or written."""


class ClosedError(MetarrError):
    """An orchestrator or a cache reader was used after it was closed."""


class PluginError(MetarrError):
    """A provider plugin broke its contract: a bug in the plugin, never in the person's input.

    Raised when a plugin cannot be used at all (its declarations or hook markers are wrong: it
    is ``broken``) and when a hook's result is not what the contract promises (the provider's
    part of that identification is an ``error``). ``provider`` and ``hook`` name the culprit
    when known; the message names both.
    """

    def __init__(self, message: str, *, provider: str | None = None, hook: str | None = None):
        super().__init__(message)
        self.provider = provider
        self.hook = hook


class ProviderError(MetarrError):
    """A provider request failed. ``out_for_run`` says whether to stop asking this provider
    for the rest of the run (every later identification of the same `Orchestrator`)."""

    out_for_run = False
    status = "error"

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.detail = message


class NotFoundError(ProviderError):
    """The provider has no such record (hooks turn this into ``None``)."""

    status = "not_found"


class AuthError(ProviderError):
    """The provider rejected our credentials; fix the configuration. The provider is out for
    the run: asking again with the same credentials would only be rejected again."""

    out_for_run = True


class RateLimitedError(ProviderError):
    """The provider asked us to slow down.

    ``retry_after`` is in seconds when the provider said so; ``until`` is set for quotas that
    reset at a known time (OMDb's daily limit), which pauses the provider for longer than a run.
    Not out for the run: the provider's gate pauses it until then instead.
    """

    status = "rate_limited"

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        retry_after: float | None = None,
        until: datetime | None = None,
    ) -> None:
        super().__init__(provider, message)
        self.retry_after = retry_after
        self.until = until


class UnavailableError(ProviderError):
    """Network failure, timeout or 5xx: transient, may be retried."""


class InvalidResponseError(ProviderError):
    """The provider answered with something we cannot use: bad or too deeply nested JSON, a
    wrong shape, too large, or a 404 that is not the API's own not-found answer (a wrong
    ``base_url``)."""
