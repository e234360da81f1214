"""The core's provider contract, run against TmdbProvider with each kind of credential."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from metarr import Ids
from metarr.testing import ProviderContract
from metarr_tmdb import TmdbProvider

CONTRACT_BASE = "https://provider.test/api"


class TestContractWithApiKey(ProviderContract):
    factory = TmdbProvider
    name = "tmdb"
    settings: ClassVar[dict[str, Any]] = {"api_key": "0123456789abcdef0123456789abcdef"}
    base_url = CONTRACT_BASE
    known_ids = Ids(tmdb=550)

    @pytest.fixture(autouse=True)
    def _bodies(self, fight_club: dict[str, Any], sample: Callable[[str], Any]) -> None:
        self.fight_club = fight_club
        self.sample = sample

    def mock_found(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(
            url=re.compile(re.escape(CONTRACT_BASE) + r"/movie/550\?.*"),
            json=self.fight_club,
            is_reusable=True,
        )

    def mock_not_found(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(
            status_code=404, json=self.sample("tmdb_error_not_found.json"), is_reusable=True
        )

    def mock_search(self, httpx_mock: Any) -> None:
        # The recorded "Man of Steel" page stands in for the contract's "Heat" query.
        httpx_mock.add_response(
            url=re.compile(re.escape(CONTRACT_BASE) + r"/search/movie\?.*"),
            json=self.sample("tmdb_search_movie_man_of_steel.json"),
        )


class TestContractWithAccessToken(TestContractWithApiKey):
    settings: ClassVar[dict[str, Any]] = {
        "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZXRhcnItdGVzdCJ9.c2lnbmF0dXJl"
    }


class TestContractImdbOnly(TestContractWithApiKey):
    """The same contract when only the IMDb id is known (``/find`` first, then details)."""

    known_ids = Ids(imdb="tt0137523")

    def mock_found(self, httpx_mock: Any) -> None:
        # Hand-written /find answer pointing at 550 (no /find recording exists for Fight Club).
        httpx_mock.add_response(
            url=re.compile(re.escape(CONTRACT_BASE) + r"/find/tt0137523\?.*"),
            json={"movie_results": [{"id": 550, "title": "Fight Club"}], "tv_results": []},
            is_reusable=True,
        )
        super().mock_found(httpx_mock)
