"""Promise 5: testing mode shortens waits, never removes pacing; one clock drives the
SDK and the fake server together."""

from __future__ import annotations

import asyncio

import pytest

import lyra_mavera as lm
from lyra_mavera.testing import FakeClock, FakeServer, get_clock, is_testing, use_clock

LINK = "https://zoom.us/j/850000555"
GUARD = 20.0


def gets(fake: FakeServer, bot_id: str) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and r.path.endswith("/" + bot_id))


async def test_testing_mode_paces_a_permission_denied_bot_instead_of_spinning() -> None:
    """Under set_testing(True) a bot stuck in recording_permission_denied is polled on
    paper every few seconds until the 120 s grace passes: a few dozen GETs, not
    thousands, and the wait ends in BotFailedError."""
    assert is_testing()
    async with FakeServer(rpm=None, time_scale=1000) as fake, fake.session() as s:
        fake.script(LINK, permission_denied=True, permission_denied_for=None)
        bot = await s.mavera.meetings.create(LINK)
        fake.clock.advance(100)  # past joining and the waiting room: denied from now on
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.BotFailedError) as failed:
                await s.mavera.meetings.wait(bot.id)
    assert failed.value.meeting.status == lm.mavera.MeetingStatus.RECORDING_PERMISSION_DENIED
    # 120 s of grace at one poll per ~5 s (+/- 10% jitter): about 25 polls.
    assert 20 <= gets(fake, bot.id) <= 40


async def test_a_virtual_fake_clock_runs_a_whole_lifecycle_without_spinning() -> None:
    """With FakeServer(clock=FakeClock(virtual=True)) installed as the SDK's clock, a
    bot goes from pending to done as the SDK sleeps; the number of polls follows the
    documented cadence, not the speed of the machine."""
    clock = FakeClock(virtual=True)
    async with FakeServer(rpm=None, clock=clock) as fake, fake.session() as s:
        with use_clock(clock):
            assert get_clock() is clock
            bot = await s.mavera.meetings.create(LINK)
            statuses: list[str] = []
            async with asyncio.timeout(GUARD):
                done = await s.mavera.meetings.wait(
                    bot.id, on_status=lambda m: statuses.append(m.status)
                )
    assert done.status == "done"
    assert statuses[-1] == "done" and len(statuses) == len(set(statuses))
    # A ~96 s meeting polled every 3-15 s (growing while recording): a few dozen GETs.
    assert 5 <= gets(fake, bot.id) <= 40


async def test_advancing_the_shared_clock_moves_bots_and_waits_together() -> None:
    """With a real-time FakeClock shared by server and SDK, advance() wakes the SDK's
    poll sleep and the bot's lifecycle at once: an hour-long join_at wait ends as soon
    as the test moves the clock."""
    from datetime import timedelta

    clock = FakeClock(time_scale=1.0)
    async with FakeServer(rpm=None, clock=clock) as fake, fake.session() as s:
        with use_clock(clock):
            join_at = clock.now_datetime() + timedelta(hours=1)
            bot = await s.mavera.meetings.create(LINK, join_at=join_at)
            waiting = asyncio.create_task(s.mavera.meetings.wait(bot.id))
            while gets(fake, bot.id) < 1:  # noqa: ASYNC110 -- the request log has no event
                await asyncio.sleep(0.01)
            assert not waiting.done()
            clock.advance(2 * 3600)
            async with asyncio.timeout(GUARD):
                done = await waiting
    assert done.status == "done"


async def test_use_clock_refuses_what_is_not_a_clock() -> None:
    """use_clock checks its argument: an object without time/monotonic/sleep is refused."""
    with pytest.raises(TypeError, match="Clock"):
        use_clock(object())  # type: ignore[arg-type]
