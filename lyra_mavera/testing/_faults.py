"""Fault injection and per-key rate limits for the fake server."""

from __future__ import annotations

import collections
import random
import time
from typing import Literal

import attrs

__all__ = ["Fault", "FaultKind", "Faults", "KeyLimiter"]

FaultKind = Literal[
    "status", "latency", "drop", "drop_before", "truncate", "non_json", "html", "stale"
]


@attrs.frozen
class Fault:
    """One kind of trouble, injected into a share (``rate``) of matching requests.

    - ``status``: answer ``status`` (500, 502, 503, ...) in the provider's error shape,
      with ``Retry-After: retry_after`` when given. The request is not processed.
    - ``latency``: wait ``delay`` real seconds, then answer normally.
    - ``drop``: process the request (a bot *is* created), then close the connection
      without answering.
    - ``drop_before``: close the connection without processing anything.
    - ``truncate``: process, then send half of the JSON body.
    - ``non_json``: process, then answer ``status`` (default 200) with plain text.
    - ``html``: answer ``status`` (default 502) with a proxy's HTML page, unprocessed.
    - ``stale``: for ``GET /meetings/{id}``, answer with the bot's previous status, as a
      lagging replica would.

    ``route`` limits the fault to one route, written ``"POST /meetings"`` or
    ``"GET /meetings/{id}"`` (``"*"`` for all); ``provider`` to ``"lyra"`` or
    ``"mavera"``. ``times`` caps how often it fires.
    """

    kind: FaultKind
    rate: float = 1.0
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    route: str = "*"
    provider: str | None = None
    times: int | None = None

    def matches(self, provider: str, route: str) -> bool:
        """Whether this fault applies to a request for ``provider`` on ``route``."""
        return (self.provider is None or self.provider == provider) and self.route in ("*", route)


class Faults:
    """The active faults, drawn deterministically from one seeded generator."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._faults: list[Fault] = []
        self._fired: collections.Counter[int] = collections.Counter()
        #: How often each kind fired.
        self.counts: collections.Counter[str] = collections.Counter()

    def add(self, fault: Fault) -> Fault:
        if not 0 <= fault.rate <= 1:
            raise ValueError("rate must be within 0..1")
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def pick(self, provider: str, route: str) -> Fault | None:
        """The fault for this request, if any. One draw per request keeps the sequence
        of outcomes a pure function of the seed and the order of arrival."""
        if not self._faults:
            return None
        draw = self._random.random()
        floor = 0.0
        for index, fault in enumerate(self._faults):
            if not fault.matches(provider, route):
                continue
            if fault.times is not None and self._fired[index] >= fault.times:
                continue
            floor += fault.rate
            if draw < floor:
                self._fired[index] += 1
                self.counts[fault.kind if fault.kind != "status" else f"status_{fault.status}"] += 1
                return fault
        return None


class KeyLimiter:
    """A sliding window of ``rpm`` requests per ``window`` real seconds for one key."""

    def __init__(self, rpm: int, window: float = 60.0) -> None:
        self.rpm = rpm
        self.window = window
        self._hits: collections.deque[float] = collections.deque()

    def _trim(self, now: float) -> None:
        while self._hits and self._hits[0] <= now - self.window:
            self._hits.popleft()

    def hit(self) -> tuple[bool, int, float, float]:
        """Count one request: ``(allowed, remaining, reset_unix, retry_after_seconds)``."""
        now = time.monotonic()
        self._trim(now)
        wall = time.time()
        if len(self._hits) >= self.rpm:
            retry_after = self._hits[0] + self.window - now
            return False, 0, wall + retry_after, max(retry_after, 0.0)
        self._hits.append(now)
        reset = wall + (self._hits[0] + self.window - now)
        return True, self.rpm - len(self._hits), reset, 0.0
