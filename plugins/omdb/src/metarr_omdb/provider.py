"""The OMDb provider: IMDb-id lookups and title search against www.omdbapi.com.

OMDb reports errors in the body (``{"Response": "False", "Error": "..."}``), mostly with HTTP
200, and uses HTTP 401 both for a rejected key and for a spent daily quota, so responses are
classified by their body first (`classify`) and by status only when the body says nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import metarr
from metarr import (
    AuthError,
    IdKind,
    Ids,
    InvalidResponseError,
    NotFoundError,
    ProviderContext,
    ProviderError,
    ProviderResult,
    RateLimitedError,
    SearchHit,
    UnavailableError,
    env_name,
    redact,
)

from metarr_omdb import parse

# Error texts OMDb sends, verbatim. "Error getting data." is what an unknown (well-formed) id
# gives; "Incorrect IMDb ID." a malformed one; "Movie not found!" a title or search miss.
NOT_FOUND_ERRORS = frozenset({"Movie not found!", "Incorrect IMDb ID.", "Error getting data."})
NO_RESULTS_ERRORS = NOT_FOUND_ERRORS | {"Too many results."}
AUTH_ERRORS = frozenset({"Invalid API key!", "No API key provided."})
QUOTA_ERROR = "Request limit reached!"
MAX_ERROR_TEXT = 200

Classifier = Callable[[int, Any], ProviderError | None]


def next_midnight_utc(now: datetime | None = None) -> datetime:
    """The next 00:00 UTC after ``now``: when we assume OMDb's daily quota resets.

    OMDb does not document the reset time; midnight UTC is a guess that errs on the side of
    asking again too early (one wasted request), never of pausing for more than a day.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


def make_classifier(
    provider: str,
    secrets: tuple[str, ...] = (),
    *,
    empty: frozenset[str] = NOT_FOUND_ERRORS,
    now: Callable[[], datetime] | None = None,
) -> Classifier:
    """A ``classify`` callable for `ProviderHttp.get_json` that reads OMDb's error bodies.

    ``empty`` are the error texts meaning "no result" (raised as `NotFoundError`), which OMDb
    sends with HTTP 200: the same text on another status (a 404 from a wrong base URL) is left
    to the status. Unknown errors on a 2xx are `UnavailableError`; on other statuses the status
    decides. A 2xx body that is not an object with ``Response`` is an `InvalidResponseError`.
    """

    def classify(status: int, body: Any) -> ProviderError | None:
        if body is None:
            return None  # not JSON (or empty): the HTTP layer says so
        ok = 200 <= status < 300
        if not isinstance(body, dict):
            if ok:
                return InvalidResponseError(
                    provider, f"expected a JSON object, got {type(body).__name__}"
                )
            return None
        if "Response" not in body:
            return InvalidResponseError(provider, "body has no 'Response' field") if ok else None
        if str(body["Response"]).strip().lower() != "false":
            return None
        error = body.get("Error")
        error = error.strip() if isinstance(error, str) else ""
        if error in empty and ok:
            return NotFoundError(provider, f"no result ({error})")
        if error in AUTH_ERRORS:
            return AuthError(
                provider,
                f"OMDb rejected the API key ({error!r}, HTTP {status}): "
                f"check {env_name(provider, 'api_key')}; a new key works only once activated "
                "through the link OMDb emails",
            )
        if error == QUOTA_ERROR:
            current = (now or (lambda: datetime.now(UTC)))()
            until = next_midnight_utc(current)
            return RateLimitedError(
                provider,
                f"daily request limit reached (HTTP {status}); "
                f"paused until {until:%Y-%m-%d %H:%M} UTC (assumed reset time)",
                retry_after=(until - current).total_seconds(),
                until=until,
            )
        if not ok:
            return None  # an unknown text on an error status: let the status decide
        shown = redact(error or "no error text", secrets)[:MAX_ERROR_TEXT]
        return UnavailableError(provider, f"OMDb error: {shown}")

    return classify


class OmdbProvider(metarr.Provider):
    """OMDb (www.omdbapi.com): English metadata and IMDb/Rotten Tomatoes/Metacritic ratings.

    Settings: ``api_key`` (required), ``fetch_short_plot`` (default false: the outline is
    the full plot's first sentence instead of a second request per movie) and
    ``daily_requests`` (default 1,000, a free key's allowance; read by the core's refresh).
    """

    id_types: ClassVar[frozenset[IdKind]] = frozenset({"imdb"})
    authority_for: ClassVar[frozenset[IdKind]] = frozenset({"imdb"})  # validates against IMDb
    options: ClassVar[tuple[metarr.Option, ...]] = (
        metarr.Option("api_key", secret=True, help="the OMDb API key (activated by e-mail)"),
        metarr.Option(
            "fetch_short_plot",
            type=bool,
            default=False,
            help="true: a second request per movie for OMDb's own short plot (the outline)",
        ),
        metarr.Option(
            "daily_requests",
            type=int,
            default=1000,
            help="requests the key allows per UTC day (1,000 for a free key): refreshes spend "
            "at most [refresh] refresh_share of them; 0: no limit",
        ),
    )
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("api_key",),)
    default_base_url: ClassVar[str] = "https://www.omdbapi.com"
    default_ttl_days: ClassVar[float] = 7.0
    languages: ClassVar[frozenset[str] | None] = frozenset({"en"})

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.fetch_short_plot: bool = self.settings.get("fetch_short_plot") is True

    def _params(self, **params: Any) -> dict[str, Any]:
        return {"apikey": self.settings.get("api_key"), **params, "r": "json"}

    def _classifier(self, empty: frozenset[str] = NOT_FOUND_ERRORS) -> Classifier:
        key = self.settings.get("api_key")
        return make_classifier(self.name, (key,) if key else (), empty=empty)

    async def _get(self, params: dict[str, Any], empty: frozenset[str]) -> dict[str, Any]:
        body = await self.http.get_json(
            "/", params=self._params(**params), classify=self._classifier(empty)
        )
        if not isinstance(body, dict):  # an empty 200 body reaches here as None
            raise InvalidResponseError(self.name, "expected a JSON object")
        return body

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        """The OMDb record for ``ids.imdb``; None without one, when unknown or not a movie."""
        if ids.imdb is None:
            return None
        query = {"i": ids.imdb, "type": "movie"}
        try:
            body = await self._get({**query, "plot": "full"}, NOT_FOUND_ERRORS)
        except NotFoundError:
            return None
        if not parse.is_movie(body):
            return None
        raw: dict[str, Any] = {"title": body}
        outline = None
        if self.fetch_short_plot:
            short = await self._short_plot(query)
            if short is not None:
                raw["short"] = short
                outline = parse.value(short, "Plot")
        return parse.parse_movie(body, self.name, requested=ids, outline=outline, raw=raw)

    async def _short_plot(self, query: dict[str, Any]) -> dict[str, Any] | None:
        """The ``plot=short`` body, or None when it fails in a way the full record survives.

        A rejected key or a spent quota still propagates: the engine must learn of those.
        """
        try:
            return await self._get({**query, "plot": "short"}, NOT_FOUND_ERRORS)
        except (AuthError, RateLimitedError):
            raise
        except ProviderError as exc:
            self.log.warning("%s: short plot unavailable, deriving the outline: %s", self.name, exc)
            return None

    @metarr.hookimpl
    async def search(self, query: str, year: int | None) -> list[SearchHit] | None:
        """Movie hits for ``query`` (first page, OMDb's order); [] when OMDb has none."""
        if not query or not query.strip():
            return []
        params = {"s": query.strip(), "type": "movie", "y": year, "page": 1}
        try:
            body = await self._get(params, NO_RESULTS_ERRORS)
        except NotFoundError:
            return []
        return parse.parse_search(body, self.name)

    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        """The IMDb id the record states."""
        ids = result.ids.only({"imdb"})
        return ids or None

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        """OMDb leads the plain facts, outline, awards, ratings and the IMDb id."""
        return {
            "title": 10,
            "year": 10,
            "release_date": 10,
            "runtime": 10,
            "plot": 10,
            "content_rating": 10,
            "outline": 10,
            "awards": 10,
            "genres": 20,
            "ratings": 10,
            "images": 40,
            "cast": 30,
            "crew": 30,
            "ids.imdb": 10,
        }
