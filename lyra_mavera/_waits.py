"""Waiting, decided without I/O: :func:`next_wait` says what a failed attempt means --
wait N seconds and try again, or raise now. The retry loop and the rate limiter both
obey it (:func:`wait_fits`), so a 429 is never judged twice with different bounds; and
the errors of a wait that does not fit (the call's deadline, ``max_retry_after``).

Nothing here reads a clock or sleeps. May import the core's ``_errors``, ``_http`` and
``_retry`` only.
"""

from __future__ import annotations

from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    LyraMaveraError,
    RateLimitError,
)
from ._http import Request
from ._retry import RetryPolicy

__all__ = ["next_wait", "past_deadline", "past_its_deadline", "too_long_a_wait", "wait_fits"]


def wait_fits(seconds: float, bound: float) -> bool:
    """Whether a wait of ``seconds`` is within ``bound`` (the smaller of the caller's
    ``max_retry_after`` and what is left of its deadline)."""
    return seconds <= bound


def next_wait(
    policy: RetryPolicy,
    request: Request,
    error: LyraMaveraError,
    *,
    rand: float,
) -> float | None:
    """The one decision about a failed attempt: seconds to wait before the next one, or
    ``None``: raise ``error`` now.

    Another attempt needs one left under ``policy.attempts``, an error worth repeating
    for the method (see :class:`RetryPolicy`), and a wait that fits: a ``Retry-After``
    must be at most ``policy.max_retry_after``. (Whether the wait also fits the call's
    deadline is :func:`past_deadline`'s to say.)
    """
    if request.attempt >= policy.attempts:
        return None
    if isinstance(error, APIConnectionError):
        if not error.retryable or not policy.may_retry_error(request.method, sent=error.sent):
            return None
        wait = policy.backoff(request.attempt, rand)
    elif isinstance(error, APIStatusError):
        if not policy.may_retry_status(request.method, error.status):
            return None
        if error.retry_after is None:
            wait = policy.backoff(request.attempt, rand)
        elif wait_fits(error.retry_after, policy.max_retry_after):
            wait = error.retry_after
        else:
            return None  # longer than the caller agreed to wait: hand the decision back
    else:
        return None
    return wait


def past_its_deadline(request: Request) -> APITimeoutError:
    """The error for an attempt about to be sent after its call's deadline (its rate
    limiter wait used the time): nothing was sent."""
    return APITimeoutError(
        f"{request.provider}: the call's deadline passed before {request.method} "
        f"{request.path} was sent (attempt {request.attempt}); the request was not sent",
        provider=request.provider,
        sent=False,
    )


def past_deadline(
    request: Request, error: LyraMaveraError, wait: float, deadline: float
) -> APITimeoutError:
    """The error for a call whose next attempt would start after its deadline: an
    :class:`APITimeoutError` caused by the last attempt's error. ``sent`` says whether
    that attempt may have been processed (a 5xx or a connection lost after sending)."""
    if isinstance(error, APIConnectionError):
        sent = error.sent
    else:
        sent = isinstance(error, APIStatusError) and error.status >= 500
    return APITimeoutError(
        f"{request.provider}: the call's deadline of {deadline:g}s leaves no time to wait "
        f"{wait:g}s for attempt {request.attempt + 1} of {request.method} {request.path} "
        f"(last: {error})",
        provider=request.provider,
        sent=sent,
    )


def too_long_a_wait(request: Request, wait: float, bound: float, why: str) -> RateLimitError:
    """The error for a rate-limit wait longer than the call may wait: raised at once,
    with nothing sent, ``retry_after`` saying how long the key is closed."""
    return RateLimitError(
        f"{why}: the key may send again in {wait:g}s, longer than this call may wait "
        f"({bound:g}s: max_retry_after, or what is left of the deadline); nothing was sent",
        status=429,
        provider=request.provider,
        code="rate_limit_exceeded",
        retry_after=wait,
    )
