"""The fake server's clock: real time sped up by ``time_scale``, plus manual jumps."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["FakeClock"]


class FakeClock:
    """Fake Unix time. It starts at the real time, runs ``time_scale`` times faster
    than the real clock, and :meth:`advance` jumps it forward at once.

    Bot lifecycles follow this clock. Rate limits do not: a client sleeps real
    seconds, so ``Retry-After`` and ``X-RateLimit-Reset`` stay in real time.
    """

    def __init__(self, time_scale: float = 1.0) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self._origin_wall = time.time()
        self._origin_mono = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        """Fake Unix seconds."""
        elapsed = (time.monotonic() - self._origin_mono) * self.time_scale
        return self._origin_wall + elapsed + self._offset

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        """Jump the fake clock forward by ``seconds`` (fake seconds)."""
        if seconds < 0:
            raise ValueError("the fake clock never runs backwards")
        self._offset += seconds

    def real_seconds(self, fake_seconds: float) -> float:
        """How long ``fake_seconds`` take on the real clock."""
        return fake_seconds / self.time_scale
