"""Behaviour both backends can show -- aioresponses and the real FakeServer -- tested once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import pytest
from aioresponses import aioresponses
from yarl import URL

import lyra_mavera as lm
from lyra_mavera.testing import FakeServer
from tests.conftest import MAVERA, MAVERA_KEY

ZOOM = "https://zoom.us/j/8500000555"


class Backend(Protocol):
    def session(self, **kwargs: Any) -> lm.AsyncSession: ...
    async def bot(self, s: lm.AsyncSession) -> str: ...
    def then_ok(self) -> None: ...
    def fail(
        self, method: str, route: str, status: int, *, times: int, retry_after: float | None = None
    ) -> None: ...
    def create_ok(self) -> None: ...
    def count(self, method: str, route: str) -> int: ...
    async def bots(self, s: lm.AsyncSession, n: int) -> list[str]: ...


class MockBackend:
    """aioresponses: canned answers per URL."""

    def __init__(self, mock: aioresponses) -> None:
        self.mock = mock

    def session(self, **kwargs: Any) -> lm.AsyncSession:
        return lm.AsyncSession(mavera_api_key=MAVERA_KEY, **kwargs)

    def _url(self, route: str) -> str:
        return MAVERA + route.replace("{id}", "meeting_1")

    async def bot(self, s: lm.AsyncSession) -> str:
        return "meeting_1"

    def then_ok(self) -> None:
        # aioresponses answers in registration order: the success goes after the failures.
        self.mock.get(self._url("/meetings/{id}"), payload={"id": "meeting_1", "status": "pending"})

    def fail(
        self, method: str, route: str, status: int, *, times: int, retry_after: float | None = None
    ) -> None:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        for _ in range(times):
            self.mock.add(
                self._url(route),
                method,
                status=status,
                headers=headers,
                payload={
                    "error": {
                        "message": "Injected failure",
                        "type": "api_error",
                        "code": "service_unavailable" if status == 503 else "internal_error",
                        "param": None,
                    }
                },
            )

    def create_ok(self) -> None:
        self.mock.post(
            self._url("/meetings"), status=201, payload={"id": "meeting_9", "status": "pending"}
        )

    def count(self, method: str, route: str) -> int:
        path = URL(self._url(route)).path
        return sum(
            len(calls)
            for (m, url), calls in self.mock.requests.items()
            if m == method and url.path == path
        )

    async def bots(self, s: lm.AsyncSession, n: int) -> list[str]:
        ids = [f"meeting_{i}" for i in range(n, 0, -1)]
        pages = [ids[i : i + 100] for i in range(0, n, 100)]
        for number, page in enumerate(pages):
            url = f"{MAVERA}/meetings?limit=100" + (f"&cursor=c{number}" if number else "")
            more = number < len(pages) - 1
            self.mock.get(
                url,
                payload={
                    "object": "list",
                    "data": [{"id": i, "status": "done"} for i in page],
                    "has_more": more,
                    "next_cursor": f"c{number + 1}" if more else None,
                },
            )
        return ids


class FakeBackend:
    """The real FakeServer on 127.0.0.1, with injected faults."""

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake

    def session(self, **kwargs: Any) -> lm.AsyncSession:
        return self.fake.session(**kwargs)

    async def bot(self, s: lm.AsyncSession) -> str:
        return (await s.mavera.meetings.create(ZOOM)).id

    def then_ok(self) -> None:
        pass

    def fail(
        self, method: str, route: str, status: int, *, times: int, retry_after: float | None = None
    ) -> None:
        self.fake.inject(
            "status", status=status, retry_after=retry_after, route=f"{method} {route}", times=times
        )

    def create_ok(self) -> None:
        pass

    def count(self, method: str, route: str) -> int:
        return len(self.fake.requests_to(method, route))

    async def bots(self, s: lm.AsyncSession, n: int) -> list[str]:
        created = [
            (await s.mavera.meetings.create(f"https://zoom.us/j/8500000{i}")).id for i in range(n)
        ]
        return created[::-1]


@pytest.fixture(params=["aioresponses", "fake_server"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "aioresponses":
        with aioresponses(passthrough=["http://127.0.0.1"]) as mock:
            yield MockBackend(mock)
    else:
        async with FakeServer(rpm=None) as fake:
            yield FakeBackend(fake)


async def test_get_retried_until_success(backend: Backend, sleeps: list[float]) -> None:
    """Two 503s with Retry-After, then the meeting: three GETs, two waits of Retry-After."""
    async with backend.session() as s:
        bot_id = await backend.bot(s)
        backend.fail("GET", "/meetings/{id}", 503, times=2, retry_after=1.5)
        backend.then_ok()
        meeting = await s.mavera.meetings.get(bot_id)
    assert meeting.id == bot_id
    assert backend.count("GET", "/meetings/{id}") == 3
    assert sleeps == [1.5, 1.5]


async def test_post_not_retried_after_500(backend: Backend) -> None:
    """A 500 on create is raised at once: the bot may exist."""
    backend.fail("POST", "/meetings", 500, times=1)
    backend.create_ok()
    async with backend.session() as s:
        with pytest.raises(lm.ServerError) as info:
            await s.mavera.meetings.create(ZOOM)
    assert info.value.code == "internal_error" and info.value.provider == "mavera"
    assert backend.count("POST", "/meetings") == 1


async def test_post_retried_after_429(backend: Backend, sleeps: list[float]) -> None:
    """A 429 means the create was refused, so it is safe to send again."""
    backend.fail("POST", "/meetings", 429, times=1, retry_after=3)
    backend.create_ok()
    async with backend.session() as s:
        meeting = await s.mavera.meetings.create(ZOOM)
    assert meeting.status == "pending"
    assert backend.count("POST", "/meetings") == 2
    assert sleeps == [3.0]


async def test_gets_give_up_after_attempts(backend: Backend) -> None:
    """Persistent 502s end in ServerError after RetryPolicy.attempts tries."""
    async with backend.session(retry=lm.RetryPolicy(attempts=2)) as s:
        bot_id = await backend.bot(s)
        backend.fail("GET", "/meetings/{id}", 502, times=2)
        with pytest.raises(lm.ServerError) as info:
            await s.mavera.meetings.get(bot_id)
    assert info.value.status == 502
    assert backend.count("GET", "/meetings/{id}") == 2


async def test_pagination_over_250(backend: Backend) -> None:
    """list() walks every page, newest first, with nothing lost or repeated."""
    async with backend.session() as s:
        expected = await backend.bots(s, 250)
        listed = [m.id async for m in s.mavera.meetings.list()]
    assert listed == expected
    assert backend.count("GET", "/meetings") == 3
