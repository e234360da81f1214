"""The TMDB v3 provider: requests and hook implementations (parsing is in `metarr_tmdb.parse`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import metarr
from metarr import ConfigError, IdKind, Ids, NotFoundError, ProviderResult, SearchHit

from metarr_tmdb import parse
from metarr_tmdb.auth import Auth, resolve_auth
from metarr_tmdb.classify import Classifier

# Sub-resources appended to the details request, so a lookup by TMDB id is one request.
APPEND_TO_RESPONSE = "external_ids,credits,images,release_dates,alternative_titles"
_SIZE_RE = re.compile(r"^[A-Za-z0-9_]{1,20}$")
FEED_WINDOW_DAYS = 14  # the longest window one /movie/changes request may cover (both ends kept)
MAX_FEED_PAGE = 500
DEFAULT_FEED_PAGES = 30  # pages of 100 ids one changed_since call may read before giving up

# The tmdb column of the agreed field-priority table (lower wins).
FIELD_PRIORITY: dict[str, int] = {
    "title": 20,
    "year": 20,
    "release_date": 20,
    "runtime": 20,
    "plot": 20,
    "content_rating": 20,
    "original_title": 10,
    "tagline": 10,
    "collection": 10,
    "genres": 10,
    "ratings": 20,
    "images": 10,
    "cast": 10,
    "crew": 10,
    "ids.tmdb": 10,
    "ids.imdb": 20,
}


class TmdbProvider(metarr.Provider):
    """Movie records from TMDB v3 by TMDB or IMDb id, and title search.

    Settings: ``api_key`` or ``access_token`` (either enables it), ``image_size`` (default
    ``original``) and ``image_base_url`` (default ``https://image.tmdb.org/t/p/``), plus the
    common ``base_url``, ``timeout``, ``ttl_days`` and ``enabled``.
    """

    id_types: ClassVar[frozenset[IdKind]] = frozenset({"tmdb", "imdb"})
    authority_for: ClassVar[frozenset[IdKind]] = frozenset({"tmdb"})
    options: ClassVar[tuple[metarr.Option, ...]] = (
        metarr.Option("api_key", secret=True, help="the v3 API key (32 hex characters)"),
        metarr.Option(
            "access_token",
            secret=True,
            help="the API Read Access Token (starts with eyJ); instead of api_key",
        ),
        metarr.Option(
            "image_size",
            default=parse.DEFAULT_IMAGE_SIZE,
            help="the image size in artwork URLs: original, w780, w342, ...",
        ),
        metarr.Option(
            "feed_max_pages",
            type=int,
            default=DEFAULT_FEED_PAGES,
            help="pages of TMDB's change feed one refresh may read (100 ids each); beyond, "
            "the stale movies are refetched instead",
        ),
        metarr.Option(
            "image_base_url",
            default=parse.DEFAULT_IMAGE_BASE_URL,
            help="where TMDB serves images (the secure_base_url of /configuration)",
        ),
    )
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("api_key",), ("access_token",))
    default_base_url: ClassVar[str] = "https://api.themoviedb.org/3"
    default_ttl_days: ClassVar[float] = 7.0
    languages: ClassVar[frozenset[str] | None] = None

    def __init__(self, context: metarr.ProviderContext) -> None:
        super().__init__(context)
        self.auth: Auth = resolve_auth(self.name, self.settings)
        self.images = parse.ImageUrls(
            base=_image_base_url(self.name, self.settings.get("image_base_url")),
            size=_image_size(self.name, self.settings.get("image_size")),
        )
        self.language = context.language
        # include_image_language takes ISO-639-1 codes: "de-DE" → "de"; "null" = textless.
        self.image_languages = f"{context.language.split('-')[0].lower()},null"
        self._classify = Classifier(self.name, self.auth.hint)

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        return await self.http.get_json(
            path,
            params={**params, **self.auth.params},
            headers=self.auth.headers,
            classify=self._classify,
        )

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        """The movie by TMDB id (one request) or, failing that, by IMDb id (``/find`` first)."""
        raw: dict[str, Any] = {}
        tmdb_id = ids.tmdb
        if tmdb_id is None:
            if ids.imdb is None:
                return None
            try:
                found = await self._get(f"/find/{ids.imdb}", {"external_source": "imdb_id"})
            except NotFoundError:
                return None
            raw["find"] = found
            tmdb_id = parse.find_movie_id(self.name, found)
            if tmdb_id is None:
                self.log.debug("%s: no movie for %s", self.name, ids.imdb)
                return None
        try:
            movie = await self._get(
                f"/movie/{tmdb_id}",
                {
                    "append_to_response": APPEND_TO_RESPONSE,
                    "include_image_language": self.image_languages,
                    "language": self.language,
                },
            )
        except NotFoundError:
            self.log.debug("%s: no movie %s", self.name, tmdb_id)
            return None
        raw["movie"] = movie
        return parse.parse_movie(
            self.name, movie, language=self.language, images=self.images, raw=raw
        )

    @metarr.hookimpl
    async def search(self, query: str, year: int | None) -> list[SearchHit]:
        """The first page of ``/search/movie`` for the title, TMDB's order kept.

        ``year`` goes out as TMDB's ``year``, which matches a release in that year in any
        country, not ``primary_release_year`` (the first release only): a file named after
        its local release year, or a festival premiere a year before the wide release, still
        finds the movie. The core scores the year itself, so the wider filter costs nothing.
        """
        text = query.strip()
        if not text:
            return []
        usable_year = year if isinstance(year, int) and not isinstance(year, bool) else None
        try:
            body = await self._get(
                "/search/movie",
                {
                    "query": text,
                    "year": usable_year,
                    "include_adult": "false",
                    "language": self.language,
                    "page": 1,
                },
            )
        except NotFoundError:
            return []
        return parse.parse_search(self.name, body, images=self.images)

    @metarr.hookimpl
    async def changed_since(self, since: datetime, until: datetime) -> set[str] | None:
        """TMDB ids changed from ``since`` to ``until``, from ``/movie/changes``: windows of
        14 days (whole UTC days, both ends included, so a little more than asked), every page
        of each. None when that takes more than ``feed_max_pages`` pages."""
        budget = int(self.settings.get("feed_max_pages", DEFAULT_FEED_PAGES))
        first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
        changed: set[str] = set()
        pages = 0
        while first <= last:
            end = min(last, first + timedelta(days=FEED_WINDOW_DAYS - 1))
            page, total = 1, 1
            while page <= total:
                pages += 1
                if pages > budget:
                    self.log.info("%s: change feed longer than %d pages", self.name, budget)
                    return None
                body = await self._get(
                    "/movie/changes",
                    {"start_date": first.isoformat(), "end_date": end.isoformat(), "page": page},
                )
                ids, total = parse.parse_changes(self.name, body)
                if total > MAX_FEED_PAGE:
                    return None  # TMDB serves pages 1 to 500 only
                changed.update(ids)
                page += 1
            first = end + timedelta(days=1)
        return changed

    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        """The TMDB and IMDb ids the record states."""
        return result.ids or None

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        """TMDB's column of the field-priority table."""
        return dict(FIELD_PRIORITY)


def _image_base_url(provider: str, value: object) -> str:
    if value in (None, ""):
        return parse.DEFAULT_IMAGE_BASE_URL
    text = str(value).strip()
    if not text.startswith(("https://", "http://")) or any(ch.isspace() for ch in text):
        raise ConfigError(f"{provider}: image_base_url must be an http(s) URL, not {text!r}")
    return text if text.endswith("/") else text + "/"


def _image_size(provider: str, value: object) -> str:
    if value in (None, ""):
        return parse.DEFAULT_IMAGE_SIZE
    text = str(value).strip()
    if not _SIZE_RE.match(text):
        raise ConfigError(
            f"{provider}: image_size must be a TMDB size such as original or w780, not {text!r}"
        )
    return text
