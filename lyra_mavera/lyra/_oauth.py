"""``lyra.OAuth``: a user's tokens as the Lyra auth of a session, refreshed shortly
before expiry and after a 401, one refresh at a time shared by every waiting call."""

from __future__ import annotations

import asyncio
import copy
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .._errors import (
    APIConnectionError,
    LyraMaveraError,
    ValidationError,
)
from .._middleware import Handler, Request, Response
from ._oauth_client import OAuthClient
from ._tokens import OAuthToken, ReauthorizationRequired

__all__ = ["OAuth"]


OnToken = Callable[[OAuthToken], Awaitable[Any] | Any]


def _retrieve(task: asyncio.Task[None]) -> None:
    # A refresh whose waiters were all cancelled: its outcome is not an error to log.
    if not task.cancelled():
        task.exception()


class OAuth:
    """OAuth credentials for ``AsyncSession(lyra_oauth=...)``, used as its Lyra auth.

    The token is refreshed shortly (``leeway`` seconds) before it expires and once after
    a 401. One refresh runs at a time, however many sessions and concurrent calls share
    this object: every call that needs it waits for that refresh and gets its outcome,
    success or failure. A transient failure (a 5xx, an unreachable token endpoint, an
    answer that does not fit) fails only the calls that waited for it, and the next call
    tries again; an unreachable token endpoint is an :class:`APIConnectionError` with
    ``sent=False``, since the Lyra request itself was not carried out. ``invalid_grant``
    is final: that refresh's calls and every later one raise
    :class:`ReauthorizationRequired` at once, sending nothing, until :meth:`set_token`
    gives a new token (the user signed in again).

    ``on_token(token)`` (plain or async) receives every new token this object obtains by
    refreshing, once each and one at a time, so it can be stored (Lyra may rotate refresh
    tokens: the stored one then stops working). Tokens you give it (here or through
    :meth:`set_token`) are not passed to it. If it raises, the new token is still used
    (the old refresh token may already be spent) and its exception is raised to the
    calls that waited for that refresh.

    Token requests use a short-lived HTTP connection of their own, never a session's:
    closing one session leaves the others sharing this object working. ``clock`` (Unix
    seconds) is for tests; it also dates the tokens this object receives.
    """

    def __init__(
        self,
        client: OAuthClient,
        token: OAuthToken,
        *,
        on_token: OnToken | None = None,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(client, OAuthClient):
            raise ValidationError("client", "must be a lyra.OAuthClient")
        if not isinstance(token, OAuthToken):
            raise ValidationError("token", "must be a lyra.OAuthToken (see OAuthToken.from_dict)")
        self.client = client
        self._token = token
        self._generation = 0  # +1 with every new token
        self._on_token = on_token
        self.leeway = leeway
        self._clock = clock
        self._refreshing: asyncio.Task[None] | None = None
        self._refreshing_generation = -1
        self._refused: ReauthorizationRequired | None = None
        #: How many refreshes this object has made.
        self.refreshes = 0

    @property
    def token(self) -> OAuthToken:
        """The token in use: the latest refreshed or given one."""
        return self._token

    def set_token(self, token: OAuthToken) -> None:
        """Use ``token`` from now on, typically the user's new sign-in
        (:meth:`OAuthClient.exchange`) after :class:`ReauthorizationRequired`: calls work
        again. Calls waiting for a refresh still in flight go on with this token,
        whatever that refresh's outcome, and it does not replace this token.
        ``on_token`` is not called: store ``token`` yourself."""
        if not isinstance(token, OAuthToken):
            raise ValidationError("token", "must be a lyra.OAuthToken (see OAuthToken.from_dict)")
        self._token = token
        self._generation += 1
        self._refused = None

    def __repr__(self) -> str:
        return f"OAuth({self.client!r}, token={self._token!r})"

    async def _fresh_token(self, generation: int) -> tuple[OAuthToken, int]:
        """The token that follows the one of ``generation``: already there, or from the
        one refresh in flight, started here if there is none. Its failure is raised
        here as this caller's own copy."""
        if self._refused is not None:
            raise copy.copy(self._refused)
        if generation == self._generation:
            task = self._refreshing
            loop = asyncio.get_running_loop()
            if (
                task is None
                or task.done()
                or task.get_loop() is not loop
                or self._refreshing_generation != generation
            ):
                task = loop.create_task(self._refresh(self._token, generation))
                task.add_done_callback(_retrieve)
                self._refreshing, self._refreshing_generation = task, generation
            try:
                await asyncio.shield(task)
            except LyraMaveraError as exc:
                if generation != self._generation and self._refused is None:
                    return self._token, self._generation  # set_token() came meanwhile
                mine = copy.copy(exc)
                if isinstance(mine, APIConnectionError):
                    mine.sent = False  # the Lyra request was not sent, or refused with a 401
                raise mine from exc.__cause__
        return self._token, self._generation

    async def _refresh(self, used: OAuthToken, generation: int) -> None:
        """The one refresh in flight, shared by every caller through its task."""
        try:
            try:
                fresh = await self.client._refresh(used, None, self._clock)
            except ReauthorizationRequired as exc:
                if generation == self._generation:  # not if set_token() came meanwhile
                    self._refused = copy.copy(exc)
                raise
            if generation != self._generation:
                return  # set_token() gave another token meanwhile: it wins
            self._token = fresh
            self._generation += 1
            self.refreshes += 1
            if self._on_token is not None:
                stored = self._on_token(fresh)
                if inspect.isawaitable(stored):
                    await stored
        finally:
            if self._refreshing is asyncio.current_task():
                self._refreshing = None

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        if self._refused is not None:
            raise copy.copy(self._refused)
        token, generation = self._token, self._generation
        if token.refresh_token and token.expires_within(self.leeway, self._clock()):
            token, generation = await self._fresh_token(generation)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = await call_next(request)
        if response.status != 401:
            return response
        if generation == self._generation and not token.refresh_token:
            return response  # nothing to refresh with: the 401 stands
        # Expired or revoked early: refresh once and try again (a 401 was not processed).
        token, _ = await self._fresh_token(generation)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        return await call_next(request)
