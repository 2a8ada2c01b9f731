"""Per-request state of the fake server, shared by its middleware and handlers.

aiohttp runs a request's middlewares and handler in one task, so context variables
carry what the middleware learnt (which key, which fault) to the handler without
request storage keys (``web.RequestKey`` only exists from aiohttp 3.13 on).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from aiohttp import web

from ._wire import mavera_error

if TYPE_CHECKING:
    from ._bots import Bot
    from ._server import FakeServer

__all__ = ["FAKE", "bot_or_404", "key", "server_of", "stale"]

FAKE: web.AppKey[FakeServer] = web.AppKey("lyra_mavera.fake")
#: The API key of the request being handled.
key: ContextVar[str] = ContextVar("lyra_mavera_fake_key")
#: Whether to answer as a lagging replica (an older status).
stale: ContextVar[bool] = ContextVar("lyra_mavera_fake_stale", default=False)


def server_of(request: web.Request) -> FakeServer:
    """The FakeServer handling ``request``."""
    return request.app[FAKE]


def bot_or_404(request: web.Request) -> Bot | web.Response:
    """The bot named by the path, if the request's key owns it; else Mavera's 404."""
    bot = server_of(request).bots.get(request.match_info["id"])
    if bot is None or bot.key != key.get():
        return mavera_error(404, "resource_not_found", "Meeting not found", param="id")
    return bot
