"""Mavera bots in the fake: their scripted lifecycle and their store."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator
from typing import Any

import attrs

from ._clock import FakeClock

__all__ = ["FINAL_STATUSES", "HAPPY_PATH", "Bot", "BotScript", "BotStore"]

#: The happy path, in order.
HAPPY_PATH = (
    "pending",
    "joining_call",
    "in_waiting_room",
    "in_call_not_recording",
    "in_call_recording",
    "call_ended",
    "recording_done",
    "done",
)
#: Statuses from which a bot never moves on by itself (``done`` may still expire).
FINAL_STATUSES = frozenset({"done", "fatal", "cancelled", "media_expired"})


@attrs.frozen
class BotScript:
    """How one bot's meeting goes, in fake seconds.

    - ``durations``: seconds spent in each happy-path status before the next one
      (``pending`` counts from ``join_at`` or creation).
    - ``fatal_at``: the bot turns ``fatal`` when it would have entered this status.
    - ``permission_denied``: the host refuses recording; the bot shows
      ``recording_permission_denied`` instead of ``in_call_recording``, for
      ``permission_denied_for`` seconds, then goes ``fatal`` (or back to recording
      when ``permission_then="in_call_recording"``). ``None`` keeps it there.
    - ``stuck_in_waiting_room``: never admitted.
    - ``media_expired_after``: seconds after ``done`` until ``media_expired``.
    """

    durations: dict[str, float] = attrs.field(
        factory=lambda: {
            "pending": 1.0,
            "joining_call": 5.0,
            "in_waiting_room": 10.0,
            "in_call_not_recording": 5.0,
            "in_call_recording": 60.0,
            "call_ended": 5.0,
            "recording_done": 10.0,
        }
    )
    fatal_at: str | None = None
    permission_denied: bool = False
    permission_denied_for: float | None = 30.0
    permission_then: str = "fatal"
    stuck_in_waiting_room: bool = False
    media_expired_after: float | None = None

    def timeline(self) -> list[tuple[float, str]]:
        """``(offset, status)`` pairs from the bot's start, first is ``(0, "pending")``."""
        steps: list[tuple[float, str]] = [(0.0, "pending")]
        t = 0.0
        for previous, status in itertools.pairwise(HAPPY_PATH):
            t += self.durations.get(previous, 0.0)
            if status == self.fatal_at:
                steps.append((t, "fatal"))
                return steps
            if status == "in_call_recording" and self.permission_denied:
                steps.append((t, "recording_permission_denied"))
                if self.permission_denied_for is None:
                    return steps
                t += self.permission_denied_for
                if self.permission_then != "in_call_recording":
                    steps.append((t, self.permission_then))
                    return steps
            steps.append((t, status))
            if status == "in_waiting_room" and self.stuck_in_waiting_room:
                return steps
        if self.media_expired_after is not None:
            steps.append((t + self.media_expired_after, "media_expired"))
        return steps


@attrs.define
class Bot:
    """One bot: what was asked, when it starts, and how it goes."""

    id: str
    seq: int
    key: str
    meeting_url: str
    platform: str
    title: str | None
    bot_name: str
    join_at: float | None
    created_at: float
    workspace_id: str
    script: BotScript
    timeline: list[tuple[float, str]]
    cancelled_at: float | None = None
    cancel_reason: str | None = None
    schema_results: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    @property
    def starts_at(self) -> float:
        return max(self.created_at, self.join_at or self.created_at)

    def status(self, now: float) -> str:
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return "cancelled"
        elapsed = now - self.starts_at
        offsets = [offset for offset, _ in self.timeline]
        index = bisect.bisect_right(offsets, elapsed) - 1
        return self.timeline[max(index, 0)][1]

    def entered(self, status: str) -> float | None:
        """Fake time at which the bot entered ``status`` (``None`` if it never does)."""
        for offset, name in self.timeline:
            if name == status:
                return self.starts_at + offset
        return None


class BotStore:
    """All bots, by id and in creation order (for cursor pages, newest first)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._bots: dict[str, Bot] = {}
        self._order: list[Bot] = []
        self._seq = itertools.count(1)
        self.per_link: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._bots)

    def __iter__(self) -> Iterator[Bot]:
        return iter(self._order)

    def get(self, bot_id: str) -> Bot | None:
        return self._bots.get(bot_id)

    def add(self, **fields: Any) -> Bot:
        seq = next(self._seq)
        script: BotScript = fields.pop("script")
        bot = Bot(
            id=f"meeting_{seq:06d}", seq=seq, script=script, timeline=script.timeline(), **fields
        )
        self._bots[bot.id] = bot
        self._order.append(bot)
        self.per_link[bot.meeting_url] = self.per_link.get(bot.meeting_url, 0) + 1
        return bot

    def page(
        self, *, before_seq: int | None, limit: int, workspace_id: str | None, key: str
    ) -> tuple[list[Bot], bool]:
        """Up to ``limit`` bots of ``key``, newest first, older than ``before_seq``."""
        # seq n sits at index n - 1: bots are only ever appended.
        end = len(self._order) if before_seq is None else min(before_seq - 1, len(self._order))
        found: list[Bot] = []
        i = end - 1
        while i >= 0:
            bot = self._order[i]
            if bot.key == key and (workspace_id is None or bot.workspace_id == workspace_id):
                if len(found) == limit:
                    return found, True
                found.append(bot)
            i -= 1
        return found, False
