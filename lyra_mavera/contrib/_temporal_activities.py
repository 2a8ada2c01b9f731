"""The activities of :mod:`lyra_mavera.contrib.temporal`: every Mavera request the
workflows make. Each takes and returns plain data; API errors come back as data too
(``{"error": ..., "transient": ...}``), so the workflow decides with the shared step and
Temporal never retries a request blindly.

One :class:`MaveraActivities` per worker process holds that process' one
:class:`AsyncSession` (see :func:`lyra_mavera.contrib.temporal.worker`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from .._bulk import is_ambiguous
from .._convert import converter, parse_datetime
from .._errors import APITimeoutError, LyraMaveraError
from .._session import AsyncSession
from ..mavera._body import bot_body
from ..mavera._bulk import _look
from ..mavera._client import Mavera
from ..mavera._models import Meeting
from ..mavera._poll import TRANSIENT_ERRORS
from ..mavera._reconcile import RecentMeetings, identity

__all__ = ["MaveraActivities", "request_body"]


def request_body(request: dict[str, Any]) -> dict[str, Any]:
    """The validated ``POST /meetings`` body of a plain-data bot request."""
    join_at = request.get("join_at")
    return bot_body(
        request["meeting_url"],
        request.get("title"),
        request.get("bot_name"),
        parse_datetime(join_at) if isinstance(join_at, str) else None,
        request.get("workspace_id"),
    )


def _meeting(meeting: Meeting) -> dict[str, Any]:
    data: dict[str, Any] = converter.unstructure(meeting)
    return data


def _error(exc: LyraMaveraError) -> dict[str, Any]:
    return {
        "error": type(exc).__name__,
        "message": str(exc),
        "transient": isinstance(exc, TRANSIENT_ERRORS),
        "retry_after": getattr(exc, "retry_after", None),
    }


#: What an activity leaves of its ``start_to_close_timeout``, at most: by the time
#: Temporal gives up on an attempt, its request has ended or been abandoned.
MARGIN = 2.0


def budget() -> float | None:
    """Seconds this activity attempt may still spend: ``start_to_close_timeout`` less
    what has passed since Temporal started it, less a margin (10%, at most
    :data:`MARGIN`). ``None``: no timeout. Temporal does not stop an activity whose
    attempt timed out (it only ignores its result), so without this bound a create
    could send after the workflow has already looked for its bot."""
    info = activity.info()
    timeout = info.start_to_close_timeout
    if not timeout:
        return None
    total = timeout.total_seconds()
    passed = (datetime.now(UTC) - info.started_time).total_seconds()
    return max(0.0, total - min(MARGIN, total / 10) - max(0.0, passed))


def bounded(session: AsyncSession) -> Mavera:
    """Mavera on the session with this attempt's :func:`budget` as the call's deadline:
    rate-limit waits that would outlast it fail at once (nothing sent), and an attempt
    still in flight at its end is abandoned (:class:`APITimeoutError`, ``sent=True``:
    it may have been made) -- the session's deadline ends an attempt as a whole."""
    left = budget()
    if left is None:
        return session.mavera
    if left <= 0:
        raise APITimeoutError(
            "mavera: the activity's start_to_close_timeout has passed; nothing was sent",
            provider="mavera",
            sent=False,
        )
    return session.with_options(deadline=left).mavera


class MaveraActivities:
    """Mavera's requests as Temporal activities, on one shared session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def all(self) -> Sequence[Callable[..., Any]]:
        """The activities to register on the Mavera task queue."""
        return [self.poll, self.cancel, self.baseline, self.create, self.reconcile]

    @activity.defn(name="lyra_mavera.poll")
    async def poll(self, meeting_id: str) -> dict[str, Any]:
        """One ``GET /meetings/{id}``: ``{"meeting", "status", "join_at"}`` or an error."""
        try:
            mavera = bounded(self.session)
            meeting = await mavera.meetings.get(meeting_id)
        except LyraMaveraError as exc:
            return _error(exc)
        join_at = meeting.join_at.timestamp() if meeting.join_at is not None else None
        return {"meeting": _meeting(meeting), "status": str(meeting.status), "join_at": join_at}

    @activity.defn(name="lyra_mavera.cancel")
    async def cancel(self, meeting_id: str, reason: str | None) -> dict[str, Any]:
        """Cancel the bot on Mavera; an error comes back as data."""
        try:
            mavera = bounded(self.session)
            await mavera.meetings.cancel(meeting_id, reason=reason)
        except LyraMaveraError as exc:
            return _error(exc)
        return {}

    @activity.defn(name="lyra_mavera.baseline")
    async def baseline(self, request: dict[str, Any]) -> dict[str, Any]:
        """What already exists for the request's link and ``join_at``, taken before the
        first send: nothing in it is ever adopted."""
        body = request_body(request)
        recent = RecentMeetings(self.session.mavera.meetings.list, {_key(body)})
        await recent.read_baseline()  # a failed read raises: Temporal retries it
        return recent.baseline()

    @activity.defn(name="lyra_mavera.create")
    async def create(self, request: dict[str, Any]) -> dict[str, Any]:
        """One ``POST /meetings``: ``{"meeting"}``, or an error with ``ambiguous`` (it may
        have made a bot: look before sending again)."""
        body = request_body(request)
        try:
            mavera = bounded(self.session)
            meeting = await mavera.meetings._create_body(body)
        except LyraMaveraError as exc:
            return {**_error(exc), "ambiguous": is_ambiguous(exc)}
        return {"meeting": _meeting(meeting)}

    @activity.defn(name="lyra_mavera.reconcile")
    async def reconcile(self, request: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
        """After an ambiguous create: ``{"meeting"}`` (the bot it made), ``{"none": True}``
        (surely none: safe to send again) or ``{"unknown": why}`` (never send again)."""
        body = request_body(request)
        recent = RecentMeetings.from_baseline(
            self.session.mavera.meetings.list, {_key(body)}, baseline
        )
        try:
            found = await _look(recent, body)
        except TRANSIENT_ERRORS:
            raise  # Temporal retries this read-only activity
        except LyraMaveraError as exc:
            return {"unknown": f"looking for the bot among recent meetings failed: {exc}"}
        if isinstance(found, Meeting):
            return {"meeting": _meeting(found)}
        if found:
            return {"none": True}
        return {"unknown": "the key's meetings could not tell whether this bot was made"}


def _key(body: dict[str, Any]) -> tuple[str, int | None]:
    return identity(body["meeting_url"], body.get("join_at"))
