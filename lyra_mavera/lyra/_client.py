"""The Lyra provider: ``s.lyra.auth`` and ``s.lyra.meetings``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .._bulk import (
    AmbiguousCreateError,
    BulkResult,
    OnResult,
    Progress,
    is_ambiguous,
    run_bulk,
)
from .._convert import format_datetime
from .._errors import LyraMaveraError, PermissionDeniedError, ValidationError
from .._transport import Transport
from .._validate import check_aware_datetime, check_emails, check_text
from ._models import Identity, Meeting, MeetingRequest

__all__ = ["Auth", "Lyra", "Meetings", "create_meetings", "meeting_body"]

PROVIDER = "lyra"


def meeting_body(
    title: object,
    start: object = None,
    attendees: object = None,
    *,
    prefix: str = "",
) -> dict[str, Any]:
    """Validate one meeting's fields and build its JSON body (fields not given are
    omitted). ``prefix`` qualifies parameter names in errors, e.g. ``requests[3].``."""
    body: dict[str, Any] = {"title": check_text(prefix + "title", title)}
    if start is not None:
        body["start"] = format_datetime(check_aware_datetime(prefix + "start", start))
    if attendees is not None:
        emails = check_emails(prefix + "attendees", attendees)
        # Always a list: every request Lyra's production client sends uses one.
        if emails:
            body["attendees"] = emails
    return body


async def post_meeting(session: Transport, body: dict[str, Any]) -> Meeting:
    """``POST /meeting``; a 403 names the OAuth scope the token lacks."""
    try:
        return await session.call(PROVIDER, "POST", "/meeting", Meeting, json_body=body)
    except PermissionDeniedError as exc:
        exc.required_scope = "meeting.create"  # type: ignore[attr-defined]
        if "meeting.create" not in exc.message:
            exc.message += " (the OAuth token lacks the scope meeting.create)"
        raise


class Auth:
    """``s.lyra.auth``."""

    def __init__(self, session: Transport) -> None:
        self._session = session

    async def verify(self) -> Identity:
        """Check the key or token (``POST /auth``); an invalid one raises
        :class:`AuthenticationError`."""
        return await self._session.call(PROVIDER, "POST", "/auth", Identity)


class Meetings:
    """``s.lyra.meetings``."""

    def __init__(self, session: Transport) -> None:
        self._session = session

    async def create(
        self,
        title: str,
        *,
        start: datetime | None = None,
        attendees: str | Iterable[str] | None = None,
    ) -> Meeting:
        """Create a meeting (``POST /meeting``).

        ``start`` must be timezone-aware; it is sent in UTC as
        ``YYYY-MM-DDTHH:MM:SS.mmmZ``. ``attendees`` is one email or several.
        """
        body = meeting_body(title, start, attendees)
        return await post_meeting(self._session, body)

    async def create_many(
        self,
        requests: Iterable[MeetingRequest],
        *,
        concurrency: int = 10,
        on_progress: Progress | None = None,
        on_result: OnResult | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> list[BulkResult[Meeting]]:
        """Create many meetings, at most ``concurrency`` at once.

        Returns one :class:`BulkResult` per request, in input order; a failed item never
        stops the others, and nothing raises out of here but bad arguments. Lyra has no
        way to look a meeting up, so an item whose create *may* have succeeded (timeout
        or dropped connection after sending, 5xx) is not sent again: its error is an
        :class:`AmbiguousCreateError` saying the meeting may exist.
        ``on_result(result)`` receives each item's result as soon as it is known and
        ``on_progress(done, total)`` follows it; ``on_start(index)`` is called just
        before an item is sent (e.g. to journal it).
        """
        return await create_meetings(
            self._session,
            requests,
            concurrency=concurrency,
            on_progress=on_progress,
            on_result=on_result,
            on_start=on_start,
        )


async def create_meetings(
    session: Transport,
    requests: Iterable[MeetingRequest],
    *,
    concurrency: int,
    on_progress: Progress | None,
    on_result: OnResult | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[BulkResult[Meeting]]:
    """The body of :meth:`Meetings.create_many`."""

    async def one(index: int, request: MeetingRequest) -> Meeting:
        if not isinstance(request, MeetingRequest):
            raise ValidationError(
                f"requests[{index}]",
                f"must be a lyra.MeetingRequest, got {type(request).__name__}",
            )
        body = meeting_body(
            request.title, request.start, request.attendees or None, prefix=f"requests[{index}]."
        )
        try:
            return await post_meeting(session, body)
        except LyraMaveraError as exc:
            if not is_ambiguous(exc):
                raise
            raise AmbiguousCreateError(
                f"lyra: requests[{index}] may have created a meeting ({exc}); Lyra offers "
                "no way to check, so it was not sent again",
                provider=PROVIDER,
                cause=exc,
            ) from exc

    return await run_bulk(
        requests,
        one,
        concurrency=concurrency,
        on_progress=on_progress,
        on_result=on_result,
        on_start=on_start,
    )


class Lyra:
    """``s.lyra``: the Lyra meetings API."""

    def __init__(self, session: Transport) -> None:
        self.auth = Auth(session)
        self.meetings = Meetings(session)

    def __repr__(self) -> str:
        return "<Lyra provider>"
