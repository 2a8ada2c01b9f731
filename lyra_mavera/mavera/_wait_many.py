"""``wait_many``: follow thousands of bots with one scheduler.

One due-time heap holds every bot that is waiting for its next poll; a fixed pool of
``concurrency`` workers takes due work from a queue. No task sleeps per bot, so
memory grows with the bots' state, not with tasks: a waiting bot is a :class:`_Bot`
(the fields of :class:`~lyra_mavera.mavera._step.StepState`, flat, in ``__slots__``,
about 300 bytes with its heap entry). The last meeting seen is kept only when a result
may need it: with a ``timeout`` (``WaitTimeoutError.meeting``) or while the status on
record is ``recording_permission_denied`` (a stale answer after the grace period ends
the bot with that meeting). A finished bot keeps nothing but its result.

When many bots are due at once, one ``GET /meetings`` page answers up to 100 of them:
the scheduler sweeps pages instead of fetching bots one by one when at least
``PollPolicy.sweep_min`` bots are due and the sweep needs fewer requests than the
single fetches would (it learns how many pages a sweep takes). Bots a sweep did not
reach are fetched one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import random
from collections.abc import Iterable

from .. import _clock
from .._bulk import bare_errors, check_concurrency
from .._errors import LyraMaveraError, ResponseValidationError, ValidationError
from .._validate import check_id
from . import _step
from ._models import Meeting, MeetingStatus
from ._pages import Lister
from ._poll import (
    TRANSIENT_ERRORS,
    Follow,
    GetMeeting,
    OnStatus,
    PollPolicy,
    bot_failed,
    notify,
    warn_if_unknown,
)
from ._step import StepState

__all__ = ["wait_many"]

Outcome = Meeting | LyraMaveraError
_PAGE = 100
_DENIED = MeetingStatus.RECORDING_PERMISSION_DENIED


class _Bot:
    """What ``wait_many`` keeps of one bot while it waits: its step state, flat (a
    :class:`~lyra_mavera.mavera._step.StepState` is built only to take an answer in),
    when it is due, and the last meeting when a result may need it."""

    __slots__ = ("denied_since", "due", "errors", "join_at", "last", "rank", "status", "unchanged")

    def __init__(self, due: float) -> None:
        self.status: str | None = None
        self.rank = -1
        self.unchanged = 0
        self.denied_since: float | None = None
        self.errors = 0
        self.join_at: float | None = None
        self.last: Meeting | None = None
        #: When its live heap entry is due (older entries for the bot are skipped).
        self.due = due

    def state(self) -> StepState:
        return {
            "status": self.status,
            "rank": self.rank,
            "unchanged": self.unchanged,
            "denied_since": self.denied_since,
            "errors": self.errors,
            "join_at": self.join_at,
        }

    def keep(self, state: StepState) -> None:
        self.status = state["status"]
        self.rank = state["rank"]
        self.unchanged = state["unchanged"]
        self.denied_since = state["denied_since"]
        self.errors = state["errors"]
        self.join_at = state["join_at"]


class _Scheduler:
    def __init__(
        self,
        get: GetMeeting,
        listing: Lister[Meeting],
        ids: list[str],
        policy: PollPolicy,
        timeout: float | None,
        on_status: OnStatus | None,
    ) -> None:
        self.get = get
        self.listing = listing
        self.policy = policy
        self.timeout = timeout
        self.on_status = on_status
        now = _clock.monotonic()
        #: The bots still waiting (a finished bot leaves; its outcome is in results).
        self.follows = {i: _Bot(now) for i in ids}
        self.results: dict[str, Outcome] = {}
        self.keep_last = timeout is not None
        self.deadline = None if timeout is None else now + timeout
        self._seq = itertools.count()
        # A heap entry counts only while it matches its bot's ``due``: rescheduling a bot
        # (after a sweep saw it early) leaves its old entry behind, and that entry is
        # skipped.
        self.heap: list[tuple[float, int, str]] = [(now, next(self._seq), i) for i in ids]
        self.queue: asyncio.Queue[list[str]] = asyncio.Queue()
        self.wake = asyncio.Event()
        self.sweeping = False
        self.sweep_pages: int | None = None
        #: Requests made: single fetches and sweep pages.
        self.requests = 0
        #: Batches handed to the workers and not finished yet.
        self.in_flight = 0

    # -- outcomes ----------------------------------------------------------------------

    def _schedule(self, meeting_id: str, bot: _Bot, at: float) -> None:
        bot.due = at
        heapq.heappush(self.heap, (at, next(self._seq), meeting_id))

    def _finish(self, meeting_id: str, outcome: Outcome) -> None:
        self.results[meeting_id] = outcome
        del self.follows[meeting_id]

    async def _apply(self, meeting: Meeting) -> None:
        """Take in an answer, as :meth:`Follow.observe` does for one bot."""
        meeting_id = meeting.id
        bot = self.follows.get(meeting_id)
        if bot is None:
            return
        warn_if_unknown(meeting.status)
        now = _clock.monotonic()
        step = _step.on_answer(
            bot.state(),
            str(meeting.status),
            join_at=meeting.join_at.timestamp() if meeting.join_at is not None else None,
            now=now,
            wall=_clock.now(),
            policy=self.policy,
            rand=0.0,  # the delay is drawn below (next_delay), as for one bot
        )
        state = step["state"]
        bot.keep(state)
        if not step["stale"]:
            # The last meeting on record, only when a result may need it later.
            bot.last = meeting if self.keep_last or bot.status == _DENIED else None
        last = bot.last if step["stale"] else meeting
        if step["changed"]:
            await notify(self.on_status, meeting)
        outcome = _step.finished(state, now, self.policy)
        if outcome is not None:
            assert last is not None  # a stale answer ends a bot only past the denial grace
            self._finish(meeting_id, last if outcome == "done" else bot_failed(last))
        else:
            delay = _step.next_delay(
                state, now=now, wall=_clock.now(), policy=self.policy, rand=random.random()
            )
            self._schedule(meeting_id, bot, now + delay)

    def _failed_poll(self, meeting_id: str, exc: LyraMaveraError) -> None:
        bot = self.follows.get(meeting_id)
        if bot is None:  # finished meanwhile (a sweep saw it)
            return
        step = _step.on_error(
            bot.state(),
            transient=isinstance(exc, TRANSIENT_ERRORS),
            policy=self.policy,
            rand=random.random(),
        )
        bot.keep(step["state"])
        if step["outcome"] is not None:
            self._finish(meeting_id, exc)
        else:
            self._schedule(meeting_id, bot, _clock.monotonic() + step["delay"])

    # -- work ----------------------------------------------------------------------------

    async def _poll_one(self, meeting_id: str) -> None:
        if meeting_id not in self.follows:
            return  # a sweep finished it while it was queued
        self.requests += 1
        try:
            meeting = await self.get(meeting_id)
        except LyraMaveraError as exc:
            self._failed_poll(meeting_id, exc)
            return
        if meeting.id != meeting_id:
            problem = f"$.id: asked for {meeting_id!r}, got {meeting.id!r}"
            self._failed_poll(
                meeting_id,
                ResponseValidationError(f"mavera {problem}", provider="mavera", path=(problem,)),
            )
            return
        await self._apply(meeting)

    async def _sweep(self, due: list[str]) -> None:
        """Read ``GET /meetings`` pages (newest first) until every due bot was seen or the
        page budget is spent; every tracked bot met on the way is updated."""
        wanted = set(due)
        active = len(self.follows)
        budget = 2 * math.ceil(active / _PAGE) + 2
        seen = 0
        try:
            async with contextlib.aclosing(self.listing(page_size=_PAGE)) as listing:
                async for meeting in listing:
                    if seen % _PAGE == 0:
                        self.requests += 1
                    seen += 1
                    wanted.discard(meeting.id)
                    if meeting.id in self.follows:
                        await self._apply(meeting)
                    if not wanted or seen >= budget * _PAGE:
                        break
        except LyraMaveraError:
            pass  # whatever the sweep missed is fetched one by one below
        self.sweep_pages = max(1, math.ceil(seen / _PAGE))
        for meeting_id in wanted:
            if meeting_id not in self.results:
                await self._poll_one(meeting_id)

    async def _worker(self) -> None:
        while True:
            batch = await self.queue.get()
            try:
                if len(batch) == 1:
                    await self._poll_one(batch[0])
                else:
                    await self._sweep(batch)
            finally:
                if len(batch) > 1:
                    self.sweeping = False
                self.in_flight -= 1
                self.wake.set()

    def _take_due(self, now: float) -> bool:
        """Hand due work to the workers: one sweep when enough bots are due within the
        horizon and a sweep is cheaper, else single fetches of the bots due now.
        Returns True when the work is held back for the sweep already running."""
        heap, follows = self.heap, self.follows
        soon: list[tuple[float, int, str]] = []
        horizon = now + self.policy.sweep_horizon / self.policy.time_scale
        while heap and heap[0][0] <= horizon:
            entry = heapq.heappop(heap)
            bot = follows.get(entry[2])
            if bot is not None and bot.due == entry[0]:
                soon.append(entry)
        active = len(follows)
        pages = self.sweep_pages or math.ceil(active / _PAGE)
        if len(soon) >= self.policy.sweep_min and pages < len(soon):
            if self.sweeping:
                # The running sweep may answer them: keep them until it ends.
                for entry in soon:
                    heapq.heappush(heap, entry)
                return True
            self.sweeping = True
            self.in_flight += 1
            self.queue.put_nowait([entry[2] for entry in soon])
            return False
        for entry in soon:
            if entry[0] <= now:
                self.in_flight += 1
                self.queue.put_nowait([entry[2]])
            else:
                heapq.heappush(heap, entry)
        return False

    async def run(self, concurrency: int) -> dict[str, Outcome]:
        async with bare_errors(), asyncio.TaskGroup() as group:
            workers = [group.create_task(self._worker()) for _ in range(concurrency)]
            try:
                await self._schedule_loop()
            finally:
                for worker in workers:
                    worker.cancel()
        for meeting_id, bot in self.follows.items():
            # The message and the last meeting as waiting for one bot reports them.
            late = Follow(meeting_id, self.policy, last=bot.last)
            self.results[meeting_id] = late.timeout(self.timeout)
        return self.results

    async def _schedule_loop(self) -> None:
        total = len(self.follows)
        while len(self.results) < total:
            now = _clock.monotonic()
            if self.deadline is not None and now >= self.deadline:
                return
            self.wake.clear()
            held = self._take_due(now)
            wait = max(self.heap[0][0] - now, 0.0) if self.heap and not held else None
            if self.deadline is not None:
                left = self.deadline - now
                wait = left if wait is None else min(wait, left)
            if wait is not None and wait <= 0:
                await asyncio.sleep(0)
                continue
            # While answers are awaited, only they can change anything: wait for them
            # (each is bounded by the request's own timeout), not for the clock, which
            # in testing mode would jump to the deadline past answers still on the way.
            await _clock.wait_for(self.wake, None if self.in_flight else wait)


async def wait_many(
    get: GetMeeting,
    listing: Lister[Meeting],
    meeting_ids: Iterable[str],
    *,
    timeout: float | None,
    policy: PollPolicy,
    concurrency: int,
    on_status: OnStatus | None,
) -> dict[str, Outcome]:
    if isinstance(meeting_ids, str) or not isinstance(meeting_ids, Iterable):
        raise ValidationError("meeting_ids", "must be an iterable of meeting ids (not one string)")
    ids = list(dict.fromkeys(check_id(f"meeting_ids[{n}]", i) for n, i in enumerate(meeting_ids)))
    check_concurrency(concurrency)
    if not ids:
        return {}
    return await _Scheduler(get, listing, ids, policy, timeout, on_status).run(concurrency)
