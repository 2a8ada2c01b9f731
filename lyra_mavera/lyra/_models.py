"""Lyra's response models and the bulk request type."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from .._convert import json_field

__all__ = ["Identity", "Meeting", "MeetingRequest"]


@attrs.frozen
class Identity:
    """Who a key or OAuth token belongs to (``POST /auth``)."""

    valid: bool
    user_id: str = json_field(name="userId")
    org_id: str = json_field(name="orgId")


@attrs.frozen
class Meeting:
    """A created Lyra meeting. ``password`` is ``""`` when none is needed (Lyra may omit
    it or send ``null``)."""

    type: str
    id: str
    #: Lyra's only example sends "", its production client allows it missing: missing
    #: and null read as "" rather than failing a create that succeeded.
    password: str = json_field(null_as="")
    url: str = json_field()

    @property
    def has_password(self) -> bool:
        """Whether joining the meeting needs a password (``password`` is not empty)."""
        return bool(self.password)


def _attendees(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen
class MeetingRequest:
    """One meeting for :meth:`Meetings.create_many`; same rules as ``create``."""

    title: str
    start: datetime | None = None
    attendees: tuple[str, ...] = attrs.field(default=(), converter=_attendees)
