"""Per-request state of the fake server, shared by its middleware and handlers.

aiohttp runs a request's middlewares and handler in one task, so context variables
carry what the middleware learnt (which key, which fault) to the handler without
request storage keys (``web.RequestKey`` only exists from aiohttp 3.13 on).
"""

from __future__ import annotations

import collections
from contextvars import ContextVar
from typing import Any, Protocol

from aiohttp import web

from ._bots import Bot, BotScript, BotStore
from ._clock import FakeClock
from ._records import KeyInfo, RecordedRequest
from ._wire import mavera_error

__all__ = ["FAKE", "Fake", "bot_or_404", "key", "server_of", "stale"]


class Fake(Protocol):
    """What the route handlers use of the :class:`FakeServer` serving them (so they
    need not import it)."""

    bots: BotStore
    clock: FakeClock
    counters: collections.Counter[str]
    default_workspace: str
    lyra_meetings: dict[str, dict[str, Any]]
    workspaces: dict[str, dict[str, Any]]
    oauth_apps: dict[str, Any]
    oauth_client_id: str
    oauth_codes: dict[str, Any]
    oauth_refresh: dict[str, Any]
    oauth_revoked: set[str]
    oauth_rotate_refresh_tokens: bool
    oauth_send_refresh_token: bool
    oauth_token_ttl: float
    requests: list[RecordedRequest]

    def add_key(
        self,
        provider: str,
        key: str | None = ...,
        *,
        rpm: int | None = ...,
        window: float | None = ...,
        scopes: frozenset[str] | None = ...,
        expires_at: float | None = ...,
    ) -> str: ...
    def remember_secret(self, value: str) -> str: ...
    def key_info(self, key: str) -> KeyInfo: ...
    def script_for(self, meeting_url: str) -> BotScript: ...


FAKE: web.AppKey[Fake] = web.AppKey("lyra_mavera.fake")
#: The API key of the request being handled.
key: ContextVar[str] = ContextVar("lyra_mavera_fake_key")
#: Whether to answer as a lagging replica (an older status).
stale: ContextVar[bool] = ContextVar("lyra_mavera_fake_stale", default=False)


def server_of(request: web.Request) -> Fake:
    """The FakeServer handling ``request``."""
    return request.app[FAKE]


def bot_or_404(request: web.Request) -> Bot | web.Response:
    """The bot named by the path, if the request's key owns it; else Mavera's 404."""
    bot = server_of(request).bots.get(request.match_info["id"])
    if bot is None or bot.key != key.get():
        return mavera_error(404, "resource_not_found", "Meeting not found", param="id")
    return bot
