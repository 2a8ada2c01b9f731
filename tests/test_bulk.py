"""create_many: order, isolation, progress, and nothing created twice."""

from __future__ import annotations

import asyncio
import collections
from datetime import UTC, datetime, timedelta

import pytest

import lyra_mavera as lm
from lyra_mavera.testing import FakeServer
from tests.helpers import client_tasks, open_connections

pytestmark = pytest.mark.fake(rpm=None, seed=11)


def bots(n: int, prefix: str = "https://zoom.us/j/8500000") -> list[lm.mavera.BotRequest]:
    return [lm.mavera.BotRequest(f"{prefix}{i}", title=f"Bot {i}") for i in range(n)]


async def test_lyra_results_in_order_with_progress(fake: FakeServer) -> None:
    """200 meetings come back in input order; progress counts up to the total."""
    requests = [
        lm.lyra.MeetingRequest(f"Meeting {i}", attendees=f"p{i}@acme.com") for i in range(200)
    ]
    progress: list[tuple[int, int]] = []
    async with fake.session() as s:
        results = await s.lyra.meetings.create_many(
            requests, concurrency=25, on_progress=lambda d, t: progress.append((d, t))
        )
    assert [r.index for r in results] == list(range(200))
    assert all(r.ok and r.request is requests[r.index] for r in results)
    assert [fake.lyra_meetings[r.value.id]["title"] for r in results if r.value] == [
        f"Meeting {i}" for i in range(200)
    ]
    assert progress[-1] == (200, 200) and [d for d, _ in progress] == list(range(1, 201))


async def test_bad_items_fail_alone(fake: FakeServer) -> None:
    """Invalid items end in ValidationError naming the item; the others are created."""
    requests = [
        lm.lyra.MeetingRequest("Fine"),
        lm.lyra.MeetingRequest("  "),
        lm.lyra.MeetingRequest("Naive", start=datetime(2030, 1, 1)),
        "not a request",
        lm.lyra.MeetingRequest("Also fine"),
    ]
    async with fake.session() as s:
        results = await s.lyra.meetings.create_many(requests)  # type: ignore[arg-type]
    assert [r.ok for r in results] == [True, False, False, False, True]
    assert [r.error.param for r in results if isinstance(r.error, lm.ValidationError)] == [
        "requests[1].title",
        "requests[2].start",
        "requests[3]",
    ]
    assert len(fake.requests_to("POST", "/meeting")) == 2


async def test_async_progress_and_broken_progress(fake: FakeServer) -> None:
    """An async on_progress is awaited; one that raises does not lose any result."""
    calls = 0

    async def progress(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if done == 3:
            raise RuntimeError("dashboard down")

    async with fake.session() as s:
        results = await s.mavera.meetings.create_many(bots(10), on_progress=progress)
    assert all(r.ok for r in results) and calls == 3


async def test_dropped_creates_are_adopted_not_duplicated(fake: FakeServer) -> None:
    """Creates whose connection dropped after the server made the bot are found and adopted."""
    fake.inject("drop", rate=0.2, route="POST /meetings")
    async with fake.session() as s:
        results = await s.mavera.meetings.create_many(bots(100), concurrency=20)
    assert all(r.ok for r in results), [r.error for r in results if r.error]
    assert fake.faults.counts["drop"] > 5
    assert all(fake.bots_for_link(f"https://zoom.us/j/8500000{i}") == 1 for i in range(100))
    assert len({r.value.id for r in results if r.value}) == 100


async def test_server_errors_are_reconciled_then_resent(fake: FakeServer) -> None:
    """A 503 before processing leaves no bot: reconciliation finds none and the create is re-sent."""
    fake.inject("status", rate=0.3, status=503, route="POST /meetings")
    async with fake.session() as s:
        results = await s.mavera.meetings.create_many(bots(60), concurrency=10)
    assert sum(r.ok for r in results) >= 50
    for r in results:
        link = f"https://zoom.us/j/8500000{r.index}"
        if r.ok:
            assert fake.bots_for_link(link) == 1
        else:
            # Three 503s in a row: the create was tried CREATE_ROUNDS times, never doubled.
            assert isinstance(r.error, lm.AmbiguousCreateError) and isinstance(
                r.error.cause, lm.ServerError
            )
            assert fake.bots_for_link(link) == 0


async def test_repeated_links_are_never_resent(fake: FakeServer) -> None:
    """Two items with the same link and join_at cannot be told apart: after an ambiguous
    failure neither is re-sent, and the error says the bot may exist."""
    join_at = datetime.now(UTC) + timedelta(hours=1)
    same = [lm.mavera.BotRequest("https://zoom.us/j/850000077", join_at=join_at) for _ in range(2)]
    fake.inject("drop", route="POST /meetings", times=1)
    async with fake.session() as s:
        results = await s.mavera.meetings.create_many(same, concurrency=1)
    assert isinstance(results[0].error, lm.AmbiguousCreateError)
    assert "may have created" in str(results[0].error)
    assert results[1].ok
    assert fake.bots_for_link("https://zoom.us/j/850000077") == 2


async def test_lyra_ambiguous_items_are_reported_not_resent(fake: FakeServer) -> None:
    """Lyra cannot be asked: a dropped create is an AmbiguousCreateError and is sent once."""
    fake.inject("drop", route="POST /meeting", times=1)
    async with fake.session() as s:
        results = await s.lyra.meetings.create_many([lm.lyra.MeetingRequest("Only once")])
    error = results[0].error
    assert isinstance(error, lm.AmbiguousCreateError) and isinstance(
        error.cause, lm.APIConnectionError
    )
    assert "may have created a meeting" in str(error)
    assert len(fake.requests_to("POST", "/meeting")) == 1 and len(fake.lyra_meetings) == 1


async def test_cancel_create_many(fake: FakeServer) -> None:
    """Cancelling a bulk run leaves no task or connection; the session works on."""
    fake.inject("latency", delay=0.05, route="POST /meetings")
    async with fake.session() as s:
        task = asyncio.create_task(s.mavera.meetings.create_many(bots(500), concurrency=10))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client_tasks() == [] and open_connections(s) == 0
        fake.clear_faults()
        assert (await s.mavera.usage.get()).object == "usage"


async def test_bulk_arguments_checked(fake: FakeServer) -> None:
    """A non-iterable request list or a bad concurrency raises at once."""
    async with fake.session() as s:
        with pytest.raises(lm.ValidationError, match="requests"):
            await s.lyra.meetings.create_many(5)  # type: ignore[arg-type]
        with pytest.raises(lm.ValidationError, match="concurrency"):
            await s.mavera.meetings.create_many(bots(1), concurrency=0)
        assert await s.mavera.meetings.create_many([]) == []
    assert fake.requests == []


async def test_rate_limited_bulk_with_faults(real_waits: None) -> None:
    """500 bots under a tight per-key limit with 5% injected faults: every item accounted
    for, zero duplicates, and no 429 once the limiter has learnt the limit."""
    async with FakeServer(rpm=250, window=4.0, seed=5) as fake:
        fake.inject("drop", rate=0.02, route="POST /meetings")
        fake.inject("status", rate=0.02, status=503, route="POST /meetings")
        fake.inject("status", rate=0.01, status=502, route="POST /meetings")
        async with fake.session() as s:
            results = await s.mavera.meetings.create_many(bots(500), concurrency=50)
            limiter = s.rate_limiter("mavera")
    outcomes = collections.Counter("ok" if r.ok else type(r.error).__name__ for r in results)
    print(
        f"\nrate-limited bulk: {dict(outcomes)}, faults {dict(fake.faults.counts)}, 429s {fake.counters['rate_limited']}, limiter {limiter!r}"
    )
    assert len(results) == 500 and [r.index for r in results] == list(range(500))
    assert outcomes["ok"] >= 495
    assert fake.counters["rate_limited"] == 0
    assert max(fake.bots.per_link.values()) == 1
    assert sum(fake.faults.counts.values()) >= 15
