"""`orchestrator._Waiting`: the calls waiting for a worker thread run in one job, and each
caller gets its own result or error (plans are read this way, persists committed this way)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from metarr.errors import ClosedError
from metarr.orchestrator import _each, _Waiting


def test_calls_waiting_together_run_in_one_job() -> None:
    jobs: list[int] = []

    def job(calls: list[Callable[[], Any]]) -> list[tuple[Any, BaseException | None]]:
        jobs.append(len(calls))
        return _each(calls)

    def boom() -> int:
        raise ValueError("no plan")

    async def main() -> list[Any]:
        waiting = _Waiting()
        hold = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(hold.wait)  # the thread is busy while the calls arrive
            calls: list[Callable[[], Any]] = [lambda: 1, boom, lambda: 3]
            tasks = [asyncio.ensure_future(waiting.run(thread, call, job)) for call in calls]
            await asyncio.sleep(0)  # each task runs up to its wait
            assert len(waiting) == len(calls)
            hold.set()
            return await asyncio.gather(*tasks, return_exceptions=True)

    first, error, third = asyncio.run(main())
    assert (first, third) == (1, 3)
    assert isinstance(error, ValueError)
    assert jobs == [3]


def test_a_shut_down_thread_is_a_closed_error() -> None:
    async def main() -> None:
        thread = ThreadPoolExecutor(max_workers=1)
        thread.shutdown()
        await _Waiting().run(thread, lambda: 1, _each)

    with pytest.raises(ClosedError):
        asyncio.run(main())
