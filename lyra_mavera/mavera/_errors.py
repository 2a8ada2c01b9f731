"""Mavera's own errors: a bot that failed, a wait that ran out. Both carry the last
meeting seen and are re-exported from ``lyra_mavera``."""

from __future__ import annotations

from .._errors import LyraMaveraError
from ._models import Meeting

__all__ = ["BotFailedError", "WaitTimeoutError"]


class BotFailedError(LyraMaveraError):
    """A Mavera bot ended in a failure status; ``meeting`` is the last state seen."""

    def __init__(self, message: str, *, meeting: Meeting) -> None:
        super().__init__(message)
        self.meeting = meeting


class WaitTimeoutError(LyraMaveraError, TimeoutError):
    """Waiting for a bot ran past its deadline; ``meeting`` is the last state seen
    (``None`` if no poll ever succeeded)."""

    def __init__(self, message: str, *, meeting: Meeting | None) -> None:
        super().__init__(message)
        self.meeting = meeting
