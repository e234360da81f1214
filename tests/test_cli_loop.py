"""The CLI's commands run on uvloop's event loop where it is installed (`metarr.cli.loop`)."""

from __future__ import annotations

import asyncio
import sys

import pytest
from metarr.cli import loop


def test_the_cli_runs_its_commands_on_uvloop_where_it_is_installed() -> None:
    async def kind() -> str:
        return type(asyncio.get_running_loop()).__module__

    with loop.runner() as runner:
        module = runner.run(kind())
    if sys.platform == "win32" or sys.implementation.name != "cpython":
        assert module.startswith("asyncio")
    else:
        assert module.startswith("uvloop")


def test_without_uvloop_the_cli_runs_on_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # importing it raises ImportError

    async def kind() -> str:
        return type(asyncio.get_running_loop()).__module__

    with loop.runner() as runner:
        assert runner.run(kind()).startswith("asyncio")


def test_debug_names_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="metarr.cli.loop")
    with loop.runner():
        pass
    without = sys.platform == "win32" or sys.implementation.name != "cpython"
    expected = "asyncio's" if without else "uvloop's"
    assert f"event loop: {expected}" in caplog.text
