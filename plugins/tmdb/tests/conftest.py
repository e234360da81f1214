"""Fixtures for the TMDB plugin tests: recorded samples, a provider harness, fake credentials."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from metarr import Ids, ProviderResult, SearchHit
from metarr.testing import make_provider, run
from metarr_tmdb import TmdbProvider

SAMPLES = Path(__file__).parent / "samples"
BASE_URL = "https://tmdb.test/3"
# Hand-written fake credentials: a v3-shaped key (32 hex) and a JWT-shaped read-access token.
API_KEY = "0123456789abcdef0123456789abcdef"
ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZXRhcnItdGVzdCJ9.c2lnbmF0dXJl"
APPEND = "external_ids,credits,images,release_dates,alternative_titles"


def load_sample(name: str) -> Any:
    """A recorded body from ``samples/`` (see ``samples/SOURCES.md``)."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def compose_fight_club() -> dict[str, Any]:
    """The answer to ``GET /movie/550?append_to_response=<APPEND>``, composed by us.

    There is no recording of that exact request, so this joins the real, separately recorded
    bodies of ``/movie/550`` and its five sub-resources: each becomes a top-level key named
    after the sub-resource, without its own ``id`` (as TMDB does in appended blocks, see the
    ``external_ids`` block of ``tmdb_movie_49521_append_external_ids.json``).
    """
    body = load_sample("tmdb_movie_550.json")
    for block in ("external_ids", "credits", "images", "release_dates", "alternative_titles"):
        sub = load_sample(f"tmdb_movie_550_{block}.json")
        sub.pop("id", None)
        body[block] = sub
    return body


def url(path: str) -> re.Pattern[str]:
    """A pattern matching ``BASE_URL + path`` with any query string."""
    return re.compile(re.escape(BASE_URL + path) + r"(\?.*)?$")


@attrs.define
class Tmdb:
    """Runs the provider's hooks against pytest-httpx, as the core would build it."""

    settings: dict[str, Any] = attrs.field(factory=lambda: {"api_key": API_KEY})
    language: str = "en"

    def provider(self, client: httpx.AsyncClient | None = None) -> TmdbProvider:
        return make_provider(
            TmdbProvider,
            "tmdb",
            self.settings,
            client=client or httpx.AsyncClient(),
            base_url=BASE_URL,
            language=self.language,
        )

    def lookup(self, **ids: Any) -> ProviderResult | None:
        return run(lambda client: self.provider(client).lookup_by_id(ids=Ids(**ids)))

    def search(self, query: str, year: int | None = None) -> list[SearchHit]:
        return run(lambda client: self.provider(client).search(query=query, year=year))


@pytest.fixture(autouse=True)
def _no_retry_sleep(no_retry_wait: None) -> None:
    """Every test without retry waits (the ``no_retry_wait`` fixture of metarr[testing])."""


@pytest.fixture
def sample() -> Callable[[str], Any]:
    """Load a recorded sample by file name."""
    return load_sample


@pytest.fixture
def fight_club() -> dict[str, Any]:
    """The composed Fight Club lookup body (a fresh copy per test)."""
    return copy.deepcopy(compose_fight_club())


@pytest.fixture
def tmdb() -> Tmdb:
    """A harness with the v3 api_key configured."""
    return Tmdb()


@pytest.fixture
def make_tmdb() -> Callable[..., Tmdb]:
    """Build a harness with other settings or language."""
    return Tmdb


@pytest.fixture
def tmdb_url() -> Callable[[str], re.Pattern[str]]:
    """``tmdb_url("/movie/550")``: a URL pattern for pytest-httpx."""
    return url


@pytest.fixture
def creds() -> dict[str, str]:
    """The fake credentials and expected constants."""
    return {"api_key": API_KEY, "access_token": ACCESS_TOKEN, "append": APPEND}
