"""The one source of time and sleeping in the package.

Every wait the SDK makes (retry backoff, ``Retry-After``, the rate limiter, polling
cadence, grace periods, deadlines) asks the current :class:`Clock`: ``time()`` (Unix
seconds, for ``join_at`` and server timestamps), ``monotonic()`` (for durations and
deadlines) and ``sleep()``. Nothing else in the package reads ``time.time`` or calls
``asyncio.sleep`` to wait.

Testing mode (:func:`set_testing`) installs a :class:`VirtualClock`: time still passes
(so pacing, grace periods and deadlines keep their meaning) but only on paper, so a test
suite never really sleeps. :func:`use_clock` installs any clock, e.g. the fake server's,
so the SDK and the server share one time line.

This module imports nothing from the package.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = [
    "Clock",
    "SystemClock",
    "VirtualClock",
    "get_clock",
    "is_testing",
    "monotonic",
    "network_pause",
    "now",
    "set_testing",
    "sleep",
    "use_clock",
    "wait_for",
]


@runtime_checkable
class Clock(Protocol):
    """What the SDK needs of time."""

    def time(self) -> float:
        """Unix seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (durations, deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock (always yields to the event loop)."""
        ...


class SystemClock:
    """Real time: ``time.time``, ``time.monotonic`` and ``asyncio.sleep``."""

    __slots__ = ()

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


class VirtualClock:
    """Time that passes only on paper: ``sleep(s)`` moves the clock forward to at
    least ``s`` seconds after the call, then yields once, without really waiting.

    Concurrent sleepers each see at least the time they asked for pass (the clock runs
    to the furthest one), so pacing and grace periods keep their order and meaning;
    only real waiting is removed. :meth:`advance` jumps it by hand.
    """

    def __init__(self, start: float | None = None) -> None:
        self._origin = time.time() if start is None else float(start)
        self._elapsed = 0.0

    def time(self) -> float:
        """Unix seconds: the start time plus what has passed on paper."""
        return self._origin + self._elapsed

    def monotonic(self) -> float:
        """Seconds passed on paper since the clock was made."""
        return self._elapsed

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        if not seconds >= 0:
            raise ValueError("a clock never runs backwards")
        self._elapsed += seconds

    async def sleep(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` and yield once, without really waiting."""
        if seconds > 0:
            self._elapsed += seconds
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"VirtualClock(elapsed={self._elapsed:g}s)"


_system = SystemClock()
_current: Clock = _system


def get_clock() -> Clock:
    """The clock the SDK uses now."""
    return _current


def now() -> float:
    """Unix seconds on the current clock."""
    return _current.time()


def monotonic() -> float:
    """Monotonic seconds on the current clock."""
    return _current.monotonic()


async def sleep(seconds: float) -> None:
    """The SDK's one sleep, on the current clock."""
    await _current.sleep(seconds)


async def wait_for(event: asyncio.Event, seconds: float | None) -> None:
    """Wait until ``event`` is set or ``seconds`` pass on the current clock (``None``:
    only the event). Returns either way; the caller looks at what changed."""
    if event.is_set():
        return
    if seconds is None:
        await event.wait()
        return
    sleeper = asyncio.ensure_future(_current.sleep(seconds))
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((sleeper, waiter), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waiter.cancel()


async def network_pause(seconds: float) -> None:
    """A pause in real time whatever the clock: for time the network or a server needs
    (a create still being written), which no test clock can shorten without lying."""
    await asyncio.sleep(seconds)


class _Restore:
    """What :func:`use_clock` and :func:`set_testing` return: also a context manager
    that puts the previous clock back on exit."""

    def __init__(self, before: Clock) -> None:
        self._before = before

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        global _current
        _current = self._before


def use_clock(clock: Clock) -> _Restore:
    """Make ``clock`` the SDK's clock (plainly, or ``with use_clock(c): ...`` to
    restore the previous one afterwards)."""
    global _current
    if not isinstance(clock, Clock):
        raise TypeError(f"expected a Clock (time, monotonic, sleep), got {type(clock).__name__}")
    before, _current = _current, clock
    return _Restore(before)


def set_testing(on: bool = True) -> _Restore:
    """Turn testing mode on (a fresh :class:`VirtualClock`) or off (real time).

    In testing mode waits are shortened to nothing in real time, never removed: time
    moves on the virtual clock by what each wait asked for, so a poll loop is still
    paced (a bot in ``recording_permission_denied`` is polled about ``grace / interval``
    times, not thousands of times a second). Exposed as
    ``lyra_mavera.testing.set_testing``; ``with set_testing(True): ...`` restores the
    previous clock afterwards.
    """
    return use_clock(VirtualClock() if on else _system)


def is_testing() -> bool:
    """Whether testing mode (a virtual clock) is on."""
    return isinstance(_current, VirtualClock)
