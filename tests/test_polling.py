"""wait and watch: outcomes, ordering, deadlines, errors and cancellation."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from aioresponses import aioresponses
from hypothesis import given
from hypothesis import strategies as st

import lyra_mavera as lm
from lyra_mavera.mavera import Meeting, MeetingStatus
from lyra_mavera.mavera._poll import STATUS_RANK, Follow
from lyra_mavera.testing import FakeClock, FakeServer, set_testing, use_clock
from tests.conftest import MAVERA, MAVERA_KEY
from tests.helpers import client_tasks, open_connections

SCALE = 200.0  # a whole meeting takes about half a second
POLICY = lm.PollPolicy(time_scale=SCALE)
ZOOM = "https://zoom.us/j/8500000424242"


pytestmark = pytest.mark.fake(time_scale=SCALE, rpm=None, real_waits=True)


def ranks(meetings: list[Meeting]) -> list[int]:
    return [STATUS_RANK.get(m.status, -1) for m in meetings]


async def test_wait_returns_done_and_reports_each_change() -> None:
    """wait returns the done meeting; on_status sees each change once, in order (on a
    virtual clock shared with the fake, so no status can pass unseen under load)."""
    seen: list[Meeting] = []
    clock = FakeClock(virtual=True)
    async with FakeServer(rpm=None, clock=clock) as fake, fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        with use_clock(clock):
            done = await s.mavera.meetings.wait(bot.id, on_status=seen.append)
    assert done.status is MeetingStatus.DONE and done.id == bot.id
    assert seen[0].status in ("pending", "joining_call") and seen[-1].status == "done"
    assert ranks(seen) == sorted(set(ranks(seen)))
    polls = len(fake.requests_to("GET", "/meetings/{id}"))
    assert polls < 2 * len(seen) + 4  # polled at the cadence, not in a tight loop


async def test_async_on_status(fake: FakeServer) -> None:
    """on_status may be a coroutine function."""
    statuses: list[str] = []

    async def record(meeting: Meeting) -> None:
        statuses.append(meeting.status)

    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        await s.mavera.meetings.wait(bot.id, poll=POLICY, on_status=record)
    assert statuses[-1] == "done"


@pytest.mark.parametrize(
    ("script", "final"),
    [
        ({"fatal_at": "in_waiting_room"}, "fatal"),
        ({"permission_denied": True, "permission_denied_for": None}, "recording_permission_denied"),
        ({"permission_denied": True, "permission_denied_for": 20.0}, "fatal"),
    ],
)
async def test_wait_raises_bot_failed(
    fake: FakeServer, script: dict[str, object], final: str
) -> None:
    """Failure statuses raise BotFailedError carrying the last meeting seen."""
    fake.script(ZOOM, **script)
    policy = lm.PollPolicy(time_scale=SCALE, permission_denied_grace=60.0)
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        with pytest.raises(lm.BotFailedError) as info:
            await s.mavera.meetings.wait(bot.id, poll=policy)
    assert info.value.meeting.status == final and info.value.meeting.id == bot.id


async def test_permission_denied_recovered_within_grace(fake: FakeServer) -> None:
    """A denial the host lifts within the grace period does not fail the bot."""
    # 60 fake seconds of denial (0.3 s real): long enough that a poll always sees it.
    fake.script(
        ZOOM,
        permission_denied=True,
        permission_denied_for=60.0,
        permission_then="in_call_recording",
    )
    seen: list[str] = []
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        done = await s.mavera.meetings.wait(
            bot.id,
            poll=lm.PollPolicy(time_scale=SCALE, permission_denied_grace=120.0),
            on_status=lambda m: seen.append(m.status),
        )
    assert done.status == "done"
    assert "recording_permission_denied" in seen


async def test_cancelled_bot_fails_the_wait(fake: FakeServer) -> None:
    """A bot cancelled while waited on raises BotFailedError with status cancelled."""
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        waiting = asyncio.create_task(s.mavera.meetings.wait(bot.id, poll=POLICY))
        await asyncio.sleep(0.02)
        await s.mavera.meetings.cancel(bot.id, reason="test")
        with pytest.raises(lm.BotFailedError) as info:
            await waiting
    assert info.value.meeting.status == "cancelled"


async def test_watch_yields_changes_and_ends(fake: FakeServer) -> None:
    """watch yields one meeting per status change and ends at the terminal one."""
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        seen = [m async for m in s.mavera.meetings.watch(bot.id, poll=POLICY)]
    statuses = [m.status for m in seen]
    assert statuses[-1] == "done" and len(statuses) == len(set(statuses))


async def test_status_never_moves_backwards(fake: FakeServer) -> None:
    """With half the answers from a lagging replica, reported statuses only move forward."""
    fake.inject("stale", rate=0.5, route="GET /meetings/{id}")
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        seen = [
            m
            async for m in s.mavera.meetings.watch(bot.id, poll=lm.PollPolicy(time_scale=SCALE * 4))
        ]
    assert fake.faults.counts["stale"] > 0
    assert ranks(seen) == sorted(set(ranks(seen)))
    assert seen[-1].status == "done"


async def test_deadline_is_exact() -> None:
    """A wait whose next poll lies beyond its timeout ends at the timeout, not after (on
    a virtual clock shared with the fake: the first poll surely sees the bot pending)."""
    clock = FakeClock(virtual=True)
    slow = lm.PollPolicy(intervals={}, default_interval=3600.0, max_interval=3600.0)
    async with FakeServer(rpm=None, clock=clock) as fake, fake.session() as s:
        fake.script(ZOOM, stuck_in_waiting_room=True)
        bot = await s.mavera.meetings.create(ZOOM)
        with use_clock(clock):
            async with asyncio.timeout(10):  # guard: a sleep past the deadline would hang
                with pytest.raises(lm.WaitTimeoutError) as info:
                    await s.mavera.meetings.wait(bot.id, timeout=0.2, poll=slow)
        assert clock.monotonic() < 1  # it slept to the deadline (0.2 s), not an hour
    assert info.value.meeting is not None and info.value.meeting.status == "pending"
    assert isinstance(info.value, TimeoutError)


async def test_timeout_while_stuck(fake: FakeServer) -> None:
    """A bot stuck in the waiting room times out, carrying that status."""
    fake.script(ZOOM, stuck_in_waiting_room=True)
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        with pytest.raises(lm.WaitTimeoutError) as info:
            await s.mavera.meetings.wait(bot.id, timeout=0.4, poll=POLICY)
    assert info.value.meeting is not None and info.value.meeting.status == "in_waiting_room"


async def test_cancelling_wait_leaves_nothing_behind(fake: FakeServer) -> None:
    """Cancelling a wait mid-poll leaves no task or connection, and the session works on."""
    fake.inject("latency", delay=0.5, route="GET /meetings/{id}")
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        task = asyncio.create_task(s.mavera.meetings.wait(bot.id, poll=POLICY))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client_tasks() == []
        assert open_connections(s) == 0
        fake.clear_faults()
        assert (await s.mavera.meetings.get(bot.id)).id == bot.id


async def test_asyncio_timeout_around_wait(fake: FakeServer) -> None:
    """An outer asyncio.timeout stops the wait at once and cleanly."""
    fake.script(ZOOM, stuck_in_waiting_room=True)
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(ZOOM)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await s.mavera.meetings.wait(bot.id, poll=POLICY)
        assert client_tasks() == [] and open_connections(s) == 0
        assert (await s.mavera.usage.get()).object == "usage"


async def test_poll_errors_back_off_then_recover(fake: FakeServer) -> None:
    """Failed polls (503s) are retried on the poll loop's own backoff; the wait succeeds."""
    fake.inject("status", status=503, route="GET /meetings/{id}", times=3)
    policy = lm.PollPolicy(time_scale=SCALE * 10, max_errors=5)
    async with fake.session(retry=lm.RetryPolicy(attempts=1)) as s:
        bot = await s.mavera.meetings.create(ZOOM)
        done = await s.mavera.meetings.wait(bot.id, poll=policy)
    assert done.status == "done"


async def test_poll_gives_up_after_max_errors(fake: FakeServer) -> None:
    """Persistent failures end the wait with the last error and a note saying so."""
    fake.inject("status", status=502, route="GET /meetings/{id}")
    async with fake.session(retry=lm.RetryPolicy(attempts=1)) as s:
        bot = await s.mavera.meetings.create(ZOOM)
        with pytest.raises(lm.ServerError) as info:
            await s.mavera.meetings.wait(
                bot.id, poll=lm.PollPolicy(time_scale=SCALE * 10, max_errors=3)
            )
    assert any("3 failed polls" in note for note in info.value.__notes__)
    assert len(fake.requests_to("GET", "/meetings/{id}")) == 3


async def test_unknown_bot_fails_at_once(fake: FakeServer) -> None:
    """A 404 is not transient: the wait raises NotFoundError on the first poll."""
    async with fake.session() as s:
        with pytest.raises(lm.NotFoundError):
            await s.mavera.meetings.wait("meeting_nope", poll=POLICY)
    assert len(fake.requests_to("GET", "/meetings/{id}")) == 1


async def test_unknown_status_is_followed_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """An unknown status is reported as a change, treated as in progress, and logged once."""
    url = f"{MAVERA}/meetings/m1"
    with aioresponses() as mock:
        for status in ["pending", "in_breakout_room", "in_breakout_room", "done"]:
            mock.get(url, payload={"id": "m1", "status": status})
        async with lm.AsyncSession(mavera_api_key=MAVERA_KEY) as s:
            with caplog.at_level(logging.WARNING, logger="lyra_mavera"):
                seen = [m.status async for m in s.mavera.meetings.watch("m1")]
    assert seen == ["pending", "in_breakout_room", "done"]
    assert sum("in_breakout_room" in r.getMessage() for r in caplog.records) <= 1


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"timeout": 0}, "timeout"), ({"timeout": -1}, "timeout"), ({"poll": 5}, "poll")],
)
async def test_wait_arguments_checked(kwargs: dict[str, object], param: str) -> None:
    """Bad wait/watch arguments raise ValidationError before any request."""
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY) as s:
        with pytest.raises(lm.ValidationError) as info:
            await s.mavera.meetings.wait("m1", **kwargs)  # type: ignore[arg-type]
        assert info.value.param == param
        with pytest.raises(lm.ValidationError):
            s.mavera.meetings.watch("", **kwargs)  # type: ignore[arg-type]


def test_pending_bot_sleeps_until_join_at() -> None:
    """A pending bot whose join_at is an hour ahead is next polled join_lead before it."""
    policy = lm.PollPolicy(join_lead=30.0)
    state = Follow("m1", policy)
    join_at = datetime.now(UTC) + timedelta(hours=1)
    with set_testing(False):
        state.observe(Meeting(id="m1", status=MeetingStatus.PENDING, join_at=join_at), now=0.0)
        delay = state.next_delay(0.0, rand=0.5)
    assert 3560 < delay <= 3570


def test_cadence_per_status() -> None:
    """Joining is polled faster than recording; call_ended fast again; recording grows to the cap."""
    p = lm.PollPolicy(jitter=0)
    assert p.interval("joining_call", 0, 0.5) < p.interval("in_call_recording", 0, 0.5)
    assert p.interval("call_ended", 0, 0.5) < p.interval("in_call_recording", 0, 0.5)
    grown = [p.interval("in_call_recording", n, 0.5) for n in range(8)]
    assert grown == sorted(grown) and grown[-1] == p.max_interval
    assert p.interval("something_new", 0, 0.5) == p.default_interval
    assert (
        lm.PollPolicy(jitter=0, time_scale=10).interval("joining_call", 0, 0.5)
        == p.interval("joining_call", 0, 0.5) / 10
    )


@given(
    status=st.sampled_from([*list(MeetingStatus), "unknown"]),
    unchanged=st.integers(min_value=0, max_value=10_000),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_interval_is_bounded(status: str, unchanged: int, rand: float) -> None:
    """Every interval is within the jitter band below max_interval and never negative."""
    p = lm.PollPolicy()
    value = p.interval(status, unchanged, rand)
    assert 0 <= value <= p.max_interval * (1 + p.jitter)


def test_follow_ignores_older_status() -> None:
    """An older status after a newer one is ignored; the same status is not a change."""
    state = Follow("m1", lm.PollPolicy())
    assert state.observe(Meeting(id="m1", status=MeetingStatus.IN_CALL_RECORDING), 0.0)
    assert not state.observe(Meeting(id="m1", status=MeetingStatus.JOINING_CALL), 1.0)
    assert not state.observe(Meeting(id="m1", status=MeetingStatus.IN_CALL_RECORDING), 2.0)
    assert state.last is not None and state.last.status == "in_call_recording"
    assert state.observe(Meeting(id="m1", status=MeetingStatus.DONE), 3.0)
    assert state.finished(3.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_scale": 0},
        {"jitter": 2},
        {"max_errors": 0},
        {"default_interval": -1},
        {"intervals": {"pending": -1}},
    ],
)
def test_poll_policy_rejects_nonsense(kwargs: dict[str, object]) -> None:
    """Impossible PollPolicy settings fail at construction."""
    with pytest.raises(lm.ValidationError):
        lm.PollPolicy(**kwargs)  # type: ignore[arg-type]
