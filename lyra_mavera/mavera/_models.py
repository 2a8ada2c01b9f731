"""Mavera's response models.

Only ``id`` and ``status`` (and the envelope's ``object``) are required; every other
field is optional because Mavera's examples differ between endpoints (``platform`` is
on create but not on get; ``meeting_url`` is an object on create and a string on get).
Unknown fields are ignored and unknown enum values are kept as raw strings.

A status is typed ``MeetingStatus | UnknownStatus``: a documented value is always the
enum member (whether parsed or passed to a constructor as a plain string), anything
else stays the raw ``str`` the server sent, which type checkers tell apart as
:data:`UnknownStatus`. So ``match meeting.status:`` over the members, then ``case _:``
(or ``case str():``) for a status this SDK does not know yet, is checked exhaustively.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, NewType

import attrs

from .._convert import json_field

__all__ = [
    "FAILURE_STATUSES",
    "TERMINAL_STATUSES",
    "AnalysisInfo",
    "BotRequest",
    "Cancellation",
    "Decision",
    "Meeting",
    "MeetingStatus",
    "MeetingUrl",
    "Participant",
    "Task",
    "TranscriptSummary",
    "UnknownStatus",
    "parse_status",
]


class MeetingStatus(enum.StrEnum):
    """The twelve documented bot statuses, in lifecycle order for the happy path."""

    PENDING = "pending"
    JOINING_CALL = "joining_call"
    IN_WAITING_ROOM = "in_waiting_room"
    IN_CALL_NOT_RECORDING = "in_call_not_recording"
    IN_CALL_RECORDING = "in_call_recording"
    CALL_ENDED = "call_ended"
    RECORDING_DONE = "recording_done"
    DONE = "done"
    FATAL = "fatal"
    RECORDING_PERMISSION_DENIED = "recording_permission_denied"
    MEDIA_EXPIRED = "media_expired"
    CANCELLED = "cancelled"


UnknownStatus = NewType("UnknownStatus", str)
UnknownStatus.__doc__ = """A bot status this SDK does not know (none of
:class:`MeetingStatus`): at run time the raw ``str`` the server sent; for type checkers
a distinct kind of ``str``, so ``MeetingStatus | UnknownStatus`` keeps the members
visible instead of collapsing to ``str``."""

_MEMBERS: dict[str, MeetingStatus] = {member.value: member for member in MeetingStatus}


def parse_status(value: str) -> MeetingStatus | UnknownStatus:
    """The :class:`MeetingStatus` member for a documented status, else ``value`` itself
    (an :data:`UnknownStatus`)."""
    member = _MEMBERS.get(value)
    return member if member is not None else UnknownStatus(value)


#: Statuses after which a bot never changes again (``media_expired`` follows ``done``).
TERMINAL_STATUSES = frozenset(
    {MeetingStatus.DONE, MeetingStatus.FATAL, MeetingStatus.CANCELLED, MeetingStatus.MEDIA_EXPIRED}
)
#: Terminal statuses that mean the bot failed.
FAILURE_STATUSES = frozenset(
    {MeetingStatus.FATAL, MeetingStatus.CANCELLED, MeetingStatus.MEDIA_EXPIRED}
)


@attrs.frozen
class MeetingUrl:
    """The parsed link Mavera returns on create (sub-fields undocumented, all optional).
    ``extra`` keeps any other keys as sent."""

    meeting_id: str | None = None
    platform: str | None = None
    meeting_password: str | None = None
    extra: dict[str, Any] = json_field(rest=True, factory=dict)


@attrs.frozen
class Participant:
    """Someone who attended the meeting, as the bot saw them."""

    name: str | None = None
    email: str | None = None
    role: str | None = None


@attrs.frozen
class TranscriptSummary:
    """The transcript summary embedded in a meeting; the text is at ``transcript()``."""

    duration_seconds: float | None = None
    total_words: int | None = None
    participant_stats: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class AnalysisInfo:
    """Analysis metadata embedded in a meeting; the content is at ``analysis()``."""

    id: str | None = None
    status: str | None = None
    version: int | None = None
    processing_time_ms: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen
class Task:
    """An action item the analysis found in the meeting (``owner``, ``due_date``, and the
    ``evidence_spans`` of the transcript it comes from)."""

    id: str | None = None
    content: str | None = None
    owner: str | None = None
    owner_email: str | None = None
    priority: str | None = None
    status: str | None = None
    due_date: datetime | None = None
    due_date_confidence: float | None = None
    category: str | None = None
    evidence_spans: tuple[dict[str, Any], ...] = ()
    created_at: datetime | None = None


@attrs.frozen
class Decision:
    """A decision the analysis found in the meeting, with who owns it and by when."""

    id: str | None = None
    statement: str | None = None
    owner: str | None = None
    status: str | None = None
    deadline: datetime | None = None
    evidence_spans: tuple[dict[str, Any], ...] = ()
    created_at: datetime | None = None


@attrs.frozen
class Meeting:
    """A Mavera meeting and its notetaker bot (``POST /meetings``, ``GET /meetings/{id}``)."""

    id: str
    status: MeetingStatus | UnknownStatus = attrs.field(converter=parse_status)
    object: str = "meeting"
    title: str | None = None
    meeting_url: str | MeetingUrl | None = None
    bot_name: str | None = None
    join_type: str | None = None
    join_at: datetime | None = None
    completed_at: datetime | None = None
    platform: str | None = None
    workspace_id: str | None = None
    recording_url: str | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    participants: tuple[Participant, ...] = ()
    participant_count: int | None = None
    transcript: TranscriptSummary | None = None
    has_transcript: bool | None = None
    analysis: AnalysisInfo | None = None
    tasks: tuple[Task, ...] = ()
    task_count: int | None = None
    decisions: tuple[Decision, ...] = ()
    decision_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the bot will not change again (``done``, ``fatal``, ``cancelled``,
        ``media_expired``)."""
        return self.status in TERMINAL_STATUSES


@attrs.frozen
class Cancellation:
    """The answer to ``POST /meetings/{id}/cancel``."""

    id: str
    status: MeetingStatus | UnknownStatus = attrs.field(converter=parse_status)
    object: str = "meeting"
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None


@attrs.frozen
class BotRequest:
    """One bot for ``create_many``; same rules as ``meetings.create``."""

    meeting_url: str
    title: str | None = None
    bot_name: str | None = None
    join_at: datetime | None = None
    workspace_id: str | None = None
