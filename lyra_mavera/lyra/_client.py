"""The Lyra provider: ``s.lyra.auth`` and ``s.lyra.meetings``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._convert import format_datetime
from .._validate import check_aware_datetime, check_emails, check_text
from ._models import Identity, Meeting

if TYPE_CHECKING:
    from .._session import AsyncSession

__all__ = ["Auth", "Lyra", "Meetings", "meeting_body"]

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


class Auth:
    """``s.lyra.auth``."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def verify(self) -> Identity:
        """Check the key or token (``POST /auth``); an invalid one raises
        :class:`AuthenticationError`."""
        return await self._session.call(PROVIDER, "POST", "/auth", Identity)


class Meetings:
    """``s.lyra.meetings``."""

    def __init__(self, session: AsyncSession) -> None:
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
        return await self._session.call(PROVIDER, "POST", "/meeting", Meeting, json_body=body)


class Lyra:
    """``s.lyra``: the Lyra meetings API."""

    def __init__(self, session: AsyncSession) -> None:
        self.auth = Auth(session)
        self.meetings = Meetings(session)

    def __repr__(self) -> str:
        return "<Lyra provider>"
