"""The provider contract every metarr provider must honour, run against OMDb."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from metarr import Ids
from metarr.testing import ProviderContract
from metarr_omdb import OmdbProvider

SAMPLES = Path(__file__).parent / "samples"


def _sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


class TestOmdbContract(ProviderContract):
    """OMDb signals not-found and bad keys in the body, so both mocks serve OMDb's bodies."""

    factory = OmdbProvider
    name = "omdb"
    settings: ClassVar[dict[str, Any]] = {"api_key": "contract-omdb-key"}
    known_ids = Ids(imdb="tt0770828")

    def mock_found(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(json=_sample("omdb_tt0770828.json"), is_reusable=True)

    def mock_not_found(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(
            status_code=200, json=_sample("omdb_error_tt9999999.json"), is_reusable=True
        )

    def mock_failure(self, httpx_mock: Any, status: int, headers: dict[str, str]) -> None:
        # HAND-WRITTEN: OMDb's rejected-key body (API.md §2.4); other statuses get no OMDb text.
        body = (
            {"Response": "False", "Error": "Invalid API key!"}
            if status in (401, 403)
            else {"error": "failure"}
        )
        httpx_mock.add_response(status_code=status, headers=headers, json=body, is_reusable=True)

    def mock_search(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(
            json=_sample("omdb_search_man_of_steel_type_movie.json"), is_reusable=True
        )
