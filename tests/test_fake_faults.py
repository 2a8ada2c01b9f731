"""The SDK against FakeServer's injected faults: proven on a real loopback server."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

import lyra_mavera as lm
from lyra_mavera.testing import FakeServer, set_testing

ZOOM = "https://zoom.us/j/987654321"


pytestmark = pytest.mark.fake(rpm=None, seed=7)


async def test_dropped_post_is_not_sent_twice(fake: FakeServer) -> None:
    """A create whose connection drops after the server processed it yields one bot, not two."""
    fake.inject("drop", route="POST /meetings", times=1)
    async with fake.session() as s:
        with pytest.raises(lm.APIConnectionError) as info:
            await s.mavera.meetings.create(ZOOM)
        assert info.value.sent is True
        assert fake.bots_for_link(ZOOM) == 1
        assert len(fake.requests_to("POST", "/meetings")) == 1
        # The session is still usable afterwards.
        assert (await s.mavera.usage.get()).object == "usage"


async def test_dropped_lyra_post_is_not_sent_twice(fake: FakeServer) -> None:
    """The same holds for Lyra: one meeting created, one request sent."""
    fake.inject("drop", route="POST /meeting", times=1)
    async with fake.session() as s:
        with pytest.raises(lm.APIConnectionError):
            await s.lyra.meetings.create("Kickoff")
    assert len(fake.lyra_meetings) == 1
    assert len(fake.requests_to("POST", "/meeting")) == 1


async def test_get_recovers_from_503_with_retry_after(
    fake: FakeServer, sleeps: list[float]
) -> None:
    """A GET under 503 + Retry-After waits as told and then succeeds."""
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        fake.inject("status", status=503, retry_after=2, route="GET /meetings/{id}", times=2)
        got = await s.mavera.meetings.get(bot.id)
    assert got.id == bot.id
    assert sleeps == [2.0, 2.0]
    assert [r.status for r in fake.requests_to("GET", "/meetings/{id}")] == [503, 503, 200]


async def test_429_storm_is_survived(sleeps: list[float]) -> None:
    """A key at its limit gets 429s with parsed rate-limit headers; with enough attempts, it gets through."""
    async with FakeServer(rpm=5, window=1.0) as fake:
        async with fake.session(retry=lm.RetryPolicy(attempts=1), rate_limit=False) as s:
            outcomes = await asyncio.gather(
                *(s.mavera.usage.get() for _ in range(20)), return_exceptions=True
            )
        errors = [o for o in outcomes if isinstance(o, lm.RateLimitError)]
        assert len(errors) == 15
        assert all(
            e.rate_limit is not None and e.rate_limit.limit == 5 and e.rate_limit.remaining == 0
            for e in errors
        )
        assert all(e.retry_after is not None and e.retry_after >= 1 for e in errors)
        # Real sleeps for this one: the window is one second long.
        with set_testing(False):
            async with fake.session(retry=lm.RetryPolicy(attempts=4), rate_limit=False) as s:
                results = await asyncio.gather(*(s.mavera.usage.get() for _ in range(8)))
        assert len(results) == 8


@pytest.mark.parametrize(
    ("kind", "options", "error"),
    [
        ("truncate", {}, lm.ResponseValidationError),
        ("non_json", {}, lm.ResponseValidationError),
        ("html", {}, lm.ServerError),
        ("status", {"status": 500}, lm.ServerError),
        ("drop_before", {}, lm.APIConnectionError),
    ],
)
async def test_bad_answers_are_typed(
    fake: FakeServer, kind: str, options: dict[str, int], error: type[Exception]
) -> None:
    """Truncated JSON, plain text, proxy HTML, 500s and dropped connections map to typed errors."""
    fake.inject(kind, route="GET /usage", **options)  # type: ignore[arg-type]
    async with fake.session() as s:
        with pytest.raises(error):
            await s.mavera.usage.get()


async def test_slow_answer_times_out(fake: FakeServer) -> None:
    """An answer slower than the per-attempt timeout is an APITimeoutError; GETs try again."""
    fake.inject("latency", delay=0.5, route="GET /usage", times=1)
    async with fake.session(timeout=0.1) as s:
        usage = await s.mavera.usage.get()
    assert usage.object == "usage"
    async with fake.session(timeout=0.1, retry=lm.RetryPolicy(attempts=1)) as s:
        fake.inject("latency", delay=0.5, route="GET /usage", times=1)
        with pytest.raises(lm.APITimeoutError):
            await s.mavera.usage.get()


async def test_faults_are_repeatable_under_a_seed() -> None:
    """The same seed gives the same sequence of faults."""
    runs = []
    for _ in range(2):
        async with FakeServer(rpm=None, seed=42) as fake:
            fake.inject("status", rate=0.3, status=503, route="GET /usage")
            async with fake.session(retry=lm.RetryPolicy(attempts=1)) as s:
                for _ in range(30):
                    with contextlib.suppress(lm.ServerError):
                        await s.mavera.usage.get()
            runs.append([r.status for r in fake.requests])
    assert runs[0] == runs[1] and 503 in runs[0] and 200 in runs[0]


async def test_stale_replica_answers_previous_status() -> None:
    """The stale fault answers with the status before the latest change."""
    async with FakeServer(rpm=None, time_scale=1e-6) as fake, fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        fake.clock.advance(1.5)
        assert (await s.mavera.meetings.get(bot.id)).status == "joining_call"
        fake.inject("stale", route="GET /meetings/{id}", times=1)
        assert (await s.mavera.meetings.get(bot.id)).status == "pending"
        assert (await s.mavera.meetings.get(bot.id)).status == "joining_call"
