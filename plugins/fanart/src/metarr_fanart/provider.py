"""The Fanart.tv v3 provider: logos, clear art, posters, backdrops, … by TMDB or IMDb id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import metarr
from metarr import (
    AuthError,
    IdKind,
    Ids,
    InvalidResponseError,
    NotFoundError,
    ProviderError,
    env_name,
    error_for_status,
    redact,
)

from metarr_fanart.parse import error_message, is_error_body, parse_movie

FIELD_PRIORITY: dict[str, int] = {"images": 20, "ids.tmdb": 30, "ids.imdb": 40}


class FanartProvider(metarr.Provider):
    """Fanart.tv artwork for a movie, looked up by TMDB id (preferred) or IMDb id.

    Settings: ``api_key`` (the project key, required) and ``client_key`` (a user's personal
    key, optional: it makes new art visible sooner). The cache lives one day because new art
    is approved every day. Fanart has no search, so this provider only enriches movies whose
    ids another provider (or the user) found.
    """

    id_types: ClassVar[frozenset[IdKind]] = frozenset({"tmdb", "imdb"})
    options: ClassVar[tuple[metarr.Option, ...]] = (
        metarr.Option("api_key", secret=True, help="the project API key"),
        metarr.Option(
            "client_key",
            secret=True,
            help="optional: a user's personal key (new art sooner, higher limits)",
        ),
    )
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("api_key",),)
    default_base_url: ClassVar[str] = "https://webservice.fanart.tv/v3"
    default_ttl_days: ClassVar[float] = 1.0
    languages: ClassVar[frozenset[str] | None] = None

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> metarr.ProviderResult | None:
        """Fanart's art for the movie, or None when no tmdb/imdb id is given or it has none."""
        kind: IdKind
        if ids.tmdb is not None:
            kind, value = "tmdb", str(ids.tmdb)
        elif ids.imdb is not None:
            kind, value = "imdb", ids.imdb
        else:
            return None
        params = {
            "api_key": self.settings.get("api_key"),
            "client_key": self.settings.get("client_key") or None,
        }
        try:
            body = await self.http.get_json(
                f"/movies/{value}", params=params, classify=self._classify
            )
        except NotFoundError:
            return None
        if is_error_body(body):
            # Old servers answered "not found" with HTTP 200 and the error envelope.
            self.log.debug("fanart: error body with HTTP 200 for %s:%s", kind, value)
            return None
        if not isinstance(body, Mapping):
            raise InvalidResponseError(
                self.name, f"expected a JSON object for a movie, got {_shape(body)}"
            )
        result = parse_movie(body, self.name)
        echoed = result.ids.get(kind)
        if echoed is not None and echoed != ids.get(kind):
            raise InvalidResponseError(
                self.name, f"asked for {kind}:{value} but the answer is for {kind}:{echoed}"
            )
        return result

    @metarr.hookimpl
    def extract_ids(self, result: metarr.ProviderResult) -> Ids | None:
        """The tmdb and imdb ids Fanart echoes for the movie (its cross-reference), or None."""
        return result.ids.only({"tmdb", "imdb"}) or None

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        """Images rank after TMDB's; the echoed ids are the weakest authority for their kind."""
        return dict(FIELD_PRIORITY)

    def _classify(self, status: int, body: Any) -> ProviderError | None:
        """Auth failures carry Fanart's own message; a 200 error envelope about keys is one too.
        A 404 is "no art for this movie" only with Fanart's error envelope (``{"status":
        "error", ...}``); any other 404 is left to the core (a bad response: check base_url)."""
        if status == 404 and is_error_body(body):
            return NotFoundError(self.name, "no art for this movie (HTTP 404)")
        message = error_message(body)
        keys = f"{env_name(self.name, 'api_key')} (and {env_name(self.name, 'client_key')})"
        said = f"{redact(message, self.settings.secrets())}; " if message else ""
        if status in (401, 403):
            return error_for_status(self.name, status, hint=f"{said}check {keys}")
        if 200 <= status < 300 and is_error_body(body) and "key" in (message or "").lower():
            return AuthError(self.name, f"credentials rejected (HTTP {status}): {said}check {keys}")
        return None


def _shape(body: object) -> str:
    if body is None:
        return "an empty body"
    return {list: "a list", str: "a string", bool: "a boolean"}.get(type(body), type(body).__name__)
