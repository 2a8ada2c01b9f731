"""What response headers say: ``Retry-After``, ``X-RateLimit-*`` and request ids.

Pure functions of the headers (and the current time, passed in): no I/O, no session.
Absurd values are refused or clamped here, once, so nothing downstream has to trust a
header: a wait is never negative, never NaN or infinite; a limit never exceeds
:data:`MAX_RATE_LIMIT`.

May import nothing from the package but :mod:`lyra_mavera._clock`.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping

import attrs

from . import _clock

__all__ = [
    "MAX_RATE_LIMIT",
    "MAX_WAIT_HEADER",
    "RateLimitInfo",
    "parse_retry_after",
    "request_id_of",
]

#: The largest per-window limit believed from ``X-RateLimit-Limit`` (Mavera's tiers go
#: to 600 a minute). A larger figure is clamped: limiter state stays bounded by it.
MAX_RATE_LIMIT = 10_000
#: The longest wait a header is believed to ask for (a day); longer is clamped.
MAX_WAIT_HEADER = 86_400.0


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` in seconds or as an
    HTTP-date. ``None`` when absent or unreadable; never negative, never above
    :data:`MAX_WAIT_HEADER`."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        value = _finite(millis)
        if value is not None:
            return _clamp_wait(value / 1000)
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    value = _finite(raw)
    if value is not None:
        return _clamp_wait(value)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    current = _clock.now() if now is None else now
    return _clamp_wait(when.timestamp() - current)


def _finite(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _clamp_wait(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_WAIT_HEADER)


@attrs.frozen
class RateLimitInfo:
    """Mavera's ``X-RateLimit-*`` headers: the key's per-window limit, what is left,
    and the Unix time the window resets. Any of them may be absent (``None``);
    unreadable or negative values count as absent."""

    limit: int | None
    remaining: int | None
    reset: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Read the headers, or ``None`` when none is present."""
        limit = _count(headers.get("X-RateLimit-Limit"))
        remaining = _count(headers.get("X-RateLimit-Remaining"))
        reset = _float(headers.get("X-RateLimit-Reset"))
        if limit is None and remaining is None and reset is None:
            return None
        return cls(limit=limit, remaining=remaining, reset=reset)


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    return _finite(value.strip())


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's request id, under either header name providers use."""
    return headers.get("X-Request-Id") or headers.get("Request-Id")
