"""The TheTVDB v4 provider: movie lookup by TVDB or IMDb id, and title search."""

from __future__ import annotations

from typing import Any, ClassVar

import metarr
from metarr import (
    AuthError,
    IdKind,
    Ids,
    NotFoundError,
    ProviderContext,
    ProviderError,
    ProviderResult,
    SearchHit,
    env_name,
)

from metarr_tvdb.auth import TvdbAuth
from metarr_tvdb.parse import parse_movie, parse_search_hit, pick_movie_id, unwrap

SEARCH_LIMIT = 20

# The tvdb column of the agreed field-priority table (lower ranks win).
FIELD_PRIORITY: dict[str, int] = {
    "title": 30,
    "year": 30,
    "release_date": 30,
    "runtime": 30,
    "plot": 30,
    "content_rating": 30,
    "original_title": 20,
    "genres": 30,
    "images": 30,
    "cast": 20,
    "crew": 20,
    "ids.tmdb": 20,
    "ids.imdb": 30,
    "ids.tvdb": 10,
}


class _TokenRejected(AuthError):
    """A data endpoint answered 401: the token may have expired; log in again once."""


class TvdbProvider(metarr.Provider):
    """TheTVDB v4: movies by TVDB id, or by IMDb id through ``/search/remoteid``.

    Settings: ``api_key`` (required) and ``pin`` (subscriber keys only). It does not look
    movies up by TMDB id: TVDB's remote-id search does not tie a bare number to a source.
    """

    id_types: ClassVar[frozenset[IdKind]] = frozenset({"tvdb", "imdb"})
    authority_for: ClassVar[frozenset[IdKind]] = frozenset({"tvdb"})
    options: ClassVar[tuple[metarr.Option, ...]] = (
        metarr.Option("api_key", secret=True, help="the v4 API key"),
        metarr.Option("pin", secret=True, help="the subscriber PIN (only for user-supported keys)"),
    )
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("api_key",),)
    default_base_url: ClassVar[str] = "https://api4.thetvdb.com/v4"
    default_ttl_days: ClassVar[float] = 7.0
    # Texts come from the eng translation.
    languages: ClassVar[frozenset[str] | None] = frozenset({"en"})

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.auth = TvdbAuth(
            self.http,
            provider=self.name,
            api_key=str(self.settings.get("api_key") or ""),
            pin=str(self.settings.get("pin") or "") or None,
            log=self.log,
            state_dir=context.state_dir,
        )

    # -- hooks ------------------------------------------------------------------------------

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        """The TVDB movie record for ``ids.tvdb``, else for ``ids.imdb``; None if unknown."""
        raw: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        movie_id = ids.tvdb
        if movie_id is None:
            if ids.imdb is None:
                return None
            try:
                body = await self._get(f"/search/remoteid/{ids.imdb}")
            except NotFoundError:
                return None
            entries = unwrap(self.name, body, list, "remote-id search")
            raw["remoteid"] = entries
            movie_id = pick_movie_id(entries)
            if movie_id is None:
                return None
            extra["imdb"] = ids.imdb
        try:
            body = await self._get(f"/movies/{movie_id}/extended", {"meta": "translations"})
        except NotFoundError:
            return None
        record = unwrap(self.name, body, dict, "movie record")
        raw["movie"] = record
        extra["tvdb"] = movie_id  # used only when the record states no valid id of its own
        return parse_movie(record, self.name, extra_ids=extra, raw=raw)

    @metarr.hookimpl
    async def search(self, query: str, year: int | None) -> list[SearchHit] | None:
        """TVDB's movie hits for ``query`` (narrowed to ``year`` when given), best first."""
        if not query or not query.strip():
            return []
        params = {"query": query.strip(), "type": "movie", "year": year, "limit": SEARCH_LIMIT}
        try:
            body = await self._get("/search", params)
        except NotFoundError:
            return []
        items = unwrap(self.name, body, list, "search")
        hits = [parse_search_hit(item, self.name) for item in items]
        return [hit for hit in hits if hit is not None]

    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        """The ids a TVDB result states: its own id plus IMDb/TMDB from ``remoteIds``."""
        return result.ids or None

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int] | None:
        """TVDB leads TVDB ids and ranks behind TMDB/OMDb for most other fields."""
        return dict(FIELD_PRIORITY)

    # -- requests ---------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET with the bearer token; on a 401, log in again once and retry once."""
        token = await self.auth.token()
        try:
            return await self.http.get_json(
                path, params=params, headers=_bearer(token), classify=self._classify_data
            )
        except _TokenRejected:
            self.log.debug("%s: token rejected on %s; logging in again", self.name, path)
        token = await self.auth.renew(token)
        try:
            # The first answer is memoized for this identification: bypass it for the retry.
            return await self.http.request(
                "GET",
                path,
                params=params,
                headers=_bearer(token),
                classify=self._classify_data,
                memo=False,
            )
        except _TokenRejected:
            credentials = env_name(self.name, "api_key")
            if self.settings.has("pin"):
                credentials += f" and {env_name(self.name, 'pin')}"
            raise AuthError(
                self.name,
                f"TheTVDB rejected a fresh login token (HTTP 401): check {credentials}",
            ) from None

    def _classify_data(self, status: int, body: Any) -> ProviderError | None:
        """A 401 from a data endpoint is a stale token until a fresh login says otherwise. A
        404 is "no such movie" only in TheTVDB's envelope (``{"status": "failure", "message":
        ...}``); any other 404 is left to the core (a bad response: check base_url)."""
        if status == 401:
            return _TokenRejected(self.name, "token rejected (HTTP 401)")
        if status == 404 and _is_failure(body):
            return NotFoundError(self.name, "not found (HTTP 404)")
        return None


def _is_failure(body: Any) -> bool:
    """Whether a body is TheTVDB's failure envelope."""
    return isinstance(body, dict) and str(body.get("status", "")).lower() == "failure"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
