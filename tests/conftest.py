"""Shared fixtures for the core tests: an isolated environment, no stray secrets.

``no_retry_wait`` and ``quick_retries`` come from metarr's pytest plugin (`metarr.pytest_plugin`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from metarr import redaction


def pytest_configure(config: pytest.Config) -> None:
    """Every Python process of the session keeps its bytecode, outside the source tree.

    With ``PYTHONDONTWRITEBYTECODE`` set (as in this sandbox), each ``metarr`` subprocess a test
    starts compiled all its imports from source: ≈0.4 s of CPU per process, hundreds of times.
    The session's children (they inherit ``os.environ``) and this process write bytecode under
    one ``PYTHONPYCACHEPREFIX`` instead: pytest's cache directory, so later sessions reuse it
    (a temporary directory when the cache plugin is off). Python checks each file against its
    source's size and modification time, so an edit is never hidden behind stale bytecode.
    """
    cache = getattr(config, "cache", None)
    if "PYTHONPYCACHEPREFIX" in os.environ:
        prefix = os.environ["PYTHONPYCACHEPREFIX"]
    elif cache is not None:
        prefix = str(cache.mkdir("pycache"))
    else:
        prefix = tempfile.mkdtemp(prefix="metarr-pycache-")
        config.add_cleanup(lambda: shutil.rmtree(prefix, ignore_errors=True))
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False


# The longest files, longest first (seconds in a CI run under -n 2, load 11): started first so
# that neither process ends the run alone with one of them. Measured, not required: a stale
# entry costs balance, never a test.
LONGEST = (
    "tests/test_cached_read.py",  # 213
    "tests/reliability/test_properties.py",  # 205
    "tests/test_contributing.py",  # 167
    "tests/reliability/test_adversarial.py",  # 135
    "tests/reliability/test_concurrency.py",  # 133
    "tests/test_cli_e2e.py",  # 96
    "tests/scan/test_library.py",  # 94
    "tests/reliability/test_cache_commands.py",  # 92
    "tests/test_benchmarks_smoke.py",  # 90
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first (`LONGEST`), then files with end-to-end (``slow``) tests, each
    file's tests in their order.

    The test processes take whole files (``--dist loadfile``) in this order: the long files
    start at once instead of ending the run on one process while the other has nothing left.
    """
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    root = config.rootpath
    rank = {root / name: n for n, name in enumerate(LONGEST)}
    items.sort(key=lambda item: (rank.get(item.path, len(LONGEST)), item.path not in slow))


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No ``METARR_*`` variable from the developer's shell, and no real config, data or state dir.

    Returns the temporary home whose ``config``/``data``/``state`` dirs stand in for the
    platform ones.
    """
    for var in list(os.environ):
        if var.startswith("METARR_"):
            monkeypatch.delenv(var)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))  # provider state (TVDB token)
    return home


@pytest.fixture
def world(httpx_mock: Any) -> Any:
    """The fake provider world of `fake_providers`, served to every httpx request."""
    from fake_providers import default_world

    fake = default_world()
    httpx_mock.add_callback(fake, is_reusable=True, is_optional=True)
    return fake


@pytest.fixture
def forget_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets registered for redaction during the test are forgotten after it."""
    monkeypatch.setattr(redaction, "_registered", set(redaction._registered))


@pytest.fixture(params=["asyncio", "uvloop"])
def each_loop(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test once on asyncio's own event loop and once on uvloop's (the CLI's loop where it
    is installed, `metarr.cli.loop`): ``asyncio.run`` in the test makes that loop."""
    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed on this platform")
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        yield request.param
    finally:
        asyncio.set_event_loop_policy(None)
