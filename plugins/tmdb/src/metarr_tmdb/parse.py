"""TMDB v3 payloads → metarr models.

Every field is optional and a value of the wrong type is ignored; only a body of the wrong
overall shape (not an object, a movie without an id, a result list that is not a list) raises
`InvalidResponseError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import attrs
from metarr import (
    CastMember,
    CrewMember,
    Ids,
    Image,
    InvalidResponseError,
    ProviderResult,
    Rating,
    SearchHit,
)

DEFAULT_IMAGE_BASE_URL = "https://image.tmdb.org/t/p/"
DEFAULT_IMAGE_SIZE = "original"
SEARCH_POSTER_SIZE = "w342"
# The keys of the `images` block and the metarr image kind each one feeds.
IMAGE_BLOCKS: tuple[tuple[str, str], ...] = (
    ("posters", "poster"),
    ("backdrops", "backdrop"),
    ("logos", "logo"),
)
# The top-level path used when the `images` block gives nothing of that kind.
FALLBACK_PATHS: dict[str, str] = {"poster": "poster_path", "backdrop": "backdrop_path"}
THEATRICAL = 3  # release_dates[].type: 1 premiere, 2 limited, 3 theatrical, 4 digital, …
CERTIFICATION_COUNTRY = "US"
MAX_ID = 2**31 - 1  # the largest id metarr accepts (its `Ids` refuses more)
_SPACE = re.compile(r"\s")  # what str.isspace() calls whitespace (the same Unicode table)


@attrs.frozen(kw_only=True)
class ImageUrls:
    """Builds image URLs: ``base`` (ends with ``/``) + size + TMDB ``file_path``."""

    base: str = DEFAULT_IMAGE_BASE_URL
    size: str = DEFAULT_IMAGE_SIZE

    def url(self, file_path: object, size: str | None = None) -> str | None:
        """The full URL of a ``file_path`` such as ``/pB8BM7….jpg``; None when it is unusable."""
        if not isinstance(file_path, str) or not file_path.startswith("/"):
            return None
        if len(file_path) > 300 or _SPACE.search(file_path):
            return None
        base = self.base if self.base.endswith("/") else self.base + "/"
        return f"{base}{size or self.size}{file_path}"


def positive_id(value: object) -> int | None:
    """A TMDB movie or person id from a payload (a positive int in range), or None."""
    if type(value) is int:  # what JSON holds (not a bool): `parse_numeric`'s test, no `Ids` built
        return value if 0 < value <= MAX_ID else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return Ids.lenient(tmdb=value).tmdb


def require_object(provider: str, body: object, what: str) -> dict[str, Any]:
    """The body as a dict, or `InvalidResponseError` naming what was expected."""
    if not isinstance(body, dict):
        raise InvalidResponseError(
            provider, f"{what} is a JSON {type(body).__name__}, expected an object"
        )
    return body


def find_movie_id(provider: str, body: object) -> int | None:
    """The TMDB id of the first movie in a ``/find`` answer; None when there is none."""
    data = require_object(provider, body, "the /find answer")
    results = data.get("movie_results")
    if not isinstance(results, list):
        raise InvalidResponseError(provider, "the /find answer has no movie_results list")
    if not results:
        return None
    for item in results:
        found = positive_id(item.get("id")) if isinstance(item, dict) else None
        if found is not None:
            return found
    raise InvalidResponseError(provider, "the /find answer lists movies without a usable id")


def parse_changes(provider: str, body: object) -> tuple[list[str], int]:
    """One page of ``/movie/changes``: the TMDB ids on it, as text, and the page count."""
    data = require_object(provider, body, "a change feed page")
    results, total = data.get("results"), data.get("total_pages")
    if not isinstance(results, list) or not isinstance(total, int) or isinstance(total, bool):
        raise InvalidResponseError(provider, "the change feed page has no results or total_pages")
    ids = [positive_id(item.get("id")) if isinstance(item, dict) else None for item in results]
    if None in ids:
        raise InvalidResponseError(provider, "the change feed lists an entry without a usable id")
    return [str(i) for i in ids], total


def parse_movie(
    provider: str,
    body: object,
    *,
    language: str | None,
    images: ImageUrls,
    raw: dict[str, Any],
) -> ProviderResult:
    """A ``/movie/{id}`` body (with appended blocks) as a `ProviderResult`."""
    data = require_object(provider, body, "the movie record")
    tmdb_id = positive_id(data.get("id"))
    if tmdb_id is None:
        raise InvalidResponseError(provider, "the movie record has no usable id")
    external = _dict(data.get("external_ids"))
    title = data.get("title")
    original_title = data.get("original_title")
    collection = _dict(data.get("belongs_to_collection")).get("name")
    return ProviderResult(
        provider=provider,
        ids=Ids.lenient(tmdb=tmdb_id, imdb=data.get("imdb_id") or external.get("imdb_id")),
        title=title,
        original_title=original_title,
        year=_text(data.get("release_date"))[:4] or None,
        release_date=data.get("release_date"),
        runtime=data.get("runtime") or None,
        plot=data.get("overview"),
        tagline=data.get("tagline"),
        content_rating=certification(data.get("release_dates")),
        genres=[g.get("name") for g in _dicts(data.get("genres"))],
        collection=collection,
        ratings=_ratings(provider, data),
        images=_images(provider, data, images),
        cast=list(_cast(provider, data)),
        crew=list(_crew(provider, data)),
        alternative_titles=_alternative_titles(data, title, original_title),
        language=language,
        raw=raw,
    )


def certification(block: object) -> str | None:
    """The US certification: the theatrical release's, else any non-empty US one."""
    for country in _dicts(_dict(block).get("results")):
        if country.get("iso_3166_1") != CERTIFICATION_COUNTRY:
            continue
        dates = _dicts(country.get("release_dates"))
        releases = [r for r in dates if _text(r.get("certification"))]
        releases.sort(key=lambda r: r.get("type") != THEATRICAL)
        if releases:
            return _text(releases[0].get("certification"))
    return None


def parse_search(provider: str, body: object, *, images: ImageUrls) -> list[SearchHit]:
    """The hits of a ``/search/movie`` page, in TMDB's order; unusable entries are skipped."""
    data = require_object(provider, body, "the search answer")
    results = data.get("results")
    if not isinstance(results, list):
        raise InvalidResponseError(provider, "the search answer has no results list")
    hits: list[SearchHit] = []
    for item in _dicts(results):
        tmdb_id = positive_id(item.get("id"))
        if tmdb_id is None:
            continue
        try:
            hit = SearchHit(
                provider=provider,
                ids=Ids(tmdb=tmdb_id),
                title=item.get("title"),
                original_title=item.get("original_title"),
                year=_text(item.get("release_date"))[:4] or None,
                poster=images.url(item.get("poster_path"), SEARCH_POSTER_SIZE),
                popularity=item.get("popularity"),
                release_date=item.get("release_date"),
                outline=item.get("overview"),
            )
        except (TypeError, ValueError):  # no usable title
            continue
        hits.append(hit)
    return hits


def _ratings(provider: str, data: dict[str, Any]) -> list[Rating]:
    votes = data.get("vote_count")
    if isinstance(votes, bool) or not isinstance(votes, int) or votes <= 0:
        return []
    rating = Rating.safe(
        source="tmdb", value=data.get("vote_average"), max=10, provider=provider, votes=votes
    )
    return [] if rating is None else [rating]


def _images(provider: str, data: dict[str, Any], urls: ImageUrls) -> list[Image]:
    block = _dict(data.get("images"))
    found: list[Image] = []
    for key, kind in IMAGE_BLOCKS:
        of_kind = [
            image
            for item in _dicts(block.get(key))
            if (
                image := Image.safe(
                    provider=provider,
                    kind=kind,
                    url=urls.url(item.get("file_path")),
                    width=item.get("width"),
                    height=item.get("height"),
                    language=item.get("iso_639_1"),
                    score=item.get("vote_average"),
                    votes=item.get("vote_count"),
                )
            )
            is not None
        ]
        if not of_kind and kind in FALLBACK_PATHS:
            # No images block (or nothing of this kind in the requested languages): the
            # record's own poster/backdrop, language unknown.
            fallback = Image.safe(
                provider=provider, kind=kind, url=urls.url(data.get(FALLBACK_PATHS[kind]))
            )
            of_kind = [] if fallback is None else [fallback]
        found.extend(of_kind)
    return found


def _cast(provider: str, data: dict[str, Any]) -> Iterator[CastMember]:
    for person in _dicts(_dict(data.get("credits")).get("cast")):
        try:
            yield CastMember(
                provider=provider,
                name=person.get("name"),
                character=person.get("character"),
                order=person.get("order"),
                person_id=_person_id(person.get("id")),
            )
        except (TypeError, ValueError):  # no usable name
            continue


def _crew(provider: str, data: dict[str, Any]) -> Iterator[CrewMember]:
    for person in _dicts(_dict(data.get("credits")).get("crew")):
        try:
            yield CrewMember(
                provider=provider,
                name=person.get("name"),
                job=person.get("job"),
                department=person.get("department"),
                person_id=_person_id(person.get("id")),
            )
        except (TypeError, ValueError):  # no usable name or job
            continue


def _alternative_titles(data: dict[str, Any], title: object, original: object) -> list[object]:
    titles: list[object] = []
    if original != title:
        titles.append(original)
    block = _dict(data.get("alternative_titles"))
    titles.extend(t.get("title") for t in _dicts(block.get("titles")))
    return titles


def _person_id(value: object) -> str | None:
    found = positive_id(value)
    return None if found is None else str(found)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
