"""Reactive pacing per provider: no request counting, no artificial delay until a provider asks.

A provider starts at `START_LIMIT` requests in flight and each success adds half a slot (slow start:
the limit grows by half every round trip), so a batch of 64 does not open with 64 requests against a
provider that takes two at a time. After a 429 the provider is paused until its Retry-After, so the
rest of a batch does not hammer it, and its concurrency limit halves; from then on every success
grows the limit back by 1/limit (additive increase, multiplicative decrease, as TCP does). The
concurrency at which the provider said 429 becomes a ceiling for `WALL_MEMORY` seconds: the limit
grows back to just below it instead of walking into the same wall again, then probes upwards once
the provider has been quiet.
A provider that never answers 429 never waits. Long pauses (OMDb's daily quota) are not waited
out: callers skip the provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEFAULT_PAUSE = 1.0  # seconds, when a 429 carries no Retry-After
WALL_MEMORY = 15.0  # seconds a 429's concurrency stays a ceiling for the limit
START_LIMIT = 8  # requests in flight before the provider has answered any (TCP's is 10)
SLOW_START_STEP = 0.5  # added per success until the first 429: × 1.5 per round trip


class ProviderGate:
    """Admission control for one provider's requests."""

    def __init__(
        self, name: str, *, max_concurrency: int = 64, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.max_concurrency = max_concurrency
        self.limit = float(min(max_concurrency, START_LIMIT))
        self.slow_start = True  # until the first 429: +1 per success
        self.in_flight = 0
        self.paused_until = 0.0
        self.pause_reason: str | None = None
        self.ceiling: float | None = None  # the concurrency that last hit a 429
        self._wall_at = 0.0
        self._clock = clock
        self._changed = asyncio.Condition()

    def paused_for(self) -> float:
        """Seconds left in the current pause (0 when not paused)."""
        return max(0.0, self.paused_until - self._clock())

    async def acquire(self, *, max_wait: float) -> bool:
        """Wait for a slot; False (without a slot) when paused for longer than ``max_wait``."""
        async with self._changed:
            while True:
                remaining = self.paused_for()
                if remaining > max_wait:
                    return False
                if remaining > 0:
                    self._changed.release()
                    try:
                        await asyncio.sleep(remaining)
                    finally:
                        await self._changed.acquire()
                    continue
                if self.in_flight < max(1, int(self.limit)):
                    self.in_flight += 1
                    return True
                await self._changed.wait()

    async def readmit(self, *, max_wait: float = 60.0) -> None:
        """For a request that holds a slot and is about to be retried: give the slot up and
        queue for one again, so retries after a 429 wave are admitted within the (halved)
        limit instead of all firing when the pause ends. Past ``max_wait`` of pause (a long
        one set meanwhile), it takes its slot back without waiting."""
        async with self._changed:
            self.in_flight = max(0, self.in_flight - 1)
            self._changed.notify_all()
        if not await self.acquire(max_wait=max_wait):
            async with self._changed:
                self.in_flight += 1

    async def release(
        self,
        *,
        rate_limited: bool = False,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Give the slot back, adapting the limit to how the request went."""
        async with self._changed:
            if rate_limited:
                self.pause(retry_after, reason)
            else:
                self._grow()
            self.in_flight = max(0, self.in_flight - 1)
            self._changed.notify_all()

    def _grow(self) -> None:
        """+1 per success in slow start, else +1 per limit's worth of successes (additive
        increase); never while paused (those requests were sent before the wall), never past
        a wall still remembered."""
        if self.paused_for() > 0:
            return
        cap = float(self.max_concurrency)
        if self.ceiling is not None:
            if self._clock() - self._wall_at < WALL_MEMORY:
                cap = max(1.0, self.ceiling - 1)
            else:
                self.ceiling = None  # quiet long enough: probe upwards again
        step = SLOW_START_STEP if self.slow_start else 1.0 / max(1.0, self.limit)
        self.limit = min(cap, self.limit + step)

    def pause(self, seconds: float | None, reason: str | None = None) -> None:
        """The provider said to slow down (a 429, told the moment it arrives): pause it, end
        slow start, and once per episode halve the concurrency that hit the wall, which then
        caps the limit for `WALL_MEMORY` seconds (the lowest such wall while remembered)."""
        now = self._clock()
        wait = DEFAULT_PAUSE if seconds is None else max(0.0, seconds)
        self.slow_start = False
        if self.paused_for() == 0:  # one halving per episode, however many 429s were in flight
            wall = float(max(1, self.in_flight))
            recent = self.ceiling is not None and now - self._wall_at < WALL_MEMORY
            self.ceiling = min(self.ceiling, wall) if recent and self.ceiling else wall
            self._wall_at = now
            self.limit = max(1.0, min(self.limit, wall) / 2)
        until = now + wait
        if until > self.paused_until:
            self.paused_until = until
            self.pause_reason = reason
