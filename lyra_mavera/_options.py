"""Per-call options: what ``AsyncSession(...)`` sets for every call and
``s.with_options(...)`` overrides for some: the retry policy, the per-attempt
``timeout``, the whole-call ``deadline`` and extra headers. Validated on construction,
so a bad value fails where it is written, never in the middle of a call.

May import ``_errors`` and ``_retry`` only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

from ._errors import ConfigurationError
from ._retry import RetryPolicy

__all__ = ["CallOptions"]

#: Headers the SDK owns: a caller may not replace them per call.
RESERVED_HEADERS = frozenset({"authorization", "content-type", "content-length", "host"})
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BAD_VALUE = re.compile(r"[\x00-\x1f\x7f]")


def _retry(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, RetryPolicy):
        raise ConfigurationError(f"retry must be a RetryPolicy, got {type(value).__name__}")


def _seconds(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None and attribute.name == "deadline":
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not value > 0
    ):
        accepted = "a number of seconds > 0" + (" or None" if attribute.name == "deadline" else "")
        raise ConfigurationError(f"{attribute.name} must be {accepted}, got {value!r}")


def _number(value: Any) -> Any:
    # A real number becomes a float; anything else is left for the validator to refuse.
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _headers(
    value: Mapping[str, str] | tuple[tuple[str, str], ...] | None,
) -> tuple[tuple[str, str], ...]:
    if not value:
        return ()
    if isinstance(value, tuple):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"headers must be a mapping, got {type(value).__name__}")
    out = []
    for name, text in value.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ConfigurationError(f"headers: {name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise ConfigurationError(f"headers: {name} is set by the SDK and cannot be replaced")
        if not isinstance(text, str) or _BAD_VALUE.search(text):
            raise ConfigurationError(
                f"headers[{name!r}] must be a string without control characters or line breaks"
            )
        out.append((name, text))
    return tuple(out)


@attrs.frozen
class CallOptions:
    """The bounds and extras of a call. ``timeout`` bounds each phase of one attempt
    (waiting for a connection and connecting; then each wait for the answer), like
    httpx's timeout; ``deadline`` (``None``: none) bounds the whole call -- rate-limit
    waits, every attempt and the backoff between them -- in seconds from its start."""

    retry: RetryPolicy = attrs.field(factory=RetryPolicy, validator=_retry)
    timeout: float = attrs.field(default=30.0, validator=_seconds, converter=_number)
    deadline: float | None = attrs.field(default=None, validator=_seconds)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_headers)

    def merged(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CallOptions:
        """These options with the given ones replacing them (headers are added)."""
        return CallOptions(
            retry=self.retry if retry is None else retry,
            timeout=self.timeout if timeout is None else timeout,
            deadline=self.deadline if deadline is None else deadline,
            headers={**dict(self.headers), **dict(_headers(headers))},
        )
