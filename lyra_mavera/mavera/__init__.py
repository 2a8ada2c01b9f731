"""Mavera: send notetaker bots into calls and read what they recorded.

Everything Mavera-only lives here: models, the request-body builder, link checks, the
client, bulk creation with reconciliation, polling (``Follow``, ``PollPolicy``,
``wait``/``watch``) and ``wait_many``.

May import the core (``lyra_mavera._*`` modules other than ``_session``); never
``lyra/``, ``cli/``, ``testing/``, ``contrib/`` or the session.
"""

from ._account import Usage, Workspace, WorkspaceMember
from ._client import Mavera, Meetings, UsageAPI, Workspaces
from ._models import (
    FAILURE_STATUSES,
    TERMINAL_STATUSES,
    AnalysisInfo,
    BotRequest,
    Cancellation,
    Decision,
    Meeting,
    MeetingStatus,
    MeetingUrl,
    Participant,
    Task,
    TranscriptSummary,
    UnknownStatus,
)
from ._pages import Page
from ._results import Analysis, Evidence, FieldValue, SchemaResult, Segment, Transcript, Word

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
    "Mavera",
    "Meeting",
    "MeetingStatus",
    "MeetingUrl",
    "Meetings",
    "Page",
    "Participant",
    "SchemaResult",
    "Segment",
    "Task",
    "Transcript",
    "TranscriptSummary",
    "UnknownStatus",
    "Usage",
    "UsageAPI",
    "Word",
    "Workspace",
    "WorkspaceMember",
    "Workspaces",
]
