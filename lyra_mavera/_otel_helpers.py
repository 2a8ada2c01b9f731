"""Spans around the helpers that make many calls: ``create_many`` (a span per run and
one per item), ``wait`` and ``wait_many`` (their polls are the calls' own spans,
children of these). Used by :mod:`lyra_mavera._otel` only, so nothing imports
OpenTelemetry unless tracing is on.

The helpers are wrapped per provider object (instance attributes shadow the methods),
so a session without tracing runs the plain methods. Only the names are relied on,
never the provider modules (the core may not import them).

May import nothing from the package.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextvars import Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Status, StatusCode

__all__ = ["instrument_provider"]

AsyncFn = Callable[..., Awaitable[Any]]


def instrument_provider(tracer: trace.Tracer, provider: Any, name: str) -> None:
    """Wrap ``provider.meetings``' helpers that exist (``lyra`` has ``create_many`` only)."""
    meetings = provider.meetings
    prefix = f"{name}.meetings"
    if hasattr(meetings, "create_many"):
        meetings.create_many = _create_many(tracer, meetings.create_many, prefix, name)
    if hasattr(meetings, "wait"):
        meetings.wait = _wait(tracer, meetings.wait, prefix)
    if hasattr(meetings, "wait_many"):
        meetings.wait_many = _wait_many(tracer, meetings.wait_many, prefix)


def _status_of(meeting: Any) -> str | None:
    status = getattr(meeting, "status", None)
    return None if status is None else str(status)


def _wait(tracer: trace.Tracer, wait: AsyncFn, prefix: str) -> AsyncFn:
    @functools.wraps(wait)
    async def traced(meeting_id: str, **kwargs: Any) -> Any:
        attributes = {"lyra_mavera.provider": "mavera", "lyra_mavera.meeting_id": meeting_id}
        with tracer.start_as_current_span(f"{prefix}.wait", attributes=attributes) as span:
            user = kwargs.pop("on_status", None)

            def on_status(meeting: Any) -> Any:
                status = _status_of(meeting)
                if status is not None:
                    span.add_event("bot status", {"lyra_mavera.bot.status": status})
                    span.set_attribute("lyra_mavera.bot.status", status)
                return None if user is None else user(meeting)

            try:
                return await wait(meeting_id, on_status=on_status, **kwargs)
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise

    return traced


def _wait_many(tracer: trace.Tracer, wait_many: AsyncFn, prefix: str) -> AsyncFn:
    @functools.wraps(wait_many)
    async def traced(meeting_ids: Any, **kwargs: Any) -> Any:
        with tracer.start_as_current_span(
            f"{prefix}.wait_many", attributes={"lyra_mavera.provider": "mavera"}
        ) as span:
            results: dict[str, Any] = await wait_many(meeting_ids, **kwargs)
            failed = sum(isinstance(v, BaseException) for v in results.values())
            span.set_attributes(
                {
                    "lyra_mavera.bots": len(results),
                    "lyra_mavera.bots.done": len(results) - failed,
                    "lyra_mavera.bots.failed": failed,
                }
            )
            return results

    return traced


def _create_many(tracer: trace.Tracer, create_many: AsyncFn, prefix: str, provider: str) -> AsyncFn:
    @functools.wraps(create_many)
    async def traced(requests: Any, **kwargs: Any) -> Any:
        base = {"lyra_mavera.provider": provider}
        with tracer.start_as_current_span(f"{prefix}.create_many", attributes=base) as span:
            items = _Items(tracer, f"{prefix}.create_many.item", base)
            kwargs["on_start"] = items.starter(kwargs.get("on_start"))
            kwargs["on_result"] = items.finisher(kwargs.get("on_result"))
            try:
                results: list[Any] = await create_many(requests, **kwargs)
            finally:
                items.close()
            failed = sum(not r.ok for r in results)
            span.set_attributes(
                {"lyra_mavera.items": len(results), "lyra_mavera.items.failed": failed}
            )
            return results

    return traced


class _Items:
    """One span per bulk item, current from just before it is sent until its result is
    known: a bulk worker runs ``on_start(index)``, the item, then ``on_result`` in one
    task, so the item's calls become its children."""

    def __init__(self, tracer: trace.Tracer, name: str, attributes: dict[str, Any]) -> None:
        self.tracer = tracer
        self.name = name
        self.attributes = attributes
        self.open: dict[int, tuple[trace.Span, Token[Context]]] = {}

    def starter(self, user: Callable[[int], None] | None) -> Callable[[int], None]:
        def on_start(index: int) -> None:
            span = self.tracer.start_span(
                self.name, attributes={**self.attributes, "lyra_mavera.index": index}
            )
            token = otel_context.attach(trace.set_span_in_context(span))
            self.open[index] = (span, token)
            if user is not None:
                user(index)

        return on_start

    def finisher(self, user: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
        def on_result(result: Any) -> Any:
            entry = self.open.pop(result.index, None)
            if entry is not None:
                span, token = entry
                span.set_attribute("lyra_mavera.ok", bool(result.ok))
                if not result.ok:
                    span.set_attribute("error.type", type(result.error).__qualname__)
                    span.set_status(Status(StatusCode.ERROR, str(result.error)))
                otel_context.detach(token)
                span.end()
            return None if user is None else user(result)

        return on_result

    def close(self) -> None:
        """End the spans of items a cancelled run left (their tasks are gone)."""
        for span, _ in self.open.values():
            span.set_status(Status(StatusCode.ERROR, "the run ended before this item did"))
            span.end()
        self.open.clear()
