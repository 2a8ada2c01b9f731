"""What a finished meeting yields: its transcript, its analysis, schema runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from .._convert import json_field

__all__ = ["Analysis", "Evidence", "FieldValue", "SchemaResult", "Segment", "Transcript", "Word"]


@attrs.frozen
class Word:
    """One word of a transcript segment, with its start and end in seconds."""

    word: str
    start: float | None = None
    end: float | None = None


@attrs.frozen
class Segment:
    """One stretch of speech in a transcript: its text, start and end in seconds from
    the start of the recording, and who spoke."""

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

    data: dict[str, Any] = json_field(whole=True)
    id: str | None = None
    meeting_id: str | None = None
    status: str | None = None
    version: int | None = None
    summary: Any = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __getitem__(self, key: str) -> Any:
        """``analysis["key"]``: a key of the body as sent."""
        return self.data[key]


@attrs.frozen
class FieldValue:
    """One field a schema run extracted: its value, the quote it rests on, and how sure
    and how good it is."""

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
    """A stretch of the transcript that supports a schema run's field."""

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
