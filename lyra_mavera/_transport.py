"""What providers, polling and bulk need of a session: one way to send a call and read
its answer into a model. :class:`~lyra_mavera.AsyncSession` is one; a test double or a
per-call view (``with_options``) can be another, so nothing below the session imports it.

May import the core's ``_http`` only (for types).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from ._http import Response

__all__ = ["Transport"]

T = TypeVar("T")


class Transport(Protocol):
    """Sends one logical API call (retries, limits, auth included)."""

    async def request(
        self,
        provider: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        context: dict[str, Any] | None = None,
    ) -> Response:
        """Send the call and return its 2xx response (non-2xx raises)."""
        ...

    async def call(
        self,
        provider: str,
        method: str,
        path: str,
        model: type[T],
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        context: dict[str, Any] | None = None,
    ) -> T:
        """:meth:`request`, then read the JSON body into ``model``."""
        ...
