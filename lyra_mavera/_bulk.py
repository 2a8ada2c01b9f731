"""The outcome of one item of a bulk run."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs

from ._errors import LyraMaveraError

__all__ = ["BulkResult"]

T = TypeVar("T")


@attrs.frozen
class BulkResult(Generic[T]):
    """Item ``index`` of a bulk run: its ``request`` and either its ``value`` or its
    ``error`` (exactly one of them is set)."""

    index: int
    request: Any
    value: T | None = None
    error: LyraMaveraError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
