"""Applying an injected :class:`~lyra_mavera.testing.Fault` to one request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import _current as current
from ._faults import Fault
from ._wire import lyra_error, mavera_error

__all__ = ["apply_fault"]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_FAULT_CODES = {429: "rate_limit_exceeded", 503: "service_unavailable", 500: "internal_error"}


async def apply_fault(
    fault: Fault | None, request: web.Request, handler: Handler, provider: str
) -> web.StreamResponse:
    if fault is None:
        return await handler(request)
    kind = fault.kind
    if kind == "status":
        status = fault.status or 500
        headers = (
            {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
        )
        if provider == "lyra":
            return lyra_error(status, "Injected failure", headers=headers)
        fallback = "internal_error" if status >= 500 else "invalid_request"
        code = _FAULT_CODES.get(status, fallback)
        return mavera_error(status, code, "Injected failure", headers=headers)
    if kind == "html":
        page = (
            "<html><head><title>502 Bad Gateway</title></head>"
            "<body><h1>502 Bad Gateway</h1></body></html>"
        )
        return web.Response(text=page, status=fault.status or 502, content_type="text/html")
    if kind == "drop_before":
        _drop(request)
        return web.Response(status=500)
    if kind == "latency":
        await asyncio.sleep(fault.delay)
    elif kind == "stale":
        current.stale.set(True)
    response = await handler(request)
    if kind == "drop":
        _drop(request)
    elif kind == "truncate" and isinstance(response, web.Response) and response.body:
        raw = bytes(response.body)  # type: ignore[arg-type]
        return web.Response(
            body=raw[: len(raw) // 2], status=response.status, content_type="application/json"
        )
    elif kind == "non_json":
        return web.Response(text="OK", status=fault.status or 200, content_type="text/plain")
    return response


def _drop(request: web.Request) -> None:
    """Close the connection so the response is never written."""
    transport = request.transport
    if transport is not None:
        transport.close()
