"""The per-key rate limiter: learns the limit, paces, pauses on 429."""

from __future__ import annotations

import asyncio

import pytest
from aioresponses import aioresponses

import lyra_mavera as lm
from lyra_mavera.testing import FakeServer
from tests.conftest import LYRA, LYRA_KEY, MAVERA, MAVERA_KEY


@pytest.fixture(autouse=True)
def _pacing_is_real(real_waits: None) -> None:
    """Every test here is about pacing."""


async def test_learns_and_paces_without_429() -> None:
    """30 concurrent calls under a 10-per-second key all succeed, none refused."""
    async with FakeServer(rpm=10, window=1.0) as fake, fake.session() as s:
        results = await asyncio.gather(*(s.mavera.usage.get() for _ in range(30)))
        limiter = s.rate_limiter("mavera")
    assert len(results) == 30
    assert fake.counters["rate_limited"] == 0
    assert limiter is not None and limiter.limit == 10 and 1.0 <= limiter.window <= 2.0
    assert limiter.waited > 0


async def test_shared_across_kinds_of_call() -> None:
    """Bulk creates and single gets share one key budget."""
    async with FakeServer(rpm=20, window=1.0) as fake, fake.session() as s:
        bulk = s.mavera.meetings.create_many(
            [lm.mavera.BotRequest(f"https://zoom.us/j/8500000{i}") for i in range(25)]
        )
        gets = asyncio.gather(*(s.mavera.usage.get() for _ in range(15)))
        results, _ = await asyncio.gather(bulk, gets)
    assert all(r.ok for r in results)
    assert fake.counters["rate_limited"] == 0


async def test_429_pauses_the_whole_key() -> None:
    """After a 429 with Retry-After, the next request of any task waits it out."""
    with aioresponses() as mock:
        mock.get(f"{MAVERA}/usage", status=429, headers={"Retry-After": "0.3"})
        mock.get(f"{MAVERA}/usage", payload={"object": "usage"}, repeat=True)
        async with lm.AsyncSession(
            mavera_api_key=MAVERA_KEY, retry=lm.RetryPolicy(attempts=1)
        ) as s:
            with pytest.raises(lm.RateLimitError):
                await s.mavera.usage.get()
            limiter = s.rate_limiter("mavera")
            assert limiter is not None
            before = limiter.waited
            await s.mavera.usage.get()
            assert limiter.waited - before >= 0.25
            assert limiter.rate_limited == 1


async def test_no_headers_no_pacing() -> None:
    """Lyra sends no limit headers: after the first answer nothing is held back."""
    with aioresponses() as mock:
        mock.post(f"{LYRA}/auth", payload={"valid": True, "userId": "u", "orgId": "o"}, repeat=True)
        async with lm.AsyncSession(lyra_api_key=LYRA_KEY) as s:
            await asyncio.gather(*(s.lyra.auth.verify() for _ in range(20)))
            limiter = s.rate_limiter("lyra")
    assert limiter is not None and limiter.limit is None and limiter.sent == 20


async def test_limiter_can_be_switched_off() -> None:
    """rate_limit=False removes the limiter."""
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY, rate_limit=False) as s:
        assert s.rate_limiter("mavera") is None


async def test_other_users_of_the_key_are_accounted() -> None:
    """When the server reports more use than this session made, the limiter counts it."""
    async with FakeServer(rpm=10, window=1.0) as fake:
        async with fake.session(rate_limit=False) as other:
            for _ in range(6):
                await other.mavera.usage.get()
        # Not a fresh window, so the limiter cannot read its length off the first answer.
        async with fake.session(rate_limit_window=1.0) as s:
            await asyncio.gather(*(s.mavera.usage.get() for _ in range(12)))
    assert fake.counters["rate_limited"] == 0


async def test_another_process_use_frees_when_the_server_says_not_a_window_later() -> None:
    """Another process used 9 of the key's 10 slots at the start of a 4 s window; this
    session joins 2.5 s later. The server says its next slot frees 1.5 s from then, so
    calls that may wait 3 s go through (counting the other process' slots as new would
    wait the whole window, 4 s, and refuse them), with no 429 after the first window."""
    async with FakeServer(rpm=10, window=4.0) as fake:
        async with fake.session(rate_limit=False) as other:
            for _ in range(9):
                await other.mavera.usage.get()
        await asyncio.sleep(2.5)
        async with fake.session(rate_limit_window=4.0) as s:
            await s.mavera.usage.get()  # the 10th slot: the window is full now
            bounded = s.with_options(deadline=3.0)
            await asyncio.gather(*(bounded.mavera.usage.get() for _ in range(5)))
    assert fake.counters["rate_limited"] == 0
