"""Choosing how to authenticate: a Bearer read-access token or the v3 ``api_key`` query parameter.

TMDB accepts either (API.md §1.1). People often paste the long token where the short key
belongs, so a value that looks like a token (a JWT, starting ``eyJ``) is sent as one whichever
setting holds it. The values are only ever placed in the request; the hint used in error
messages names settings, never values.
"""

from __future__ import annotations

from typing import Any

import attrs
from metarr import ConfigError, env_name

TOKEN_PREFIX = "eyJ"  # base64 of '{"' — every JWT starts with it


def looks_like_token(value: str) -> bool:
    """Whether a credential has the shape of a read-access token (a JWT)."""
    return value.startswith(TOKEN_PREFIX)


@attrs.frozen(kw_only=True)
class Auth:
    """What every request carries, and what to tell a person when TMDB rejects it."""

    params: dict[str, str] = attrs.field(factory=dict, repr=False)
    headers: dict[str, str] = attrs.field(factory=dict, repr=False)
    hint: str

    @property
    def bearer(self) -> bool:
        """Whether the credential goes in the ``Authorization`` header."""
        return "Authorization" in self.headers


def resolve_auth(provider: str, settings: Any) -> Auth:
    """The credential to send: ``access_token`` if set, else ``api_key``.

    Raises `ConfigError` when neither is set (the core normally never builds the provider then).
    """
    token = str(settings.get("access_token") or "").strip()
    key = str(settings.get("api_key") or "").strip()
    if token:
        hint = f"check access_token ({env_name(provider, 'access_token')})"
        if not looks_like_token(token):
            hint += (
                f"; it does not look like an API Read Access Token (those start with "
                f"{TOKEN_PREFIX!r}): a 32-character v3 key belongs in api_key"
            )
        return Auth(headers={"Authorization": f"Bearer {token}"}, hint=hint)
    if key:
        hint = f"check api_key ({env_name(provider, 'api_key')})"
        if looks_like_token(key):
            hint += "; its value looks like a read-access token, so it was sent as one"
            return Auth(headers={"Authorization": f"Bearer {key}"}, hint=hint)
        return Auth(params={"api_key": key}, hint=hint)
    raise ConfigError(
        f"{provider}: no api_key or access_token configured: set "
        f"{env_name(provider, 'api_key')} or {env_name(provider, 'access_token')}"
    )
