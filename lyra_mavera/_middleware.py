"""The request, the response, and the middleware chain every attempt runs through.

A middleware is ``async def mw(request, call_next) -> Response``: it may change the
request's headers before calling ``call_next(request)``, and look at (or replace) the
response after. One that only prepares the request may be a plain function that returns
``call_next(request)`` unawaited: it then adds no coroutine frame, and every suspension
of the request is resumed through one frame fewer (the built-ins are written so).

The chain runs once per *attempt*, so a middleware sees retries; a
fresh :class:`Request` is built for every attempt, so nothing is shared between
attempts or concurrent calls.
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from collections.abc import Awaitable, Sequence

import aiohttp

from ._config import ApiKey
from ._http import Handler, Middleware, Request, Response
from ._version import __version__

__all__ = [
    "BearerAuth",
    "Handler",
    "Middleware",
    "Request",
    "Response",
    "build_chain",
    "idempotency_key_middleware",
    "logging_middleware",
    "user_agent",
    "user_agent_middleware",
]

logger = logging.getLogger("lyra_mavera")

USER_AGENT = (
    f"lyra-mavera/{__version__} "
    f"{platform.python_implementation()}/{'.'.join(map(str, sys.version_info[:3]))} "
    f"aiohttp/{aiohttp.__version__}"
)


def build_chain(middlewares: Sequence[Middleware], transport: Handler) -> Handler:
    """Compose ``middlewares`` (outermost first) around ``transport``."""
    handler = transport
    for mw in reversed(middlewares):
        handler = _Bound(mw, handler)
    return handler


class _Bound:
    """A middleware bound to the rest of the chain. Not a coroutine function: calling it
    returns the middleware's own awaitable, so binding costs no frame."""

    __slots__ = ("mw", "nxt")

    def __init__(self, mw: Middleware, nxt: Handler) -> None:
        self.mw = mw
        self.nxt = nxt

    def __call__(self, request: Request) -> Awaitable[Response]:
        return self.mw(request, self.nxt)


def user_agent_middleware(request: Request, call_next: Handler) -> Awaitable[Response]:
    """Name the SDK, Python and aiohttp versions (providers use it to find old clients)."""
    request.headers.setdefault("User-Agent", USER_AGENT)
    return call_next(request)


def user_agent(app: tuple[str, str] | None) -> Middleware:
    """The User-Agent middleware; with ``app=(name, version)`` the application follows
    the SDK: ``lyra-mavera/1.2 name/version CPython/3.12 aiohttp/3.12``."""
    if app is None:
        return user_agent_middleware
    sdk, _, rest = USER_AGENT.partition(" ")
    value = f"{sdk} {app[0]}/{app[1]} {rest}"

    def app_user_agent(request: Request, call_next: Handler) -> Awaitable[Response]:
        request.headers.setdefault("User-Agent", value)
        return call_next(request)

    return app_user_agent


def idempotency_key_middleware(request: Request, call_next: Handler) -> Awaitable[Response]:
    """Send one ``Idempotency-Key`` per logical POST, the same on every attempt.

    Neither provider documents honouring it today; sending it costs nothing and lets
    any server (or proxy) that does deduplicate a retried create.
    """
    if request.method == "POST":
        request.headers.setdefault("Idempotency-Key", request.request_id)
    return call_next(request)


def logging_middleware(request: Request, call_next: Handler) -> Awaitable[Response]:
    """Log metadata only: method, path, status, attempt, elapsed, ids. Never headers,
    query strings or bodies."""
    if not logger.isEnabledFor(logging.DEBUG):
        return call_next(request)
    return _logged(request, call_next)


async def _logged(request: Request, call_next: Handler) -> Response:
    started = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception as exc:
        logger.debug(
            "%s %s %s -> %s attempt=%d elapsed=%.3fs id=%s",
            request.provider,
            request.method,
            request.path,
            type(exc).__name__,
            request.attempt,
            time.perf_counter() - started,
            request.request_id,
        )
        raise
    logger.debug(
        "%s %s %s -> %d attempt=%d elapsed=%.3fs id=%s server_request_id=%s",
        request.provider,
        request.method,
        request.path,
        response.status,
        request.attempt,
        response.elapsed,
        request.request_id,
        response.request_id,
    )
    return response


class BearerAuth:
    """``Authorization: Bearer <key>`` for one provider, as a middleware."""

    __slots__ = ("_header", "key")

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self._header = key.header()

    def __call__(self, request: Request, call_next: Handler) -> Awaitable[Response]:
        request.headers["Authorization"] = self._header
        return call_next(request)

    def __repr__(self) -> str:
        return f"BearerAuth({self.key!r})"
