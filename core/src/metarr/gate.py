"""Reactive pacing per provider: no request counting, no artificial delay until a provider asks.

After a 429 the provider is paused until its Retry-After, so the rest of a batch does not
hammer it, and its concurrency limit halves; every success grows the limit back (additive
increase, multiplicative decrease, as TCP does). The concurrency at which the provider said
429 becomes a ceiling for `WALL_MEMORY` seconds: the limit grows back to just below it instead
of walking into the same wall again, then probes upwards once the provider has been quiet.
A provider that never answers 429 never waits. Long pauses (OMDb's daily quota) are not waited
out: callers skip the provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEFAULT_PAUSE = 1.0  # seconds, when a 429 carries no Retry-After
WALL_MEMORY = 15.0  # seconds a 429's concurrency stays a ceiling for the limit


class ProviderGate:
    """Admission control for one provider's requests."""

    def __init__(
        self, name: str, *, max_concurrency: int = 64, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.max_concurrency = max_concurrency
        self.limit = float(max_concurrency)
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
                # The concurrency that hit the wall (this request included) caps the limit.
                self.ceiling = float(max(1, self.in_flight))
                self._wall_at = self._clock()
                self.pause(retry_after, reason)
                self.limit = min(self.limit, max(1.0, self.ceiling / 2))
            else:
                self._grow()
            self.in_flight = max(0, self.in_flight - 1)
            self._changed.notify_all()

    def _grow(self) -> None:
        """Additive increase: +1 per limit's worth of successes, below a wall still remembered."""
        cap = float(self.max_concurrency)
        if self.ceiling is not None:
            if self._clock() - self._wall_at < WALL_MEMORY:
                cap = max(1.0, self.ceiling - 1)
            else:
                self.ceiling = None  # quiet long enough: probe upwards again
        self.limit = min(cap, self.limit + 1.0 / max(1.0, self.limit))

    def pause(self, seconds: float | None, reason: str | None = None) -> None:
        """Pause the provider (and halve its concurrency limit) after it said to slow down."""
        wait = DEFAULT_PAUSE if seconds is None else max(0.0, seconds)
        if self.paused_for() == 0:  # one halving per episode, however many 429s were in flight
            self.limit = max(1.0, self.limit / 2)
        until = self._clock() + wait
        if until > self.paused_until:
            self.paused_until = until
            self.pause_reason = reason
