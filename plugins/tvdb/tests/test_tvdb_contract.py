"""The provider contract from `metarr.testing`, run against the TVDB provider."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

from metarr import Ids
from metarr.testing import ProviderContract
from metarr_tvdb import TvdbProvider

SAMPLES = Path(__file__).parent / "samples"
BASE = "https://provider.test/api"


def _body(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


class TestTvdbContract(ProviderContract):
    """Every contract test; `mock_failure` answers login with the failure too."""

    factory = TvdbProvider
    name = "tvdb"
    settings: ClassVar[dict[str, Any]] = {
        "api_key": "contract-test-key",
        "pin": "contract-test-pin",
    }
    base_url = BASE
    known_ids = Ids(tvdb=12345)

    def _login(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(
            method="POST",
            url=f"{BASE}/login",
            json=_body("handwritten_login.json"),
            is_reusable=True,
            is_optional=True,
        )

    def mock_found(self, httpx_mock: Any) -> None:
        self._login(httpx_mock)
        httpx_mock.add_response(
            method="GET",
            url=f"{BASE}/movies/12345/extended?meta=translations",
            json=_body("handwritten_movie_12345_extended.json"),
            is_reusable=True,
        )

    def mock_not_found(self, httpx_mock: Any) -> None:
        # TVDB still serves /login for an unknown movie: only the data endpoints say 404.
        self._login(httpx_mock)
        httpx_mock.add_response(
            method="GET",
            status_code=404,
            json=_body("handwritten_not_found.json"),
            is_reusable=True,
        )

    def mock_search(self, httpx_mock: Any) -> None:
        self._login(httpx_mock)
        httpx_mock.add_response(
            method="GET",
            url=re.compile(rf"{re.escape(BASE)}/search\?.*"),
            json=_body("handwritten_search_the_matrix.json"),
            is_reusable=True,
        )
