"""One rate limiter per API key, shared by every call that uses the key.

Mavera limits each key to N requests per sliding 60-second window and says so on every
response (``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``). The limiter learns N from
the first response (until then only one request is in flight), then keeps its own
sliding window so a steady bulk run never meets a 429:

- A request holds a slot while in flight; when its response arrives, the slot is
  stamped with the *arrival* time and expires one window later. The server counts a
  request somewhere between sending and answering, so stamping at the answer errs on
  the safe side.
- If the server reports more use than we know of (another process shares the key),
  the difference is added as slots stamped now.
- A 429 pauses the whole key until ``Retry-After``.

Like every wait in the SDK, the limiter's waits are skipped in testing mode
(``lyra_mavera.testing.set_testing``); tests of pacing turn testing mode off.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Mapping

from ._clock import is_testing
from ._headers import RateLimitInfo, parse_retry_after
from ._http import Handler, Request, Response

__all__ = ["RateLimiter"]

_DEFAULT_WINDOW = 60.0


class RateLimiter:
    """Paces one key's requests; use as a middleware (``await limiter(request, next)``)."""

    def __init__(self, *, window: float | None = None) -> None:
        """``window``: the provider's window in seconds; by default it is read off the
        first response of a fresh window (``X-RateLimit-Reset``), else 60."""
        self.limit: int | None = None
        self.window = window or _DEFAULT_WINDOW
        self._window_fixed = window is not None
        self._stamps: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._blocked_until = 0.0
        self._headers_seen: bool | None = None  # None: no response yet
        # Fired and replaced when a slot frees while someone waits; waiters re-check.
        self._changed = asyncio.Event()
        self._waiters = 0
        #: Counters for summaries: requests sent, 429s received, seconds spent waiting.
        self.sent = 0
        self.rate_limited = 0
        self.waited = 0.0

    def __repr__(self) -> str:
        return (
            f"<RateLimiter limit={self.limit} window={self.window:g}s "
            f"in_flight={self._in_flight} sent={self.sent} 429s={self.rate_limited}>"
        )

    def _trim(self, now: float) -> None:
        stamps = self._stamps
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()

    def _delay(self, now: float) -> float | None:
        """Seconds to wait before another request may go (``None``: until notified)."""
        if is_testing():
            return 0.0
        if now < self._blocked_until:
            return self._blocked_until - now
        if self._headers_seen is None:
            # Nothing learnt yet: one probe at a time.
            return None if self._in_flight else 0.0
        if self.limit is None:
            return 0.0
        self._trim(now)
        if len(self._stamps) + self._in_flight < self.limit:
            return 0.0
        if self._stamps:
            return self._stamps[0] + self.window - now
        return None  # every slot is in flight: wait for an answer

    async def acquire(self) -> None:
        """Wait for a slot, then hold it until :meth:`release`."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            delay = self._delay(loop.time())
            if delay is not None and delay <= 0:
                break
            changed = self._changed
            self._waiters += 1
            try:
                async with asyncio.timeout(delay):
                    await changed.wait()
            except TimeoutError:
                pass
            finally:
                self._waiters -= 1
        self._in_flight += 1
        self.sent += 1
        self.waited += loop.time() - started

    def release(self, response: Response | None) -> None:
        """Free the slot taken by :meth:`acquire` and learn from the response (``None``
        when the request failed without one: its slot still counts for a window)."""
        now = asyncio.get_running_loop().time()
        self._in_flight -= 1
        if self._headers_seen is not False:  # a provider without limit headers needs none
            self._trim(now)
            self._stamps.append(now)
        if response is not None and (
            self._headers_seen is not False
            or response.status == 429
            or "X-RateLimit-Limit" in response.headers
        ):
            self._observe(response.status, response.headers, now)
        if self._waiters:
            self._changed.set()
            self._changed = asyncio.Event()

    def _observe(self, status: int, headers: Mapping[str, str], now: float) -> None:
        info = RateLimitInfo.from_headers(headers)
        limit = info.limit if info is not None else None
        if info is not None and limit is not None and limit > 0:
            remaining, reset = info.remaining, info.reset
            first = self._headers_seen is not True
            self.limit = limit
            self._headers_seen = True
            if first and not self._window_fixed and reset is not None and remaining == limit - 1:
                # A fresh window holds only this request: it resets one window from now.
                # Reset is often whole seconds: round up, as waiting longer is the safe error.
                inferred = reset - time.time()
                if 0.5 <= inferred <= 3600:
                    self.window = float(math.ceil(inferred)) if inferred >= 2 else inferred
            if remaining is not None:
                self._trim(now)
                used = limit - remaining
                known = len(self._stamps) + self._in_flight
                for _ in range(used - known):
                    self._stamps.append(now)
        elif self._headers_seen is None:
            self._headers_seen = False
        if status == 429:
            self.rate_limited += 1
            wait = parse_retry_after(headers)
            self._blocked_until = max(
                self._blocked_until, now + (wait if wait is not None else 1.0)
            )

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        await self.acquire()
        response: Response | None = None
        try:
            response = await call_next(request)
            return response
        finally:
            self.release(response)
