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
  the difference is counted as the key's *foreign* slots, renewed from every answer's
  headers. They free when the server says a slot frees (``X-RateLimit-Reset``), not a
  whole window later: a key shared by a fleet never waits past the server's word.
- A 429 pauses the whole key for its ``Retry-After`` -- but only when the call that met
  it would itself wait that long (:func:`lyra_mavera._waits.next_wait` decides for both):
  a ``Retry-After`` beyond ``max_retry_after`` raises at once and parks nothing.

A wait longer than the call may wait (``max_retry_after``, or what is left of its
deadline) raises :class:`RateLimitError` at once, with ``retry_after`` and nothing sent.
State stays bounded whatever the headers say: a limit above
:data:`~lyra_mavera._headers.MAX_RATE_LIMIT` is clamped (and logged once). Every wait
runs on the SDK's clock, so testing mode paces on paper instead of sleeping.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math

from . import _clock
from ._headers import MAX_RATE_LIMIT, RateLimitInfo, parse_retry_after
from ._http import Handler, Request, Response
from ._waits import too_long_a_wait, wait_fits

__all__ = ["RateLimiter"]

logger = logging.getLogger("lyra_mavera")

_DEFAULT_WINDOW = 60.0
#: Absurd limits are logged once per process, not once per response or per key.
_warned_absurd = False
#: Windows read off ``X-RateLimit-Reset`` are believed within these bounds (seconds);
#: Mavera's is a minute.
_WINDOW_RANGE = (0.5, 60.0)


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
        # Slots the server counts that are not this limiter's (another process), and
        # when the server says the next one frees (None: unknown, learn from an answer).
        self._foreign = 0
        self._foreign_frees: float | None = None
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
        if now < self._blocked_until:
            return self._blocked_until - now
        if self._headers_seen is None:
            # Nothing learnt yet: one probe at a time.
            return None if self._in_flight else 0.0
        if self.limit is None:
            return 0.0
        self._trim(now)
        frees = self._foreign_frees
        if frees is not None and now >= frees:
            self._foreign -= 1  # the server's next slot is free now; answers tell more
            self._foreign_frees = None
        if len(self._stamps) + self._in_flight + self._foreign < self.limit:
            return 0.0
        if self._stamps and (self._foreign_frees is not None or not self._foreign):
            own = self._stamps[0] + self.window - now
            return own if self._foreign_frees is None else min(own, self._foreign_frees - now)
        if self._foreign_frees is not None:
            return self._foreign_frees - now
        # Every slot is in flight, or the server's next free slot is unknown: an answer
        # in flight will tell (wait for it); with none in flight, one probe learns it.
        return None if self._in_flight else 0.0

    async def acquire(self, request: Request | None = None) -> None:
        """Wait for a slot, then hold it until :meth:`release`. A wait longer than
        ``request.max_wait`` raises :class:`RateLimitError` at once."""
        bound = math.inf if request is None else request.max_wait
        started = _clock.monotonic()
        while True:
            now = _clock.monotonic()
            delay = self._delay(now)
            if delay is not None and delay <= 0:
                break
            if delay is not None and request is not None:
                allowed = bound - (now - started)
                if not wait_fits(delay, allowed):
                    paused = now < self._blocked_until
                    raise too_long_a_wait(
                        request,
                        delay,
                        allowed,
                        f"{request.provider} answered 429 for this key"
                        if paused
                        else f"{request.provider}'s rate-limit window for this key is full",
                    )
            self._waiters += 1
            try:
                await _clock.wait_for(self._changed, delay)
            finally:
                self._waiters -= 1
        self._in_flight += 1
        self.sent += 1
        self.waited += _clock.monotonic() - started

    def release(self, response: Response | None) -> None:
        """Free the slot taken by :meth:`acquire` and learn from the response (``None``
        when the request failed without one: its slot still counts for a window)."""
        now = _clock.monotonic()
        self._in_flight -= 1
        if self._headers_seen is not False:  # a provider without limit headers needs none
            self._trim(now)
            self._stamps.append(now)
        if response is not None and (
            self._headers_seen is not False
            or response.status == 429
            or "X-RateLimit-Limit" in response.headers
        ):
            self._observe(response, now)
        if self._waiters:
            self._changed.set()
            self._changed = asyncio.Event()

    def _observe(self, response: Response, now: float) -> None:
        info = RateLimitInfo.from_headers(response.headers)
        limit = info.limit if info is not None else None
        if info is not None and limit is not None and limit > 0:
            self._learn(self._clamped(limit, response), info, now)
        elif self._headers_seen is None:
            self._headers_seen = False
        if response.status == 429:
            self.rate_limited += 1
            wait = parse_retry_after(response.headers)
            wait = 1.0 if wait is None else wait
            # The same judgement as the call's own: a pause it would not wait out
            # is handed back to the caller, not imposed on every call with the key.
            if wait_fits(wait, response.request.max_wait):
                self._blocked_until = max(self._blocked_until, now + wait)

    def _clamped(self, limit: int, response: Response) -> int:
        if limit <= MAX_RATE_LIMIT:
            return limit
        global _warned_absurd
        if not _warned_absurd:
            _warned_absurd = True
            logger.warning(
                "%s sent X-RateLimit-Limit %d, beyond any real limit; pacing as if it were %d",
                response.request.provider,
                limit,
                MAX_RATE_LIMIT,
            )
        return MAX_RATE_LIMIT

    def _learn(self, limit: int, info: RateLimitInfo, now: float) -> None:
        remaining, reset = info.remaining, info.reset
        first = self._headers_seen is not True
        self.limit = limit
        self._headers_seen = True
        if first and not self._window_fixed and reset is not None and remaining == limit - 1:
            # A fresh window holds only this request: it resets one window from now.
            # Reset is often whole seconds: round up, as waiting longer is the safe error.
            inferred = reset - _clock.now()
            if _WINDOW_RANGE[0] <= inferred <= _WINDOW_RANGE[1]:
                self.window = float(math.ceil(inferred)) if inferred >= 2 else inferred
        if remaining is not None:
            self._trim(now)
            used = min(limit - min(remaining, limit), limit)
            foreign = max(used - len(self._stamps) - self._in_flight, 0)
            frees = self._foreign_frees
            # Between the server's resets its count only grows (an answer that says
            # less may have been overtaken); once a reset passed, the answer stands.
            if foreign > self._foreign or frees is None or now >= frees:
                self._foreign = foreign
                self._foreign_frees = None
                if foreign and reset is not None:
                    # Reset: when the oldest request the server counts leaves its window.
                    wait = min(max(reset - _clock.now(), 0.0), self.window)
                    self._foreign_frees = now + wait

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        await self.acquire(request)
        response: Response | None = None
        try:
            response = await call_next(request)
            return response
        finally:
            self.release(response)
