"""Reactive pacing: pause on 429, halve, grow back below the wall, forget it when quiet."""

from __future__ import annotations

import asyncio

from metarr.gate import START_LIMIT, WALL_MEMORY, ProviderGate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_429_pauses_caps_and_the_wall_is_forgotten_when_quiet() -> None:
    async def main() -> None:
        clock = Clock()
        gate = ProviderGate("p", max_concurrency=64, clock=clock)
        assert gate.limit == START_LIMIT == 8
        for _ in range(8):  # slow start: half a slot more per success
            assert await gate.acquire(max_wait=0)
            await gate.release()
        assert gate.limit == 12
        for _ in range(12):
            assert await gate.acquire(max_wait=0)
        await gate.release(rate_limited=True, retry_after=5)
        assert gate.ceiling == 12
        assert gate.limit == 6  # half the concurrency that hit the wall
        assert gate.paused_for() == 5
        assert not await gate.acquire(max_wait=1)  # paused longer than the caller waits
        for _ in range(11):
            await gate.release()
        clock.now += 6
        for _ in range(200):  # many successes soon after: the limit stays below the wall
            assert await gate.acquire(max_wait=0)
            await gate.release()
        assert gate.limit == 11
        clock.now += WALL_MEMORY + 1
        for _ in range(200):  # quiet long enough: growth resumes past the old wall
            assert await gate.acquire(max_wait=0)
            await gate.release()
        assert gate.ceiling is None
        assert gate.limit > 12

    asyncio.run(main())


def test_concurrency_never_exceeds_the_limit() -> None:
    async def main() -> int:
        gate = ProviderGate("p", max_concurrency=3)
        peak = 0

        async def work() -> None:
            nonlocal peak
            assert await gate.acquire(max_wait=1)
            peak = max(peak, gate.in_flight)
            await asyncio.sleep(0.001)
            await gate.release()

        await asyncio.gather(*(work() for _ in range(30)))
        return peak

    assert asyncio.run(main()) == 3
