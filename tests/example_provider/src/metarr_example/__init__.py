"""metarr-example: a third-party provider for a small community ratings service.

The service (fictional; tests mock it) answers ``GET /ratings/{imdb_id}?key=…`` with
``{"imdb_id": "tt0133093", "title": "The Matrix", "year": 1999, "average": 4.2,
"scale": 5, "votes": 1234}``, and with HTTP 404 ``{"error": "not found"}`` for movies it has no
ratings for. The provider adds that rating to the merged movie. It is a test fixture of
metarr's own suite (a third-party plugin injected with ``plugins=``, never installed).
"""

from __future__ import annotations

from typing import Any, ClassVar

import metarr
from metarr import Ids, InvalidResponseError, ProviderResult, Rating

__all__ = ["ExampleProvider"]


class ExampleProvider(metarr.Provider):
    """Community ratings by IMDb id."""

    id_types: ClassVar[frozenset[metarr.IdKind]] = frozenset({"imdb"})
    options: ClassVar[tuple[metarr.Option, ...]] = (
        metarr.Option("api_key", secret=True, help="the ratings service key"),
    )
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("api_key",),)
    default_base_url: ClassVar[str] = "https://ratings.example.org/api/v1"
    default_ttl_days: ClassVar[float] = 3.0

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        """The community rating for the movie, or None when the service has none."""
        if ids.imdb is None:
            return None
        try:
            body = await self.http.get_json(
                f"/ratings/{ids.imdb}",
                params={"key": self.settings.get("api_key")},
                classify=self.not_found,
            )
        except metarr.NotFoundError:
            return None
        if not isinstance(body, dict):
            raise InvalidResponseError(self.name, "expected a JSON object")
        return parse(self.name, body)

    def not_found(self, status: int, body: Any) -> metarr.ProviderError | None:
        """Claim the service's own "no ratings" answer; any other 404 (a wrong base URL) is
        left to the core, which reports it as a bad response instead of "not found"."""
        if status == 404 and isinstance(body, dict) and body.get("error") == "not found":
            return metarr.NotFoundError(self.name, "no ratings for this movie")
        return None

    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        """The IMDb id the service echoes."""
        return result.ids if result.ids else None

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        """Only ratings come from here; they sort after the big providers' ratings."""
        return {"ratings": 50}


def parse(provider: str, body: dict[str, Any]) -> ProviderResult:
    """A body from ``/ratings/{imdb_id}`` as a provider result."""
    scale = body.get("scale") if isinstance(body.get("scale"), int | float) else 5
    rating = Rating.safe(
        source="community",
        value=body.get("average"),
        max=float(scale),
        provider=provider,
        votes=body.get("votes"),
    )
    return ProviderResult(
        provider=provider,
        ids=Ids.lenient(imdb=body.get("imdb_id")),
        title=body.get("title"),
        year=body.get("year"),
        ratings=[rating] if rating else [],
        raw={"ratings": body},
    )
