"""lm.response_of(model): every result reaches the response it came from (status,
headers, request ids, attempts, elapsed), by identity, weakly, without the key."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator

import attrs
import pytest
from aioresponses import aioresponses

import lyra_mavera as lm
from lyra_mavera import _responses
from lyra_mavera.testing import FakeServer
from tests.conftest import MAVERA, MAVERA_KEY, assert_no_secret, sample

MEETING_URL = f"{MAVERA}/meetings/meeting_123"
LINK = "https://zoom.us/j/123456789"


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async with FakeServer(time_scale=1e-6) as server:
        yield server


async def test_a_result_knows_its_response(fake: FakeServer) -> None:
    """A created bot leads to its status, headers, both request ids, attempts and time."""
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(LINK)
    info = lm.response_of(bot)
    assert info is not None
    assert (info.provider, info.method, info.status) == ("mavera", "POST", 201)
    assert info.url == fake.mavera_base_url + "/meetings"
    assert info.request_id is not None and info.request_id == info.headers["X-Request-Id"]
    sent = fake.requests[-1]
    assert info.client_request_id == sent.headers["Idempotency-Key"]
    assert (info.attempts, info.retries) == (1, 0)
    assert info.elapsed > 0
    assert info.rate_limit is not None and info.rate_limit.limit == 60


async def test_equal_results_keep_their_own_responses(fake: FakeServer) -> None:
    """Two calls that return equal models do not share one info: identity, not equality."""
    async with fake.session() as s:
        bot = await s.mavera.meetings.create(LINK)
        first = await s.mavera.meetings.get(bot.id)
        second = await s.mavera.meetings.get(bot.id)
    assert first == second and first is not second
    one, two = lm.response_of(first), lm.response_of(second)
    assert one is not None and two is not None
    assert one.client_request_id != two.client_request_id
    assert one.request_id != two.request_id
    assert lm.response_of(attrs.evolve(first)) is None  # an equal copy made by hand


async def test_attempts_count_retries(mock: aioresponses) -> None:
    """A result read after a retried 503 says it took two attempts."""
    mock.get(MEETING_URL, status=503)
    mock.get(
        MEETING_URL, payload=sample("mavera_meeting_done.json"), headers={"X-Request-Id": "r2"}
    )
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY) as s:
        meeting = await s.mavera.meetings.get("meeting_123")
    info = lm.response_of(meeting)
    assert info is not None
    assert (info.attempts, info.retries, info.status, info.request_id) == (2, 1, 200, "r2")


async def test_helpers_and_views_keep_the_response(fake: FakeServer) -> None:
    """Results of list(), wait(), create_many() and calls through with_options() all
    lead to their response."""
    async with fake.session() as s:
        view = s.with_options(timeout=5)
        bot = await view.mavera.meetings.create(LINK)
        listed = [m async for m in s.mavera.meetings.list()]
        fake.clock.advance(600)
        done = await s.mavera.meetings.wait(bot.id, poll=lm.PollPolicy(time_scale=1e6))
        [result] = await s.mavera.meetings.create_many([lm.mavera.BotRequest(LINK)])
        verified = await s.lyra.auth.verify()
    for model in (bot, *listed, done, result.value, verified):
        info = lm.response_of(model)
        assert info is not None and info.status in (200, 201), model
    listed_info = lm.response_of(listed[0])
    assert listed_info is not None and listed_info.method == "GET"
    assert listed_info.url.endswith("/meetings")
    done_info = lm.response_of(done)
    assert done_info is not None and done_info.url.endswith(f"/meetings/{bot.id}")


async def test_escape_hatch_response_has_info(fake: FakeServer) -> None:
    """s.request() returns a Response; response_of() describes it the same way."""
    async with fake.session() as s:
        response = await s.request("mavera", "GET", "/usage")
    info = lm.response_of(response)
    assert info is not None and info.status == 200 and info.url.endswith("/usage")


def test_objects_not_from_a_response_have_none() -> None:
    """A model built by hand (or anything else) has no response."""
    assert lm.response_of(lm.lyra.Identity(True, "u", "o")) is None
    assert lm.response_of("text") is None
    assert lm.response_of([1, 2]) is None


async def test_memory_is_released_with_the_model(mock: aioresponses) -> None:
    """The table holds models weakly: when the results go, their entries go too."""
    mock.get(MEETING_URL, payload=sample("mavera_meeting_done.json"), repeat=True)
    gc.collect()
    before = len(_responses._TABLE)
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY) as s:
        meetings = [await s.mavera.meetings.get("meeting_123") for _ in range(50)]
        assert len(_responses._TABLE) == before + 50
        del meetings
        gc.collect()
        assert len(_responses._TABLE) == before


async def test_info_never_holds_the_key(fake: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the info's fields nor its repr carry the request's Authorization header;
    the DEBUG log names the call's server request id."""
    async with fake.session() as s:
        with caplog.at_level(logging.DEBUG, logger="lyra_mavera"):
            usage = await s.mavera.usage.get()
    info = lm.response_of(usage)
    assert info is not None
    assert "Authorization" not in info.headers
    texts = [repr(info), *(str(getattr(info, f.name)) for f in attrs.fields(type(info)))]
    texts += [f"{k}: {v}" for k, v in info.headers.items()]
    for text in texts:
        assert_no_secret(text)
        assert fake.mavera_api_key not in text
    assert any(str(info.request_id) in r.getMessage() for r in caplog.records)
