"""Promise 10 of the reliability issue: errors keep their type.

An exception raised by a caller's callback (``on_status``, ``on_result``) comes out of
the call as itself -- as ``wait(..., on_status=cb)`` already does -- never wrapped in an
``ExceptionGroup`` by the task group inside, and nothing the call started is left
running afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import lyra_mavera as lm
from lyra_mavera.lyra import MeetingRequest
from lyra_mavera.mavera import BotRequest, Meeting
from lyra_mavera.testing import FakeServer
from tests.helpers import client_tasks

GUARD = 20.0


def raising_on(call_number: int) -> Callable[[Any], None]:
    calls = 0

    def callback(_: Any) -> None:
        nonlocal calls
        calls += 1
        if calls >= call_number:
            raise KeyError("boom")

    return callback


def async_raising_on(call_number: int) -> Callable[[Any], Any]:
    plain = raising_on(call_number)

    async def callback(value: Any) -> None:
        await asyncio.sleep(0)
        plain(value)

    return callback


CALLBACKS = {
    "plain-first": lambda: raising_on(1),
    "async-first": lambda: async_raising_on(1),
    "plain-third": lambda: raising_on(3),
    "async-third": lambda: async_raising_on(3),
}


async def bots(s: lm.AsyncSession, n: int) -> list[str]:
    results = await s.mavera.meetings.create_many(
        [BotRequest(f"https://zoom.us/j/12345678{i:02d}") for i in range(n)]
    )
    return [r.value.id for r in results if r.value is not None]


async def settled() -> list[asyncio.Task[object]]:
    """The SDK's tasks still pending once the loop had a few turns to finish them."""
    for _ in range(5):
        await asyncio.sleep(0)
    return client_tasks()


async def test_wait_lets_a_callback_error_through_unchanged() -> None:
    """The baseline: wait(..., on_status=cb) raises cb's KeyError itself."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        [meeting_id] = await bots(s, 1)
        async with asyncio.timeout(GUARD):
            with pytest.raises(Exception) as info:  # noqa: PT011 -- the type is the test
                await s.mavera.meetings.wait(meeting_id, on_status=raising_on(1))
        assert type(info.value) is KeyError, repr(info.value)
        assert await settled() == []


@pytest.mark.parametrize("callback", list(CALLBACKS))
async def test_wait_many_lets_a_callback_error_through_unchanged(callback: str) -> None:
    """wait_many(..., on_status=cb) raises cb's KeyError itself, not an ExceptionGroup,
    and leaves no task behind."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        ids = await bots(s, 5)
        async with asyncio.timeout(GUARD):
            with pytest.raises(Exception) as info:  # noqa: PT011 -- the type is the test
                await s.mavera.meetings.wait_many(ids, on_status=CALLBACKS[callback]())
        assert type(info.value) is KeyError, repr(info.value)
        assert info.value.args == ("boom",)
        assert await settled() == []


@pytest.mark.parametrize("callback", list(CALLBACKS))
async def test_mavera_create_many_lets_an_on_result_error_through_unchanged(
    callback: str,
) -> None:
    """create_many(..., on_result=cb) raises cb's KeyError itself, not an
    ExceptionGroup, and leaves no task behind."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        requests = [BotRequest(f"https://zoom.us/j/12345678{i:02d}") for i in range(5)]
        async with asyncio.timeout(GUARD):
            with pytest.raises(Exception) as info:  # noqa: PT011 -- the type is the test
                await s.mavera.meetings.create_many(
                    requests, concurrency=2, on_result=CALLBACKS[callback]()
                )
        assert type(info.value) is KeyError, repr(info.value)
        assert await settled() == []


@pytest.mark.parametrize("callback", list(CALLBACKS))
async def test_lyra_create_many_lets_an_on_result_error_through_unchanged(
    callback: str,
) -> None:
    """Lyra's create_many(..., on_result=cb) raises cb's KeyError itself and leaves no
    task behind."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        requests = [MeetingRequest(f"Meeting {i}") for i in range(5)]
        async with asyncio.timeout(GUARD):
            with pytest.raises(Exception) as info:  # noqa: PT011 -- the type is the test
                await s.lyra.meetings.create_many(
                    requests, concurrency=2, on_result=CALLBACKS[callback]()
                )
        assert type(info.value) is KeyError, repr(info.value)
        assert await settled() == []


async def test_wait_many_still_reports_bot_outcomes_when_callbacks_behave() -> None:
    """The baseline the fix must keep: with a callback that does not raise, every bot
    gets its outcome."""
    seen: list[Meeting] = []
    async with FakeServer(rpm=None, time_scale=1000) as fake, fake.session() as s:
        ids = await bots(s, 3)
        async with asyncio.timeout(GUARD):
            results = await s.mavera.meetings.wait_many(
                ids, on_status=seen.append, poll=lm.PollPolicy(time_scale=1000), timeout=600
            )
    assert set(results) == set(ids)
    assert seen
