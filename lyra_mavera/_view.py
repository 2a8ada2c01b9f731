"""``s.with_options(...)``: a session with other per-call options for some calls.

May import the core (``_http``, ``_options``, ``_pipeline``, ``_responses``, ``_retry``),
``lyra/`` and ``mavera/``; it reaches the session only through :class:`Sender`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from ._http import Response
from ._options import CallOptions
from ._pipeline import Send
from ._responses import read_model
from ._retry import RetryPolicy
from .lyra._client import Lyra
from .mavera._client import Mavera

__all__ = ["SessionView"]

T = TypeVar("T")
P = TypeVar("P")


class Sender(Protocol):
    """The session's send path with explicit options."""

    _send: Send

    def _instrument(self, provider: P, name: str) -> P:
        """``provider`` as the session sets providers up (spans when tracing is on)."""
        ...


class SessionView:
    """What :meth:`AsyncSession.with_options` returns: the same session with other
    per-call options. It owns nothing; closing the session ends it too."""

    __slots__ = ("_lyra", "_mavera", "_options", "_session")

    def __init__(self, session: Sender, options: CallOptions) -> None:
        self._session = session
        self._options = options
        self._lyra: Lyra | None = None
        self._mavera: Mavera | None = None

    @property
    def options(self) -> CallOptions:
        """The options calls through this view use."""
        return self._options

    @property
    def lyra(self) -> Lyra:
        """The Lyra API, with this view's options."""
        if self._lyra is None:
            self._lyra = self._session._instrument(Lyra(self), "lyra")
        return self._lyra

    @property
    def mavera(self) -> Mavera:
        """The Mavera API, with this view's options."""
        if self._mavera is None:
            self._mavera = self._session._instrument(Mavera(self), "mavera")
        return self._mavera

    def with_options(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SessionView:
        """This view with more options changed."""
        return SessionView(
            self._session,
            self._options.merged(retry=retry, timeout=timeout, deadline=deadline, headers=headers),
        )

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
        """:meth:`AsyncSession.request` with this view's options."""
        return await self._session._send(
            self._options, provider, method, path, json_body, params, context
        )

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
        """:meth:`AsyncSession.call` with this view's options."""
        response = await self.request(
            provider, method, path, json_body=json_body, params=params, context=context
        )
        return read_model(response, model)

    def __repr__(self) -> str:
        return f"<SessionView of {self._session!r} with {self._options!r}>"
