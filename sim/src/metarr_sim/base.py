"""What the simulated providers share: keys, the request/reply records and the provider base."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from metarr_sim.world import World

__all__ = ["Reply", "SimKeys", "SimProvider", "SimRequest"]


@attrs.frozen(kw_only=True)
class SimKeys:
    """The credentials the simulator accepts. They are simulator keys, not secrets."""

    tmdb_api_key: str = "5133e41e0f0c4f4b9d9a5f4c0d51a7e3"
    tmdb_token: str = "eyJhbGciOiJIUzI1NiJ9.eyJzaW0iOiJtZXRhcnIifQ.c2ltdWxhdGVkLXRtZGItdG9rZW4"
    omdb_api_key: str = "51m0mdb1"
    fanart_api_key: str = "f4a7c3e9b2d84e6a9c1b5d7e3f2a8c60"
    tvdb_api_key: str = "5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    tvdb_pin: str | None = None
    """When set, TVDB's ``/login`` requires this PIN (a subscription key)."""


@attrs.frozen(kw_only=True)
class SimRequest:
    """One request as a simulated provider sees it (``path`` is relative to the base URL)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes = b""


@attrs.frozen(kw_only=True)
class Reply:
    """A JSON reply."""

    status: int
    body: Any
    headers: Mapping[str, str] = attrs.field(factory=dict)


class SimProvider:
    """A simulated provider API: routing, auth and bodies (transport lives in the server)."""

    name: ClassVar[str]
    prefix: ClassVar[str]
    """Where the API lives on the simulator; the path after it is the real API path."""

    def __init__(self, world: World, keys: SimKeys) -> None:
        self.world = world
        self.keys = keys

    def endpoint(self, request: SimRequest) -> str:
        """The endpoint name used in request counts."""
        raise NotImplementedError

    def handle(self, request: SimRequest) -> Reply:
        """Answer one request."""
        raise NotImplementedError

    def error(self, status: int, *, retry_after: int | None = None) -> Reply:
        """The provider's body for a simulated 429 or 5xx."""
        raise NotImplementedError

    def key_of(self, request: SimRequest) -> str | None:
        """The credential a request presents (quota is counted per key)."""
        return None

    def authorised(self, request: SimRequest) -> bool:
        """Whether the request presents valid credentials."""
        raise NotImplementedError

    def quota_exceeded(self) -> Reply:
        """The reply once the daily quota is spent (a 429 unless the API says otherwise)."""
        return self.error(429, retry_after=3600)


def bearer(request: SimRequest) -> str | None:
    """The Bearer token of a request, if any."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
