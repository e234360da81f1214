"""Fixtures for the OMDb plugin tests: recorded samples and a provider bound to a test client."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from metarr.testing import make_provider, run
from metarr_omdb import OmdbProvider

SAMPLES = Path(__file__).parent / "samples"
API_KEY = "omdb-secret-key-1234"

Call = Callable[..., Any]


@pytest.fixture
def sample() -> Callable[[str], Any]:
    """Load a recorded body from ``tests/samples`` (a fresh copy each time)."""

    def load(name: str) -> Any:
        return json.loads((SAMPLES / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture
def api_key() -> str:
    """The API key the test provider is configured with."""
    return API_KEY


@pytest.fixture(autouse=True)
def _no_retry_sleep(no_retry_wait: None) -> None:
    """Every test without retry waits (the ``no_retry_wait`` fixture of metarr[testing])."""


@pytest.fixture
def call() -> Call:
    """Run ``hook(provider)`` against an OmdbProvider built with ``settings`` (plus the key)."""

    def invoke(hook: Callable[[OmdbProvider], Coroutine[Any, Any, Any]], **settings: Any) -> Any:
        values = {"api_key": API_KEY, **settings}

        async def main(client: Any) -> Any:
            return await hook(make_provider(OmdbProvider, "omdb", values, client=client))

        return run(main)

    return invoke
