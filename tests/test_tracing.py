"""OpenTelemetry, opt-in: a span per logical call with a CLIENT child per attempt whose
context goes out as `traceparent`, spans around create_many (one per item), wait and
wait_many; nothing of OpenTelemetry imported when tracing is off or absent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import lyra_mavera as lm
from lyra_mavera.testing import FakeServer
from tests.conftest import assert_no_secret

LINK = "https://zoom.us/j/123456789"
FAST = lm.PollPolicy(time_scale=1e6)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    yield memory
    memory.clear()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async with FakeServer(time_scale=1e-6) as server:
        yield server


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def test_a_call_and_its_attempt(
    fake: FakeServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """One call is an INTERNAL span named after the endpoint, with a CLIENT attempt child
    whose context the server receives as traceparent."""
    async with fake.session(tracing=provider) as s:
        bot = await s.mavera.meetings.create(LINK)
        await s.mavera.meetings.get(bot.id)
    spans = exporter.get_finished_spans()
    (call,) = named(spans, "mavera.meetings.get")
    assert call.kind is SpanKind.INTERNAL
    attrs = dict(call.attributes or {})
    assert attrs["lyra_mavera.provider"] == "mavera"
    assert attrs["lyra_mavera.endpoint"] == "meetings.get"
    assert (attrs["lyra_mavera.attempts"], attrs["lyra_mavera.retries"]) == (1, 0)
    assert attrs["http.response.status_code"] == 200
    assert attrs["lyra_mavera.bot.status"] == "pending"
    assert attrs["lyra_mavera.server_request_id"].startswith("req_")
    assert "lyra_mavera.rate_limit.wait_seconds" in attrs
    (attempt,) = children(spans, call)
    assert attempt.name == "GET /meetings/{id}" and attempt.kind is SpanKind.CLIENT
    a = dict(attempt.attributes or {})
    assert a["url.full"] == f"{fake.mavera_base_url}/meetings/{bot.id}"
    assert a["server.address"] == "127.0.0.1" and a["http.response.status_code"] == 200
    sent = fake.requests[-1].headers["traceparent"]
    assert sent.startswith(f"00-{attempt.context.trace_id:032x}-{attempt.context.span_id:016x}-")


async def test_retries_are_attempt_spans(
    fake: FakeServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A retried call has one attempt span per try (resend_count on the second) and says
    how many attempts it took."""
    fake.inject("status", 1.0, status=503, route="GET /usage", times=1)
    async with fake.session(tracing=provider) as s:
        await s.mavera.usage.get()
    spans = exporter.get_finished_spans()
    (call,) = named(spans, "mavera.usage.get")
    assert (call.attributes or {})["lyra_mavera.attempts"] == 2
    assert (call.attributes or {})["lyra_mavera.retries"] == 1
    first, second = sorted(children(spans, call), key=lambda s: s.start_time or 0)
    assert first.status.status_code is StatusCode.ERROR
    assert (first.attributes or {})["http.response.status_code"] == 503
    assert "http.request.resend_count" not in (first.attributes or {})
    assert (second.attributes or {})["http.request.resend_count"] == 1
    traceparents = {r.headers["traceparent"] for r in fake.requests}
    assert len(traceparents) == 2  # each attempt sends its own span's context


async def test_failures_and_rate_limits_are_recorded(
    fake: FakeServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A call that fails ends in an ERROR span naming the error class and status; a 429
    met on the way is counted."""
    fake.inject("status", 1.0, status=429, retry_after=0, route="GET /meetings/{id}", times=1)
    async with fake.session(tracing=provider) as s:
        with pytest.raises(lm.NotFoundError):
            await s.mavera.meetings.get("nope")
    (call,) = named(exporter.get_finished_spans(), "mavera.meetings.get")
    attrs = dict(call.attributes or {})
    assert call.status.status_code is StatusCode.ERROR
    assert attrs["error.type"] == "NotFoundError" and attrs["http.response.status_code"] == 404
    assert (attrs["lyra_mavera.rate_limited"], attrs["lyra_mavera.attempts"]) == (1, 2)


async def test_wait_spans_its_polls(
    fake: FakeServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """wait() is one span over its polls, with each bot status as an event and the last
    as an attribute."""
    async with fake.session(tracing=provider) as s:
        bot = await s.mavera.meetings.create(LINK)
        fake.clock.advance(600)
        seen: list[str] = []
        await s.mavera.meetings.wait(bot.id, poll=FAST, on_status=lambda m: seen.append(m.status))
    spans = exporter.get_finished_spans()
    (wait,) = named(spans, "mavera.meetings.wait")
    assert (wait.attributes or {})["lyra_mavera.bot.status"] == "done"
    assert [e.attributes["lyra_mavera.bot.status"] for e in wait.events if e.attributes] == seen
    polls = children(spans, wait)
    assert polls and {p.name for p in polls} == {"mavera.meetings.get"}


async def test_bulk_runs_span_each_item(
    fake: FakeServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """create_many is a span with one child per item; each item's create is its child; a
    bad item's span is an error. The caller's own callbacks still run."""
    requests = [lm.mavera.BotRequest(f"https://zoom.us/j/8500000{i}") for i in range(3)]
    requests.append(lm.mavera.BotRequest("https://evil.example/j/1"))
    started: list[int] = []
    async with fake.session(tracing=provider) as s:
        results = await s.mavera.meetings.create_many(requests, on_start=started.append)
        await s.lyra.meetings.create_many([lm.lyra.MeetingRequest("Kickoff")])
    spans = exporter.get_finished_spans()
    (run,) = named(spans, "mavera.meetings.create_many")
    assert (run.attributes or {})["lyra_mavera.items"] == 4
    assert (run.attributes or {})["lyra_mavera.items.failed"] == 1
    items = sorted(
        children(spans, run), key=lambda s: (s.attributes or {}).get("lyra_mavera.index", -1)
    )
    items = [i for i in items if i.name == "mavera.meetings.create_many.item"]
    assert [(i.attributes or {})["lyra_mavera.index"] for i in items] == [0, 1, 2, 3]
    for item, result in zip(items, results, strict=True):
        creates = [c.name for c in children(spans, item)]
        assert creates == (["mavera.meetings.create"] if result.ok else [])
        assert (item.status.status_code is StatusCode.ERROR) is (not result.ok)
    assert sorted(started) == [0, 1, 2, 3]
    (lyra_run,) = named(spans, "lyra.meetings.create_many")
    (lyra_item,) = children(spans, lyra_run)
    assert [c.name for c in children(spans, lyra_item)] == ["lyra.meetings.create"]


async def test_wait_many_and_views_are_traced(
    fake: FakeServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """wait_many is one span over its polls, and calls through with_options views are
    traced like any other."""
    async with fake.session(tracing=provider) as s:
        view = s.with_options(timeout=5)
        bots = [
            await view.mavera.meetings.create(f"https://zoom.us/j/8600000{i}") for i in range(2)
        ]
        fake.clock.advance(600)
        await view.mavera.meetings.wait_many([b.id for b in bots], poll=FAST)
    spans = exporter.get_finished_spans()
    assert len(named(spans, "mavera.meetings.create")) == 2
    (run,) = named(spans, "mavera.meetings.wait_many")
    assert (run.attributes or {})["lyra_mavera.bots.done"] == 2
    assert children(spans, run)


async def test_spans_never_carry_the_key(
    fake: FakeServer, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """No span attribute, event or name holds a key or an Authorization header."""
    async with fake.session(tracing=provider) as s:
        await s.lyra.auth.verify()
        with pytest.raises(lm.APIStatusError):
            await s.mavera.meetings.get("missing")
    texts: list[str] = []
    for span in exporter.get_finished_spans():
        texts.append(span.name)
        texts += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            texts += [f"{k}={v}" for k, v in (event.attributes or {}).items()]
    assert texts
    for text in texts:
        assert_no_secret(text)
        assert fake.mavera_api_key not in text and fake.lyra_api_key not in text
        assert "Bearer" not in text and "authorization" not in text.lower()


def test_tracing_argument_is_checked() -> None:
    """tracing= takes True, False or a tracer provider."""
    with pytest.raises(lm.ConfigurationError, match="TracerProvider"):
        lm.AsyncSession(tracing="yes")  # type: ignore[arg-type]


def _run(*parts: str) -> subprocess.CompletedProcess[str]:
    code = "\n".join(textwrap.dedent(part) for part in parts)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


_CALL = """
    import asyncio, sys
    import lyra_mavera as lm
    from lyra_mavera.testing import FakeServer

    async def main():
        async with FakeServer() as fake, fake.session() as s:
            return await s.mavera.usage.get()

    assert asyncio.run(main()).object == "usage"
"""
_NOTHING_IMPORTED = """
    assert not [m for m in sys.modules if m.startswith("opentelemetry")], "imported"
"""
_BLOCK = """
    import sys
    for name in ("opentelemetry", "opentelemetry.trace", "opentelemetry.propagate"):
        sys.modules[name] = None  # as if the package were not installed
"""
_TRACING_REFUSED = """
    try:
        lm.AsyncSession(tracing=True)
    except lm.ConfigurationError as exc:
        assert "lyra-mavera[otel]" in str(exc), exc
    else:
        raise AssertionError("tracing=True without OpenTelemetry must refuse")
"""


def test_off_imports_nothing_and_absent_is_fine() -> None:
    """With tracing off, OpenTelemetry is never imported; without the package, the SDK
    imports and works, and only tracing=True says to install the extra."""
    off = _run(_CALL, _NOTHING_IMPORTED)
    assert off.returncode == 0, off.stderr
    blocked = _run(_BLOCK, _CALL, _TRACING_REFUSED)
    assert blocked.returncode == 0, blocked.stderr
