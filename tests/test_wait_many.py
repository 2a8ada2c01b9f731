"""wait_many: thousands of bots on one scheduler, outcomes, deadline, cancellation."""

from __future__ import annotations

import asyncio
import collections

import pytest

import lyra_mavera as lm
from lyra_mavera.mavera import Meeting
from lyra_mavera.mavera._poll import STATUS_RANK
from lyra_mavera.testing import FakeServer
from tests.helpers import client_tasks, open_connections

SCALE = 200.0
POLICY = lm.PollPolicy(time_scale=SCALE)


pytestmark = pytest.mark.fake(time_scale=SCALE, rpm=None, seed=3, real_waits=True)


async def _create(s: lm.AsyncSession, links: list[str]) -> list[str]:
    results = await s.mavera.meetings.create_many(
        [lm.mavera.BotRequest(link) for link in links], concurrency=50
    )
    assert all(r.ok for r in results)
    return [r.value.id for r in results if r.value is not None]


async def test_thousand_bots_to_their_outcomes(fake: FakeServer) -> None:
    """1,000 bots, mixed fates: each ends in its true outcome, with far fewer requests
    than bots x status changes, and no status ever reported backwards."""
    links = [f"https://zoom.us/j/8500000{i}" for i in range(1000)]
    for i, link in enumerate(links):
        if i % 10 == 1:
            fake.script(link, fatal_at="in_call_recording")
        elif i % 10 == 2:
            fake.script(link, permission_denied=True, permission_denied_for=None)
    fake.inject("stale", rate=0.2, route="GET /meetings/{id}")
    fake.inject("stale", rate=0.2, route="GET /meetings")
    reported: dict[str, list[int]] = collections.defaultdict(list)

    def on_status(meeting: Meeting) -> None:
        reported[meeting.id].append(STATUS_RANK.get(meeting.status, -1))

    async with fake.session() as s:
        ids = await _create(s, links)
        before = len(fake.requests)
        policy = lm.PollPolicy(time_scale=SCALE, permission_denied_grace=30.0)
        results = await s.mavera.meetings.wait_many(ids, poll=policy, on_status=on_status)
    requests = len(fake.requests) - before
    outcomes = collections.Counter(
        r.meeting.status
        if isinstance(r, lm.BotFailedError)
        else type(r).__name__
        if not isinstance(r, Meeting)
        else r.status
        for r in results.values()
    )
    print(f"\nwait_many 1000 bots: {requests} requests, outcomes {dict(outcomes)}")
    assert set(results) == set(ids)
    assert outcomes == {"done": 800, "fatal": 100, "recording_permission_denied": 100}
    for i, meeting_id in enumerate(ids):
        expected = {1: "fatal", 2: "recording_permission_denied"}.get(i % 10, "done")
        result = results[meeting_id]
        got = result.status if isinstance(result, Meeting) else result.meeting.status  # type: ignore[union-attr]
        assert got == expected
    assert requests < 1000 * 8 / 4
    for ranks in reported.values():
        assert ranks == sorted(set(ranks))


async def test_deadline_marks_the_unfinished(fake: FakeServer) -> None:
    """At the deadline, unfinished bots get WaitTimeoutError with their last status."""
    fake.script("https://zoom.us/j/850099001", stuck_in_waiting_room=True)
    async with fake.session() as s:
        ids = await _create(s, ["https://zoom.us/j/850099001", "https://zoom.us/j/850099002"])
        async with asyncio.timeout(10):
            results = await s.mavera.meetings.wait_many(ids, timeout=1.0, poll=POLICY)
    stuck, fine = results[ids[0]], results[ids[1]]
    assert isinstance(stuck, lm.WaitTimeoutError) and stuck.meeting is not None
    assert stuck.meeting.status == "in_waiting_room"
    assert isinstance(fine, Meeting) and fine.status == "done"


async def test_errors_per_bot(fake: FakeServer) -> None:
    """An unknown id ends in NotFoundError without disturbing the others."""
    async with fake.session() as s:
        ids = await _create(s, ["https://zoom.us/j/85000001"])
        results = await s.mavera.meetings.wait_many([*ids, "meeting_missing"], poll=POLICY)
    assert isinstance(results["meeting_missing"], lm.NotFoundError)
    assert isinstance(results[ids[0]], Meeting)


async def test_cancel_mid_run_leaves_nothing(fake: FakeServer) -> None:
    """Cancelling wait_many stops every worker and request; the session serves on."""
    async with fake.session() as s:
        ids = await _create(s, [f"https://zoom.us/j/8500000{i}" for i in range(200)])
        task = asyncio.create_task(s.mavera.meetings.wait_many(ids, poll=POLICY, concurrency=20))
        await asyncio.sleep(0.15)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client_tasks() == []
        assert open_connections(s) == 0
        assert (await s.mavera.meetings.get(ids[0])).id == ids[0]


async def test_duplicates_and_empty() -> None:
    """Repeated ids are followed once; no ids return an empty dict; bad ids are refused."""
    async with FakeServer(rpm=None, time_scale=1e6) as fake, fake.session() as s:
        (bot,) = await _create(s, ["https://zoom.us/j/85000001"])
        results = await s.mavera.meetings.wait_many([bot, bot])
        assert list(results) == [bot]
        assert await s.mavera.meetings.wait_many([]) == {}
        with pytest.raises(lm.ValidationError, match=r"meeting_ids\[1\]"):
            await s.mavera.meetings.wait_many([bot, ""])
        with pytest.raises(lm.ValidationError, match="meeting_ids"):
            await s.mavera.meetings.wait_many(bot)
        with pytest.raises(lm.ValidationError, match="concurrency"):
            await s.mavera.meetings.wait_many([bot], concurrency=0)
