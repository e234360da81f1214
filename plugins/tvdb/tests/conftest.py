"""Shared helpers for the TheTVDB provider tests, handed out through the ``kit`` fixture.

(Tests run with ``--import-mode=importlib``, so test modules cannot import this file.)
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Coroutine
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from metarr.testing import make_provider, run
from metarr_tvdb import TvdbProvider

SAMPLES = Path(__file__).parent / "samples"


@cache
def _load(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


class Kit:
    """Constants and helpers for TVDB tests."""

    BASE = "https://api4.thetvdb.com/v4"
    API_KEY = "0a1b2c3d-secret-api-key-4e5f"
    PIN = "PIN-31337-secret"
    TOKEN = "eyJhbGciOiJSUzI1NiJ9.handwritten-test-token.c2lnbmF0dXJl"
    SECRETS = (API_KEY, PIN, TOKEN)

    def __init__(self, httpx_mock: Any) -> None:
        self.mock = httpx_mock

    @staticmethod
    def sample(name: str) -> Any:
        """A fresh copy of a body from ``samples/``."""
        return copy.deepcopy(json.loads(_load(name)))

    def provider(self, client: httpx.AsyncClient, **settings: Any) -> TvdbProvider:
        """A provider built the way the core builds it (default: api_key only)."""
        values: dict[str, Any] = {"api_key": self.API_KEY, **settings}
        return make_provider(TvdbProvider, "tvdb", values, client=client)

    def call(
        self, body: Callable[[TvdbProvider], Coroutine[Any, Any, Any]], **settings: Any
    ) -> Any:
        """Run ``body(provider)`` on a fresh loop, client and provider."""

        async def main(client: httpx.AsyncClient) -> Any:
            return await body(self.provider(client, **settings))

        return run(main)

    def assert_clean(self, exc: BaseException, *extra: str) -> None:
        """No secret (key, pin, token) in the error's str or repr."""
        for secret in (*self.SECRETS, *extra):
            assert secret not in str(exc)
            assert secret not in repr(exc)

    def add_login(self, token: str | None = None, **kwargs: Any) -> None:
        """A successful ``POST /login`` answering ``token``."""
        self.mock.add_response(
            method="POST",
            url=f"{self.BASE}/login",
            json={"status": "success", "data": {"token": token or self.TOKEN}},
            **kwargs,
        )

    def logins(self) -> list[httpx.Request]:
        """The ``POST /login`` requests sent."""
        return self.mock.get_requests(method="POST", url=f"{self.BASE}/login")

    def data_requests(self) -> list[httpx.Request]:
        """The GET requests sent."""
        return self.mock.get_requests(method="GET")

    def movie_url(self, movie_id: int = 12345) -> str:
        """The extended-record URL the provider asks for."""
        return f"{self.BASE}/movies/{movie_id}/extended?meta=translations"

    def remoteid_url(self, imdb: str = "tt0133093") -> str:
        """The remote-id search URL for an IMDb id."""
        return f"{self.BASE}/search/remoteid/{imdb}"

    def add_movie(self, body: Any = None, movie_id: int = 12345, **kwargs: Any) -> None:
        """The extended record (the hand-written Matrix fixture by default)."""
        if body is None:
            body = self.sample("handwritten_movie_12345_extended.json")
        self.mock.add_response(method="GET", url=self.movie_url(movie_id), json=body, **kwargs)


@pytest.fixture
def kit(httpx_mock: Any) -> Kit:
    """Helpers bound to this test's ``httpx_mock``."""
    return Kit(httpx_mock)


@pytest.fixture(autouse=True)
def _no_retry_sleep(no_retry_wait: None) -> None:
    """Every test without retry waits (the ``no_retry_wait`` fixture of metarr[testing])."""


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test keeps the TVDB token under its own directory (``METARR_STATE_DIR``)."""
    root = tmp_path / "state"
    monkeypatch.setenv("METARR_STATE_DIR", str(root))
    return root / "tvdb"
