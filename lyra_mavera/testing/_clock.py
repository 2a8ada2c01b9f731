"""The fake server's clock, which can also be the SDK's: one time line for both.

``FakeClock(time_scale)`` is real time sped up; ``FakeClock(virtual=True)`` passes only
when someone sleeps on it or :meth:`~FakeClock.advance` moves it. It has what the SDK
asks of a clock (``time``, ``monotonic``, ``sleep``), so::

    clock = FakeClock(virtual=True)
    async with FakeServer(clock=clock) as fake, fake.session() as s:
        with use_clock(clock):          # the SDK waits on the server's time
            await s.mavera.meetings.wait(bot.id)

runs a whole bot lifecycle deterministically without really sleeping, and
``clock.advance(120)`` moves the server's bots and the SDK's waits together.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

__all__ = ["FakeClock"]


class FakeClock:
    """Fake Unix time. It starts at the real time and runs ``time_scale`` times faster
    than the real clock (or, ``virtual=True``, only when slept on or advanced);
    :meth:`advance` jumps it forward at once and wakes whoever sleeps on it.

    Bot lifecycles follow this clock. Rate limits do not: the fake's windows,
    ``Retry-After`` and ``X-RateLimit-Reset`` stay in real time.
    """

    def __init__(self, time_scale: float = 1.0, *, virtual: bool = False) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self.virtual = virtual
        self._origin_wall = time.time()
        self._origin_mono = time.monotonic()
        self._offset = 0.0
        self._advanced: asyncio.Event | None = None

    def now(self) -> float:
        """Fake Unix seconds."""
        if self.virtual:
            return self._origin_wall + self._offset
        elapsed = (time.monotonic() - self._origin_mono) * self.time_scale
        return self._origin_wall + elapsed + self._offset

    def now_datetime(self) -> datetime:
        """Fake time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)

    # -- the SDK's clock protocol ---------------------------------------------------

    def time(self) -> float:
        """Fake Unix seconds (the SDK's ``time``)."""
        return self.now()

    def monotonic(self) -> float:
        """Fake seconds since the clock was made (the SDK's ``monotonic``)."""
        return self.now() - self._origin_wall

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of fake time: at once on a virtual clock (which moves on by
        that much), else ``seconds / time_scale`` real seconds, cut short by
        :meth:`advance`."""
        if self.virtual:
            self._offset += max(seconds, 0.0)
            await asyncio.sleep(0)
            return
        target = self.now() + seconds
        while (left := target - self.now()) > 0:
            if self._advanced is None:
                self._advanced = asyncio.Event()
            advanced = self._advanced
            try:
                async with asyncio.timeout(left / self.time_scale):
                    await advanced.wait()
            except TimeoutError:
                pass
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Jump the fake clock forward by ``seconds`` (fake seconds)."""
        if seconds < 0:
            raise ValueError("the fake clock never runs backwards")
        self._offset += seconds
        advanced, self._advanced = self._advanced, None
        if advanced is not None:
            advanced.set()

    def real_seconds(self, fake_seconds: float) -> float:
        """How long ``fake_seconds`` take on the real clock (0 on a virtual clock)."""
        return 0.0 if self.virtual else fake_seconds / self.time_scale

    def __repr__(self) -> str:
        kind = "virtual" if self.virtual else f"x{self.time_scale:g}"
        return f"FakeClock({kind}, offset={self._offset:g}s)"
