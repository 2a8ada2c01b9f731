"""Lyra's response models and the bulk request type."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs
import cattrs
from cattrs.gen import override

from .._convert import customize, dict_fn

__all__ = ["Identity", "Meeting", "MeetingRequest"]


@attrs.frozen
class Identity:
    """Who a key or OAuth token belongs to (``POST /auth``)."""

    valid: bool
    user_id: str
    org_id: str


@attrs.frozen
class Meeting:
    """A created Lyra meeting. ``password`` is ``""`` when none is needed (Lyra may omit
    it or send ``null``)."""

    type: str
    id: str
    password: str
    url: str

    @property
    def has_password(self) -> bool:
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


@customize
def _hooks(conv: cattrs.Converter) -> None:
    conv.register_structure_hook(
        Identity,
        dict_fn(Identity, conv, user_id=override(rename="userId"), org_id=override(rename="orgId")),
    )
    base = dict_fn(Meeting, conv)

    def meeting(data: Any, cls: type[Meeting]) -> Meeting:
        # Lyra's only example sends "", its production client allows it missing; treat
        # missing and null alike rather than failing a create that succeeded.
        if isinstance(data, dict) and data.get("password") is None:
            data = {**data, "password": ""}
        return base(data, cls)

    conv.register_structure_hook(Meeting, meeting)
