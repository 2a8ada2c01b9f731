"""Following a Mavera bot until it is done: cadence, ordering, outcomes.

Terminal statuses: ``done`` is success; ``fatal``, ``cancelled`` and ``media_expired``
are failures. ``recording_permission_denied`` is not final at once -- the host may
still allow recording, or the bot may leave -- so it counts as a failure only once it
has lasted ``PollPolicy.permission_denied_grace`` seconds. Unknown statuses are
followed like any in-progress status (and logged once).

A status never moves backwards: statuses are ranked along the lifecycle, and an answer
ranked below the best seen so far (a lagging replica) is ignored.

The rules live in :mod:`lyra_mavera.mavera._step` (pure, shared with the arq and
Temporal integrations); :class:`Follow` feeds it meetings and keeps the last one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import attrs

from .. import _clock
from .._errors import (
    APIConnectionError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    ValidationError,
)
from . import _step
from ._errors import BotFailedError, WaitTimeoutError
from ._models import Meeting, MeetingStatus
from ._policy import PollPolicy
from ._step import STATUS_RANK, Step, StepState

__all__ = [
    "STATUS_RANK",
    "TRANSIENT_ERRORS",
    "Follow",
    "PollPolicy",
    "bot_failed",
    "check_policy",
    "check_timeout",
    "follow",
    "notify",
    "warn_if_unknown",
]

logger = logging.getLogger("lyra_mavera")
_warned_unknown: set[str] = set()

S = MeetingStatus
#: Poll failures worth another try (after backing off); anything else ends the wait.
TRANSIENT_ERRORS = (APIConnectionError, ServerError, RateLimitError, ResponseValidationError)


@attrs.define(slots=True)
class Follow:
    """What is known of one bot being followed (no I/O: fed meetings, it decides by
    :mod:`~lyra_mavera.mavera._step`)."""

    meeting_id: str
    policy: PollPolicy
    last: Meeting | None = None
    state: StepState = attrs.Factory(_step.start)

    @property
    def errors(self) -> int:
        """Failed polls in a row."""
        return self.state["errors"]

    def observe(self, meeting: Meeting, now: float) -> bool:
        """Take in a fresh answer; ``True`` when the status changed (and is reported)."""
        status = meeting.status
        warn_if_unknown(status)
        step = _step.on_answer(
            self.state,
            str(status),
            join_at=meeting.join_at.timestamp() if meeting.join_at is not None else None,
            now=now,
            wall=_clock.now(),
            policy=self.policy,
            rand=0.0,  # the delay is asked for separately (next_delay)
        )
        self.state = step["state"]
        if not step["stale"]:
            self.last = meeting
        return step["changed"]

    def failed_poll(self, exc: BaseException) -> Step:
        """Take in a failed poll: back off, or (permanent, or too many) end."""
        step = _step.on_error(
            self.state,
            transient=isinstance(exc, TRANSIENT_ERRORS),
            policy=self.policy,
            rand=random.random(),
        )
        self.state = step["state"]
        return step

    def failed_for_good(self, now: float) -> bool:
        """Whether the bot has failed for good (a failure status, or a permission denial
        that outlasted its grace period)."""
        return _step.finished(self.state, now, self.policy) == "failed"

    def finished(self, now: float) -> bool:
        return _step.finished(self.state, now, self.policy) is not None

    def next_delay(self, now: float, rand: float) -> float:
        """Seconds until this bot should be polled again (``now`` on the monotonic clock;
        ``join_at`` is compared with the clock's Unix time)."""
        return _step.next_delay(
            self.state, now=now, wall=_clock.now(), policy=self.policy, rand=rand
        )

    def failure(self) -> BotFailedError:
        assert self.last is not None
        return bot_failed(self.last)

    def timeout(self, timeout: float | None) -> WaitTimeoutError:
        seen = f"last status {self.last.status!s}" if self.last else "no status seen"
        return WaitTimeoutError(
            f"mavera bot {self.meeting_id} not done within {timeout:g}s ({seen})"
            if timeout is not None
            else f"mavera bot {self.meeting_id}: wait ended ({seen})",
            meeting=self.last,
        )


def warn_if_unknown(status: str) -> None:
    """Log a status this SDK does not know, once per status (it is followed as in
    progress)."""
    if status not in STATUS_RANK and status not in _warned_unknown:
        _warned_unknown.add(str(status))
        logger.warning("mavera sent an unknown bot status %r; treating it as in progress", status)


def bot_failed(meeting: Meeting) -> BotFailedError:
    """The error for a bot that ended in a failure status."""
    return BotFailedError(f"mavera bot {meeting.id} ended in {meeting.status!s}", meeting=meeting)


OnStatus = Callable[[Meeting], Awaitable[Any] | Any]


async def notify(callback: OnStatus | None, meeting: Meeting) -> None:
    """Call a user's ``on_status`` (plain or async)."""
    if callback is not None:
        result = callback(meeting)
        if inspect.isawaitable(result):
            await result


#: Fetch one bot's current state (``Meetings.get``).
GetMeeting = Callable[[str], Awaitable[Meeting]]


async def follow(
    get: GetMeeting,
    meeting_id: str,
    *,
    timeout: float | None,
    policy: PollPolicy,
) -> AsyncGenerator[Meeting, None]:
    """Yield the bot each time its status changes; end after a terminal status.

    Raises :class:`WaitTimeoutError` at the deadline (no sleep runs past it) and the
    last poll error after ``policy.max_errors`` failures in a row.
    """
    deadline = None if timeout is None else _clock.monotonic() + timeout
    state = Follow(meeting_id, policy)
    while True:
        left = None if deadline is None else deadline - _clock.monotonic()
        try:
            # Polls are paced on the SDK's clock; the request itself takes real time,
            # bounded by what is left (a generous bound when the clock runs fast).
            async with asyncio.timeout(left):
                meeting = await get(meeting_id)
        except TimeoutError:
            raise state.timeout(timeout) from None
        except TRANSIENT_ERRORS as exc:
            step = state.failed_poll(exc)
            if step["outcome"] is not None:
                exc.add_note(
                    f"gave up polling mavera bot {meeting_id} after {state.errors} "
                    "failed polls in a row"
                )
                raise
            delay = step["delay"]
        else:
            now = _clock.monotonic()
            if state.observe(meeting, now):
                yield meeting
            if state.finished(now):
                return
            delay = state.next_delay(now, random.random())
        delay, times_out = _step.before_deadline(delay, _clock.monotonic(), deadline)
        await _clock.sleep(delay)
        if times_out:
            raise state.timeout(timeout)


def check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValidationError(
            "timeout", f"must be a number of seconds > 0 or None, got {timeout!r}"
        )
    return float(timeout)


def check_policy(poll: object) -> PollPolicy:
    if poll is None:
        return PollPolicy()
    if not isinstance(poll, PollPolicy):
        raise ValidationError("poll", f"must be a PollPolicy, got {type(poll).__name__}")
    return poll
