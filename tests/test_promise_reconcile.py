"""Promise 7 of the reliability issue: ``create_many`` never adopts a bot it did not
create, and still finds the one it did create however the server lists it.

When a create fails ambiguously, ``create_many`` looks for the bot among the key's
recent meetings before sending again. A bot made *before* the run for the same link
(by ``create``, an earlier ``create_many`` or another worker) is not this item's bot;
a bot this item did make must be found even when the server lists oldest first,
writes the link back normalised differently, or runs its clock hours off ours.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import lyra_mavera as lm
from lyra_mavera.mavera import BotRequest, Meeting
from lyra_mavera.testing import FakeServer
from tests.adversary import MiniMavera
from tests.conftest import MAVERA_KEY

GUARD = 20.0
LINK = "https://zoom.us/j/1234567890"
HOURS = 3600.0


def check_not_adopted(result: lm.BulkResult[Meeting], earlier_id: str, bots_for_link: int) -> None:
    """The item either made its own bot (so the link now has two) or says it may have
    made one; it never comes back with the earlier bot."""
    if result.ok:
        assert result.value is not None
        assert result.value.id != earlier_id, "adopted a bot made before the run"
        assert bots_for_link == 2
    else:
        assert isinstance(result.error, lm.AmbiguousCreateError), repr(result.error)
        assert bots_for_link == 1


# -- against FakeServer ----------------------------------------------------------------


async def made_by_create(fake: FakeServer, s: lm.AsyncSession) -> str:
    return (await s.mavera.meetings.create(LINK)).id


async def made_by_create_many(fake: FakeServer, s: lm.AsyncSession) -> str:
    [result] = await s.mavera.meetings.create_many([BotRequest(LINK)])
    assert result.value is not None
    return result.value.id


async def made_by_another_worker(fake: FakeServer, s: lm.AsyncSession) -> str:
    async with fake.session() as other:
        return (await other.mavera.meetings.create(LINK)).id


async def made_with_the_server_clock_hours_ahead(fake: FakeServer, s: lm.AsyncSession) -> str:
    fake.clock.advance(3 * HOURS)  # the server stamps created_at three hours ahead of us
    return (await s.mavera.meetings.create(LINK)).id


EARLIER: dict[str, Callable[[FakeServer, lm.AsyncSession], Awaitable[str]]] = {
    "create": made_by_create,
    "create_many": made_by_create_many,
    "another-worker": made_by_another_worker,
    "server-clock-ahead": made_with_the_server_clock_hours_ahead,
}

UNPROCESSED_FAILURES: dict[str, dict[str, Any]] = {
    "drop-before-processing": {"kind": "drop_before"},
    "503-before-processing": {"kind": "status", "status": 503},
    "proxy-502-page": {"kind": "html"},
}


@pytest.mark.parametrize("failure", list(UNPROCESSED_FAILURES))
@pytest.mark.parametrize("earlier", list(EARLIER))
async def test_create_many_never_adopts_a_bot_made_before_it_for_the_same_link(
    earlier: str, failure: str
) -> None:
    """A create_many item whose create failed without creating anything never comes
    back with a bot made earlier for the same link."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        earlier_id = await EARLIER[earlier](fake, s)
        fake.inject(route="POST /meetings", times=1, **UNPROCESSED_FAILURES[failure])
        async with asyncio.timeout(GUARD):
            [result] = await s.mavera.meetings.create_many([BotRequest(LINK)])
        check_not_adopted(result, earlier_id, fake.bots_for_link(LINK))


async def test_create_many_still_adopts_its_own_dropped_create_on_fakeserver() -> None:
    """The baseline the other tests must not break: a create that was processed but
    whose answer was lost is adopted, with no second bot."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        fake.inject("drop", route="POST /meetings", times=1)
        async with asyncio.timeout(GUARD):
            [result] = await s.mavera.meetings.create_many([BotRequest(LINK)])
        assert result.ok, repr(result.error)
        assert fake.bots_for_link(LINK) == 1


# -- against MiniMavera: list order, link echo, clock skew -----------------------------


def mini_session(mini: MiniMavera) -> lm.AsyncSession:
    return lm.AsyncSession(mavera_api_key=MAVERA_KEY, mavera_base_url=mini.base_url)


async def run_one(mini: MiniMavera, link: str) -> lm.BulkResult[Meeting]:
    async with mini_session(mini) as s, asyncio.timeout(GUARD):
        [result] = await s.mavera.meetings.create_many([BotRequest(link)])
    return result


def check_adopted_own(result: lm.BulkResult[Meeting], mini: MiniMavera, link: str) -> None:
    """The item came back with the one bot the server made for it: no duplicate."""
    bots = mini.bots_for(link)
    assert len(bots) == 1, f"{len(bots)} bots for one item"
    assert result.ok, repr(result.error)
    assert result.value is not None and result.value.id == bots[0].id


def with_history(mini: MiniMavera) -> None:
    """Meetings of other links made yesterday, listed before ours when oldest first."""
    for n in range(3):
        mini.add_bot(f"https://zoom.us/j/99999999{n:02d}", created_at=time.time() - 24 * HOURS)


async def test_a_dropped_create_is_found_when_the_server_lists_oldest_first() -> None:
    """A create processed but unanswered is adopted (not sent again) when GET /meetings
    lists oldest first, behind yesterday's meetings."""
    async with MiniMavera(order="oldest") as mini:
        with_history(mini)
        mini.post_faults = ["drop_after"]
        result = await run_one(mini, LINK)
    check_adopted_own(result, mini, LINK)


async def test_an_earlier_bot_is_not_adopted_when_the_server_lists_oldest_first() -> None:
    """With oldest-first lists, a bot made for the link just before the run is still
    not adopted by an item whose create was dropped unprocessed."""
    async with MiniMavera(order="oldest") as mini:
        earlier = mini.add_bot(LINK)
        mini.post_faults = ["drop_before"]
        result = await run_one(mini, LINK)
    check_not_adopted(result, earlier.id, len(mini.bots_for(LINK)))


ECHOES: dict[str, tuple[str, Callable[[str], str]]] = {
    "trailing-slash": (LINK, lambda link: link + "/"),
    "upper-case-host": (LINK, lambda link: link.replace("zoom.us", "ZOOM.US")),
    "upper-case-scheme-and-host": (
        LINK,
        lambda link: link.replace("https://zoom.us", "HTTPS://Zoom.US"),
    ),
    "explicit-default-port": (LINK, lambda link: link.replace("zoom.us/", "zoom.us:443/")),
    "query-reordered": (
        LINK + "?pwd=abc123&tk=t0k",
        lambda link: link.replace("?pwd=abc123&tk=t0k", "?tk=t0k&pwd=abc123"),
    ),
}


@pytest.mark.parametrize("echo", list(ECHOES))
async def test_a_dropped_create_is_found_when_the_server_normalises_the_link(echo: str) -> None:
    """A create processed but unanswered is adopted, with no second bot, when the server
    writes the link back in an equivalent but different form."""
    link, rewrite = ECHOES[echo]
    async with MiniMavera(echo=rewrite) as mini:
        mini.post_faults = ["drop_after"]
        result = await run_one(mini, link)
    check_adopted_own(result, mini, link)


@pytest.mark.parametrize("skew_hours", [-3, +3])
async def test_a_dropped_create_is_found_whatever_the_server_clock_says(
    skew_hours: int,
) -> None:
    """A create processed but unanswered is adopted, with no second bot, when the
    server's clock (created_at and Date) runs three hours behind or ahead of ours."""
    async with MiniMavera(skew=skew_hours * HOURS) as mini:
        with_history(mini)
        mini.post_faults = ["drop_after"]
        result = await run_one(mini, LINK)
    check_adopted_own(result, mini, LINK)


@pytest.mark.parametrize("skew_hours", [-3, +3])
async def test_an_earlier_bot_is_not_adopted_whatever_the_server_clock_says(
    skew_hours: int,
) -> None:
    """A bot made for the link a minute before the run is not adopted by an item whose
    create was dropped unprocessed, with the server's clock hours behind or ahead."""
    async with MiniMavera(skew=skew_hours * HOURS) as mini:
        earlier = mini.add_bot(LINK, created_at=time.time() - 60)
        mini.post_faults = ["drop_before"]
        result = await run_one(mini, LINK)
    check_not_adopted(result, earlier.id, len(mini.bots_for(LINK)))


async def test_a_503_before_processing_does_not_adopt_an_earlier_bot_on_minimavera() -> None:
    """The same promise through a 503 answered before processing, newest-first lists."""
    async with MiniMavera() as mini:
        earlier = mini.add_bot(LINK)
        mini.post_faults = ["503_before"]
        result = await run_one(mini, LINK)
    check_not_adopted(result, earlier.id, len(mini.bots_for(LINK)))
