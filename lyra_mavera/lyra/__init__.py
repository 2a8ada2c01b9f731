"""Lyra: create video meetings (``POST /meeting``) and verify keys (``POST /auth``)."""

from ._client import Auth, Lyra, Meetings
from ._models import Identity, Meeting, MeetingRequest

__all__ = ["Auth", "Identity", "Lyra", "Meeting", "MeetingRequest", "Meetings"]
