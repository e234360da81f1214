"""pytest fixtures for metarr and its provider plugins, loaded by pytest through the ``pytest11``
entry point of the ``metarr`` distribution (``pip install "metarr[testing]"``).

- ``no_retry_wait``: one attempt per request and no sleeping between retries, so a failing
  request fails at once;
- ``quick_retries``: up to three attempts per request, still without sleeping.

Use one in a test (``def test_x(no_retry_wait): ...``), a module
(``pytestmark = pytest.mark.usefixtures("no_retry_wait")``) or every test of a folder (an
autouse fixture in its ``conftest.py`` that asks for it). `metarr.testing.ProviderContract`
runs without retry waits by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import stamina

__all__ = ["no_retry_wait", "quick_retries", "retries_without_waiting"]


@contextmanager
def retries_without_waiting(attempts: int = 1) -> Iterator[None]:
    """At most ``attempts`` tries per request, none of them waited for (stamina's test mode)."""
    with stamina.set_testing(True, attempts=attempts):
        yield


@pytest.fixture
def no_retry_wait() -> Iterator[None]:
    """One attempt per request and no sleeping, so failures are fast."""
    with retries_without_waiting(1):
        yield


@pytest.fixture
def quick_retries() -> Iterator[None]:
    """Up to three attempts per request, without sleeping between them."""
    with retries_without_waiting(3):
        yield
