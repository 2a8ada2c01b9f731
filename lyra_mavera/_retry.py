"""Retry policy: which attempts may be repeated, and how long to wait in between.

Everything here is pure (no I/O, no clock) so it can be table-tested; the loop that
uses it lives in :mod:`lyra_mavera._session`. May import only ``_errors``.
"""

from __future__ import annotations

import math

import attrs

from ._errors import ValidationError

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "backoff"]

#: Statuses worth another attempt for a request that is safe to repeat.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value >= 0:
        raise _config_error(attribute.name, f"must be a number >= 0, got {value!r}")


def _config_error(name: str, problem: str) -> Exception:
    return ValidationError(f"RetryPolicy.{name}", problem)


@attrs.frozen
class RetryPolicy:
    """How one HTTP request is retried.

    ``attempts`` counts every try, the first included (``1`` disables retries). Waits
    grow exponentially from ``wait_initial`` by ``wait_exp_base``, plus up to
    ``wait_jitter`` seconds of random jitter, never above ``wait_max``. A
    ``Retry-After`` from the server is honoured when it is at most
    ``max_retry_after`` seconds; a longer one raises at once, with
    ``retry_after`` set on the error, rather than parking the caller.

    Requests that only read (GET) are retried on connection errors, timeouts and
    408/429/500/502/503/504. A POST creates a meeting or sends a bot, and neither API
    offers idempotency, so a POST is retried only when it provably never reached the
    server (connection refused, DNS failure, connect timeout) or was refused with 429 --
    unless ``retry_unsafe=True``.
    """

    attempts: int = 3
    wait_initial: float = attrs.field(default=0.5, validator=_non_negative)
    wait_max: float = attrs.field(default=8.0, validator=_non_negative)
    wait_jitter: float = attrs.field(default=1.0, validator=_non_negative)
    wait_exp_base: float = 2.0
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    retry_unsafe: bool = False

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.attempts, int) or isinstance(self.attempts, bool):
            raise _config_error("attempts", f"must be an int, got {self.attempts!r}")
        if self.attempts < 1:
            raise _config_error("attempts", "must be >= 1 (1 means: never retry)")
        if not isinstance(self.wait_exp_base, int | float) or not self.wait_exp_base >= 1:
            raise _config_error("wait_exp_base", f"must be >= 1, got {self.wait_exp_base!r}")

    def may_retry_status(self, method: str, status: int) -> bool:
        """Whether a response with ``status`` may be retried for ``method``."""
        if status not in RETRYABLE_STATUSES:
            return False
        return status == 429 or method in _SAFE_METHODS or self.retry_unsafe

    def may_retry_error(self, method: str, *, sent: bool) -> bool:
        """Whether a transport failure may be retried; ``sent=False`` means the request
        provably never reached the server."""
        return not sent or method in _SAFE_METHODS or self.retry_unsafe

    def backoff(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return backoff(
            attempt,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
            wait_exp_base=self.wait_exp_base,
            rand=rand,
        )


def backoff(
    attempt: int,
    *,
    wait_initial: float,
    wait_max: float,
    wait_jitter: float,
    wait_exp_base: float,
    rand: float,
) -> float:
    """Exponential backoff with jitter, capped at ``wait_max``; ``rand`` in [0, 1).

    A pure function of its arguments: never negative, never above ``wait_max``, and it
    cannot overflow however large ``attempt`` grows.
    """
    exponent = max(attempt - 1, 0)
    try:
        grown = wait_initial * wait_exp_base**exponent
    except OverflowError:
        grown = math.inf
    if math.isnan(grown):  # 0 * inf
        grown = 0.0
    jitter = wait_jitter * min(max(rand, 0.0), 1.0)
    return max(0.0, min(wait_max, grown + jitter))
