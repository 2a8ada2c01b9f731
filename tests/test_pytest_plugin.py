"""The SDK's pytest plugin, as this suite sees it (the fresh-project run of the README's
example is in test_packaging.py): the fixtures are wired together and the marker
configures the fake."""

from __future__ import annotations

import pytest

import lyra_mavera as lm
from lyra_mavera.testing import FakeClock, FakeServer, get_clock

LINK = "https://zoom.us/j/850000888"


async def test_fixtures_share_one_fake_and_one_clock(
    lyra_mavera_clock: FakeClock,
    lyra_mavera_fake: FakeServer,
    lyra_mavera_session: lm.AsyncSession,
) -> None:
    """The session talks to the fake, the fake runs on the clock fixture, that clock is
    the SDK's, and it is virtual: a whole bot lifecycle takes no real time."""
    assert get_clock() is lyra_mavera_clock and lyra_mavera_clock.virtual
    assert lyra_mavera_fake.clock is lyra_mavera_clock
    bots = lyra_mavera_session.mavera.meetings
    bot = await bots.create(LINK)
    done = await bots.wait(bot.id, timeout=3600)
    assert done.status is lm.mavera.MeetingStatus.DONE
    assert lyra_mavera_fake.bots_for_link(LINK) == 1
    assert lyra_mavera_fake.key_info(lyra_mavera_fake.mavera_api_key).limiter is None


@pytest.mark.lyra_mavera(rpm=7, window=30.0)
async def test_marker_options_reach_the_fake(lyra_mavera_fake: FakeServer) -> None:
    """@pytest.mark.lyra_mavera(...) passes its keyword arguments to the FakeServer."""
    limiter = lyra_mavera_fake.key_info(lyra_mavera_fake.mavera_api_key).limiter
    assert limiter is not None and (limiter.rpm, limiter.window) == (7, 30.0)


def test_the_clock_fixture_is_undone_after_the_test() -> None:
    """Outside the fixture the SDK is back on this suite's own clock."""
    assert not isinstance(get_clock(), FakeClock)
