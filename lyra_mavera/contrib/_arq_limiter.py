"""The fleet's shared rate limiter for :mod:`lyra_mavera.contrib.arq`: one sliding
window per API key in Redis, on Redis' clock (``TIME`` inside the scripts), so workers
whose clocks disagree still share one window.
"""

from __future__ import annotations

import asyncio
import random
import uuid

from arq.connections import ArqRedis

from .. import _clock
from .._errors import RateLimitError
from .._headers import RateLimitInfo, parse_retry_after
from .._http import Handler, Request, Response

__all__ = ["PREFIX", "Deferred", "RedisRateLimiter"]

PREFIX = "lyra-mavera"


# "Now" for the limiter is Redis' clock, in whole milliseconds: every worker shares it.
# (Redis < 5 must be told to replicate a script's effects, not the script, to call TIME
# before writing; from Redis 7 on that is the only mode.)
_NOW = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Sliding window (KEYS[1]) with a fleet-wide pause (KEYS[2]): admit when not paused and
# fewer than ARGV[1] requests in the last ARGV[2] ms, else answer how many ms to wait
# (the pause left, or until the oldest request leaves the window).
_ACQUIRE = (
    _NOW
    + """
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(tonumber(oldest[2]) + tonumber(ARGV[2]) - now, 1)
"""
)

# Re-stamp slot ARGV[1] with the answer's time (re-adding it if a slow request outlived
# the window) and keep the window alive ARGV[2] ms past it.
_SETTLE = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return now
"""
)


class Deferred(RateLimitError):
    """The shared limiter would hold the request longer than it may: nothing was sent;
    ``retry_after`` says when a slot is expected."""


class RedisRateLimiter:
    """One sliding window per API key in Redis, shared by every worker that uses the key.

    ``rpm`` requests per ``window`` seconds; it also honours a lower ``X-RateLimit-Limit``
    announced by Mavera, and pauses the whole fleet on a 429 until ``Retry-After``. Time
    is Redis' clock, so workers with skewed clocks still share one window.

    ``max_wait`` (seconds, ``None`` for no bound) caps how long a request waits for a
    slot: when the fleet is paused or the window is full for longer, it raises
    :class:`~lyra_mavera.RateLimitError` at once, with ``retry_after`` set and nothing
    sent, instead of parking the caller (:func:`worker_settings` sets it from
    ``job_timeout``).
    """

    def __init__(
        self,
        redis: ArqRedis,
        key_fingerprint: str,
        *,
        rpm: int = 60,
        window: float = 60.0,
        max_wait: float | None = None,
    ) -> None:
        digest = key_fingerprint  # see AsyncSession.key_fingerprint: never the key itself
        self._redis = redis
        self._window_key = f"{PREFIX}:ratelimit:{digest}"
        self._pause_key = f"{PREFIX}:ratelimit:{digest}:pause"
        self.rpm = rpm
        self.window = window
        self.max_wait = max_wait
        self._acquire = redis.register_script(_ACQUIRE)
        self._settle = redis.register_script(_SETTLE)

    def __repr__(self) -> str:
        return f"<RedisRateLimiter rpm={self.rpm} window={self.window:g}s>"

    async def acquire(self) -> str:
        """Wait for a slot in the shared window; returns the slot's token."""
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        give_up = None if self.max_wait is None else loop.time() + self.max_wait
        while True:
            wait_ms = int(
                await self._acquire(
                    keys=[self._window_key, self._pause_key],
                    args=[self.rpm, int(self.window * 1000), token],
                )
            )
            if wait_ms <= 0:
                return token
            wait = wait_ms / 1000 + random.random() * 0.01
            if give_up is not None and loop.time() + wait > give_up:
                raise Deferred(
                    f"the fleet's shared rate limit holds requests for {wait:.3g}s, longer "
                    f"than max_wait ({self.max_wait:g}s); not sent",
                    status=429,
                    provider="mavera",
                    code="rate_limit_exceeded",
                    retry_after=wait,
                )
            # Redis' clock governs the window: a real pause whatever the SDK's clock.
            await _clock.network_pause(wait)

    async def settle(self, token: str) -> None:
        """Re-stamp the slot with the answer's time: the server counted the request on
        arrival, somewhere before now, so the slot must not free up earlier than a
        window after now."""
        await self._settle(keys=[self._window_key], args=[token, int(self.window * 1000)])

    async def observe(self, response: Response) -> None:
        """Learn from an answer: a lower ``X-RateLimit-Limit`` lowers ``rpm``, and a 429
        pauses every worker on this key for its ``Retry-After``."""
        info = RateLimitInfo.from_headers(response.headers)
        if info is not None and info.limit is not None and 0 < info.limit < self.rpm:
            self.rpm = info.limit
        if response.status == 429:
            wait = parse_retry_after(response.headers) or 1.0
            # PX: the pause runs on Redis' clock, like the window.
            await self._redis.set(self._pause_key, "1", px=max(int(wait * 1000), 1))

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        token = await self.acquire()
        try:
            response = await call_next(request)
        finally:
            await self.settle(token)
        await self.observe(response)
        return response
