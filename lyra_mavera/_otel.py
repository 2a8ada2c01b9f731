"""OpenTelemetry tracing, opt-in: ``AsyncSession(tracing=True)`` (the global tracer
provider) or ``tracing=provider``. Needs the ``otel`` extra; nothing here is imported
unless tracing is asked for, so a session without it pays nothing.

What is traced:

- every logical call: one ``INTERNAL`` span named ``{provider}.{endpoint}``
  (``mavera.meetings.get``) with the provider, endpoint, method, path, attempts,
  retries, 429s met, seconds waited for the rate limiter, the final status, both
  request ids, and for a Mavera meeting its bot status;
- every attempt: a ``CLIENT`` child span ``{METHOD} {route}`` with the HTTP semantic
  conventions' attributes (``http.request.method``, ``url.full``, ``server.address``,
  ``http.request.resend_count``, ``http.response.status_code``, ``error.type``) and
  its rate-limit wait, whose context goes out in the request's ``traceparent``;
- the helpers (see :mod:`lyra_mavera._otel_helpers`): ``create_many`` with a span per
  item, ``wait`` and ``wait_many`` around their polls.

Never recorded: headers (the API key is one), bodies, query strings.

May import the core's ``_http``, ``_otel_helpers``, ``_pipeline`` and ``_version``.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._http import Handler, Request, Response
from ._otel_helpers import instrument_provider
from ._pipeline import Send
from ._version import __version__

__all__ = ["Tracing", "endpoint_of"]

#: (provider, method, path pattern, endpoint, route): the calls the SDK wraps.
_ENDPOINTS = [
    ("lyra", "POST", r"/auth", "auth.verify", "/auth"),
    ("lyra", "POST", r"/meeting", "meetings.create", "/meeting"),
    ("mavera", "POST", r"/meetings", "meetings.create", "/meetings"),
    ("mavera", "GET", r"/meetings", "meetings.list", "/meetings"),
    ("mavera", "GET", r"/meetings/[^/]+", "meetings.get", "/meetings/{id}"),
    ("mavera", "POST", r"/meetings/[^/]+/cancel", "meetings.cancel", "/meetings/{id}/cancel"),
    (
        "mavera",
        "GET",
        r"/meetings/[^/]+/transcript",
        "meetings.transcript",
        "/meetings/{id}/transcript",
    ),
    ("mavera", "GET", r"/meetings/[^/]+/analysis", "meetings.analysis", "/meetings/{id}/analysis"),
    (
        "mavera",
        "POST",
        r"/meetings/[^/]+/schemas/[^/]+/run",
        "meetings.run_schema",
        "/meetings/{id}/schemas/{schemaId}/run",
    ),
    ("mavera", "GET", r"/workspaces", "workspaces.list", "/workspaces"),
    ("mavera", "GET", r"/workspaces/[^/]+", "workspaces.get", "/workspaces/{id}"),
    ("mavera", "GET", r"/usage", "usage.get", "/usage"),
]
_COMPILED = [(p, m, re.compile(pattern + r"\Z"), e, r) for p, m, pattern, e, r in _ENDPOINTS]
#: Endpoints that answer with a Mavera meeting: their spans carry its bot status.
_MEETING_ENDPOINTS = frozenset({"meetings.create", "meetings.get", "meetings.cancel"})


@functools.lru_cache(maxsize=1024)
def endpoint_of(provider: str, method: str, path: str) -> tuple[str, str]:
    """``(endpoint, route)`` of a call: ``("meetings.get", "/meetings/{id}")``; a path the
    SDK does not wrap (``s.request(...)``) is ``("request", "")`` -- span names stay few."""
    for p, m, pattern, endpoint, route in _COMPILED:
        if p == provider and m == method and pattern.match(path):
            return endpoint, route
    return "request", ""


@attrs.define
class _Call:
    """What the attempts of one logical call tell its span."""

    attempts: int = 0
    rate_limited: int = 0
    waited: float = 0.0


@attrs.define
class _Attempt:
    """When one attempt entered and left the rate limiter."""

    limiter_in: float | None = None
    limiter_out: float | None = None

    def waited(self) -> float:
        if self.limiter_in is None:
            return 0.0
        end = self.limiter_out if self.limiter_out is not None else time.perf_counter()
        return end - self.limiter_in


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("lm_call", default=None)
_ATTEMPT: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "lm_attempt", default=None
)


def _bot_status(response: Response) -> str | None:
    try:
        data = json.loads(response.body)
    except ValueError:
        return None
    status = data.get("status") if isinstance(data, dict) else None
    return status if isinstance(status, str) else None


class Tracing:
    """The spans of one session: a wrapper around its send, two chain pieces around the
    rate limiter, one outermost chain piece per attempt, and the helpers' spans."""

    def __init__(self, source: Any) -> None:
        """``source``: ``True`` for the global tracer provider, or a tracer provider."""
        provider = trace.get_tracer_provider() if source is True else source
        self.tracer = provider.get_tracer("lyra_mavera", __version__)

    # -- logical calls -------------------------------------------------------------

    def wrap_send(self, send: Send) -> Send:
        """``send`` inside one span per logical call."""
        tracer = self.tracer

        async def traced_send(
            options: Any,
            provider: str,
            method: str,
            path: str,
            json_body: Any,
            params: Mapping[str, str] | None,
            context: dict[str, Any] | None,
        ) -> Response:
            endpoint = (context or {}).get("endpoint") or endpoint_of(provider, method, path)[0]
            call = _Call()
            token = _CALL.set(call)
            attributes = {
                "lyra_mavera.provider": provider,
                "lyra_mavera.endpoint": endpoint,
                "http.request.method": method,
                "lyra_mavera.path": path,
            }
            try:
                with tracer.start_as_current_span(
                    f"{provider}.{endpoint}", attributes=attributes
                ) as span:
                    try:
                        response = await send(
                            options, provider, method, path, json_body, params, context
                        )
                    except BaseException as exc:
                        span.set_attribute("error.type", type(exc).__qualname__)
                        status = getattr(exc, "status", None)
                        if isinstance(status, int):
                            span.set_attribute("http.response.status_code", status)
                        raise
                    finally:
                        span.set_attributes(
                            {
                                "lyra_mavera.attempts": call.attempts,
                                "lyra_mavera.retries": max(call.attempts - 1, 0),
                                "lyra_mavera.rate_limited": call.rate_limited,
                                "lyra_mavera.rate_limit.wait_seconds": call.waited,
                            }
                        )
                    _describe(span, response, endpoint)
                    return response
            finally:
                _CALL.reset(token)

        return traced_send

    # -- attempts --------------------------------------------------------------------

    async def attempt(self, request: Request, call_next: Handler) -> Response:
        """The outermost chain piece: one CLIENT span per attempt, its context sent in
        ``traceparent``."""
        route = endpoint_of(request.provider, request.method, request.path)[1]
        url = urlsplit(request.url)
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "url.full": request.url,
            "server.address": url.hostname or "",
            "lyra_mavera.provider": request.provider,
            "lyra_mavera.attempt": request.attempt,
        }
        if url.port is not None:
            attributes["server.port"] = url.port
        if route:
            attributes["url.template"] = route
        if request.attempt > 1:
            attributes["http.request.resend_count"] = request.attempt - 1
        call = _CALL.get()
        timing = _Attempt()
        token = _ATTEMPT.set(timing)
        name = f"{request.method} {route}" if route else request.method
        try:
            with self.tracer.start_as_current_span(
                name, kind=SpanKind.CLIENT, attributes=attributes
            ) as span:
                propagate.inject(request.headers)
                try:
                    response = await call_next(request)
                except BaseException as exc:
                    span.set_attribute("error.type", type(exc).__qualname__)
                    raise
                finally:
                    waited = timing.waited()
                    span.set_attribute("lyra_mavera.rate_limit.wait_seconds", waited)
                    if call is not None:
                        call.attempts = request.attempt
                        call.waited += waited
                span.set_attribute("http.response.status_code", response.status)
                if response.status >= 400:
                    span.set_attribute("error.type", str(response.status))
                    span.set_status(Status(StatusCode.ERROR))
                if call is not None and response.status == 429:
                    call.rate_limited += 1
                return response
        finally:
            _ATTEMPT.reset(token)

    @staticmethod
    def limiter_in(request: Request, call_next: Handler) -> Any:
        """Just before the rate limiter: start timing its wait."""
        timing = _ATTEMPT.get()
        if timing is not None:
            timing.limiter_in = time.perf_counter()
        return call_next(request)

    @staticmethod
    def limiter_out(request: Request, call_next: Handler) -> Any:
        """Just after the rate limiter let the attempt through."""
        timing = _ATTEMPT.get()
        if timing is not None:
            timing.limiter_out = time.perf_counter()
        return call_next(request)

    # -- helpers ---------------------------------------------------------------------

    def instrument(self, provider: Any, name: str) -> None:
        """Give ``provider``'s helpers (``create_many``, ``wait``, ``wait_many``) spans."""
        instrument_provider(self.tracer, provider, name)


def _describe(span: Any, response: Response, endpoint: str) -> None:
    span.set_attribute("http.response.status_code", response.status)
    span.set_attribute("lyra_mavera.request_id", response.request.request_id)
    server_id = response.request_id
    if server_id is not None:
        span.set_attribute("lyra_mavera.server_request_id", server_id)
    if (
        response.request.provider == "mavera"
        and endpoint in _MEETING_ENDPOINTS
        and span.is_recording()  # reading the body again is worth it only then
    ):
        status = _bot_status(response)
        if status is not None:
            span.set_attribute("lyra_mavera.bot.status", status)
