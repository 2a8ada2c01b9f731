"""Mavera's response models.

Only ``id`` and ``status`` (and the envelope's ``object``) are required; every other
field is optional because Mavera's examples differ between endpoints (``platform`` is
on create but not on get; ``meeting_url`` is an object on create and a string on get).
Unknown fields are ignored and unknown enum values are kept as raw strings.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from .._convert import customize

__all__ = [
    "FAILURE_STATUSES",
    "TERMINAL_STATUSES",
    "Analysis",
    "AnalysisInfo",
    "BotRequest",
    "Cancellation",
    "Decision",
    "Evidence",
    "FieldValue",
    "Meeting",
    "MeetingStatus",
    "MeetingUrl",
    "Participant",
    "SchemaResult",
    "Segment",
    "Task",
    "Transcript",
    "TranscriptSummary",
    "Usage",
    "Word",
    "Workspace",
    "WorkspaceMember",
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
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Participant:
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
    status: MeetingStatus | str
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
    status: MeetingStatus | str
    object: str = "meeting"
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None


@attrs.frozen
class Word:
    word: str
    start: float | None = None
    end: float | None = None


@attrs.frozen
class Segment:
    text: str
    start: float | None = None
    end: float | None = None
    speaker: str | None = None
    speaker_id: str | None = None
    word_timestamps: tuple[Word, ...] = ()


@attrs.frozen
class Transcript:
    """``GET /meetings/{id}/transcript``: ``segments`` for ``format="segments"``,
    ``content`` for ``"text"`` and ``"srt"``."""

    meeting_id: str
    format: str
    object: str = "meeting.transcript"
    segments: tuple[Segment, ...] = ()
    content: str | None = None
    duration_seconds: float | None = None
    total_words: int | None = None
    participant_map: dict[str, Any] = attrs.field(factory=dict)
    created_at: datetime | None = None

    @property
    def text(self) -> str:
        """The transcript as plain text, whatever the format."""
        if self.content is not None:
            return self.content
        return "\n".join(segment.text for segment in self.segments)


@attrs.frozen
class Analysis:
    """``GET /meetings/{id}/analysis``. Its schema is undocumented: the common fields are
    read when present, and ``data`` holds the whole body as sent."""

    data: dict[str, Any]
    id: str | None = None
    meeting_id: str | None = None
    status: str | None = None
    version: int | None = None
    summary: Any = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


@attrs.frozen
class FieldValue:
    field_name: str
    field_label: str | None = None
    field_type: str | None = None
    is_required: bool | None = None
    value: Any = None
    quote: str | None = None
    confidence: float | None = None
    score: float | None = None
    score_rationale: str | None = None


@attrs.frozen
class Evidence:
    field_name: str | None = None
    text: str | None = None
    speaker: str | None = None
    speaker_id: str | None = None
    timestamp_start: float | None = None
    timestamp_end: float | None = None


@attrs.frozen
class SchemaResult:
    """``POST /meetings/{id}/schemas/{schemaId}/run``: structured extraction."""

    id: str
    object: str = "meeting.schema_result"
    meeting_id: str | None = None
    schema_id: str | None = None
    schema_name: str | None = None
    schema_category: str | None = None
    field_values: tuple[FieldValue, ...] = ()
    scores: dict[str, Any] = attrs.field(factory=dict)
    overall_score: float | None = None
    evidence: tuple[Evidence, ...] = ()
    processing_time_ms: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen
class WorkspaceMember:
    user_id: str | None = None
    email: str | None = None
    role: str | None = None
    status: str | None = None
    joined_at: datetime | None = None
    object: str = "workspace.member"


@attrs.frozen
class Workspace:
    id: str
    object: str = "workspace"
    name: str | None = None
    image: str | None = None
    type: str | None = None
    role: str | None = None
    is_owner: bool | None = None
    member_count: int | None = None
    project_count: int | None = None
    thread_count: int | None = None
    budget_alert: int | None = None
    usage_limit: int | None = None
    billing_email: str | None = None
    members: tuple[WorkspaceMember, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen
class BillingPeriod:
    start: datetime | None = None
    end: datetime | None = None


@attrs.frozen
class Credits:
    used: float | None = None
    included: float | None = None
    remaining: float | None = None
    percentage_used: float | None = None


@attrs.frozen
class Transcription:
    minutes_used: float | None = None
    minutes_included: float | None = None
    minutes_remaining: float | None = None
    percentage_used: float | None = None


@attrs.frozen
class Storage:
    gb_used: float | None = None
    gb_included: float | None = None
    gb_remaining: float | None = None
    percentage_used: float | None = None


@attrs.frozen
class ApiRequests:
    total_requests: int | None = None
    total_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    credits_used: float | None = None
    error_count: int | None = None
    avg_latency_ms: float | None = None


@attrs.frozen
class RateLimit:
    requests_per_minute: int | None = None


@attrs.frozen
class AutoRecharge:
    enabled: bool | None = None
    threshold: float | None = None
    credits_to_add: float | None = None


@attrs.frozen
class Limits:
    budget_alert: float | None = None
    usage_limit: float | None = None


@attrs.frozen
class Usage:
    """``GET /usage``: the billing period's consumption and the key's rate limit."""

    object: str = "usage"
    billing_period: BillingPeriod | None = None
    credits: Credits | None = None
    transcription: Transcription | None = None
    storage: Storage | None = None
    api_requests: ApiRequests | None = None
    rate_limit: RateLimit | None = None
    auto_recharge: AutoRecharge | None = None
    limits: Limits | None = None


@attrs.frozen
class BotRequest:
    """One bot for ``create_many``; same rules as ``meetings.create``."""

    meeting_url: str
    title: str | None = None
    bot_name: str | None = None
    join_at: datetime | None = None
    workspace_id: str | None = None


_MEETING_URL_KEYS = {a.name for a in attrs.fields(MeetingUrl)} - {"extra"}


@customize
def _hooks(conv: cattrs.Converter) -> None:
    url_object = make_dict_structure_fn(MeetingUrl, conv, _cattrs_forbid_extra_keys=False)
    # (only ever called with a dict: the hook below checks)

    def meeting_url(value: Any, _: Any) -> str | MeetingUrl | None:
        # A string on get and list, an object on create: keep whichever came.
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict):
            known = {k: v for k, v in value.items() if k in _MEETING_URL_KEYS}
            extra = {k: v for k, v in value.items() if k not in _MEETING_URL_KEYS}
            return url_object({**known, "extra": extra}, MeetingUrl)
        raise TypeError(f"expected a string or an object, got {type(value).__name__}")

    conv.register_structure_hook(str | MeetingUrl | None, meeting_url)
    analysis = make_dict_structure_fn(Analysis, conv, _cattrs_forbid_extra_keys=False)

    def analysis_hook(value: Any, cls: type[Analysis]) -> Analysis:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        # The content is undocumented: never refuse a key, keep the whole body.
        return analysis({**value, "data": value}, cls)

    conv.register_structure_hook(Analysis, analysis_hook)
