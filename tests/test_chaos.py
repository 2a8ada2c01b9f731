"""Chaos: thousands of calls against seeded faults, with the figures printed.

Every item must end with a value or an error, no meeting link may get two bots, no
status may move backwards, and cancelling leaves no task and no connection behind.
"""

from __future__ import annotations

import asyncio
import collections
import socket

import pytest

import lyra_mavera as lm
from lyra_mavera.mavera import Meeting
from lyra_mavera.mavera._poll import STATUS_RANK
from lyra_mavera.testing import FakeServer, set_testing
from tests.helpers import client_tasks, open_connections

N = 2_000
SCALE = 400.0


def chaos_on_creates(fake: FakeServer) -> None:
    fake.inject("status", rate=0.05, status=503, retry_after=1, route="POST /meetings")
    fake.inject("status", rate=0.05, status=503, route="POST /meetings")
    fake.inject("status", rate=0.05, status=429, retry_after=1, route="POST /meetings")
    fake.inject("drop", rate=0.02, route="POST /meetings")
    fake.inject("latency", rate=0.01, delay=0.4, route="POST /meetings")


def outcome(result: lm.BulkResult[Meeting]) -> str:
    return "ok" if result.ok else type(result.error).__name__


async def test_create_many_under_chaos() -> None:
    """2,000 creates under 503s, 429s, dropped connections and timeouts: every item
    accounted for, and no link with two bots."""
    async with FakeServer(rpm=None, seed=2024) as fake:
        chaos_on_creates(fake)
        async with fake.session(timeout=0.25) as s:
            results = await s.mavera.meetings.create_many(
                [
                    lm.mavera.BotRequest(f"https://zoom.us/j/8500000{i}", title=f"chaos {i}")
                    for i in range(N)
                ],
                concurrency=100,
            )
            stats = s.stats
    outcomes = collections.Counter(outcome(r) for r in results)
    per_link = fake.bots.per_link
    print(
        f"\nchaos create_many: {N} items, faults injected {dict(fake.faults.counts)}, "
        f"outcomes {dict(outcomes)}, retries {stats.retries}, "
        f"max bots per link {max(per_link.values())}, links with a bot {len(per_link)}"
    )
    assert len(results) == N and [r.index for r in results] == list(range(N))
    assert all((r.value is None) != (r.error is None) for r in results)
    assert max(per_link.values()) == 1
    for r in results:
        link = f"https://zoom.us/j/8500000{r.index}"
        if r.ok:
            assert r.value is not None and per_link[link] == 1
    assert len({r.value.id for r in results if r.value}) == outcomes["ok"]
    assert outcomes["ok"] >= N * 0.97
    assert sum(fake.faults.counts.values()) >= N * 0.15


async def test_many_waits_under_chaos(real_waits: None) -> None:
    """2,000 concurrent waits with faults on every GET end in their true outcomes, and
    no reported status ever moves backwards."""
    async with FakeServer(rpm=None, time_scale=SCALE, seed=99) as fake:
        expected: dict[str, str] = {}
        async with fake.session(rate_limit=False) as s:
            for i in range(N):
                link = f"https://zoom.us/j/8500000{i}"
                if i % 20 == 5:
                    fake.script(link, stuck_in_waiting_room=True)  # cancelled below
                elif i % 10 == 3:
                    fake.script(link, fatal_at="in_waiting_room")
                elif i % 10 == 7:
                    fake.script(link, media_expired_after=0.0)
            created = await s.mavera.meetings.create_many(
                [lm.mavera.BotRequest(f"https://zoom.us/j/8500000{i}") for i in range(N)],
                concurrency=100,
            )
            ids = [r.value.id for r in created if r.value]
            for i, meeting_id in enumerate(ids):
                expected[meeting_id] = {3: "fatal", 7: "done_or_expired"}.get(i % 10, "done")
            for meeting_id in ids[5::20]:
                await s.mavera.meetings.cancel(meeting_id)
                expected[meeting_id] = "cancelled"
            fake.inject(
                "status", rate=0.05, status=503, retry_after=0.01, route="GET /meetings/{id}"
            )
            fake.inject(
                "status", rate=0.02, status=429, retry_after=0.01, route="GET /meetings/{id}"
            )
            fake.inject("drop", rate=0.01, route="GET /meetings/{id}")
            fake.inject("stale", rate=0.10, route="GET /meetings/{id}")
            reported: dict[str, list[int]] = collections.defaultdict(list)

            def on_status(m: Meeting) -> None:
                reported[m.id].append(STATUS_RANK.get(m.status, -1))

            policy = lm.PollPolicy(time_scale=SCALE)
            outcomes = await asyncio.gather(
                *(s.mavera.meetings.wait(i, poll=policy, on_status=on_status) for i in ids),
                return_exceptions=True,
            )
    got: collections.Counter[str] = collections.Counter()
    for meeting_id, result in zip(ids, outcomes, strict=True):
        if isinstance(result, Meeting):
            status = str(result.status)
        elif isinstance(result, lm.BotFailedError):
            status = str(result.meeting.status)
        else:
            status = type(result).__name__
        got[status] += 1
        want = expected[meeting_id]
        assert (
            status in ("done", "media_expired") if want == "done_or_expired" else status == want
        ), (meeting_id, status, want)
    print(
        f"\nchaos waits: {len(ids)} bots, faults injected {dict(fake.faults.counts)}, outcomes {dict(got)}"
    )
    assert all(r == sorted(set(r)) for r in reported.values())


async def test_cancel_mid_chaos_leaves_nothing() -> None:
    """Cancelling a bulk run and a crowd of waits mid-chaos: no task, no connection left,
    and the session serves the next call."""
    async with FakeServer(rpm=None, time_scale=SCALE, seed=5) as fake:
        chaos_on_creates(fake)
        async with fake.session(timeout=0.25) as s:
            bulk = asyncio.create_task(
                s.mavera.meetings.create_many(
                    [lm.mavera.BotRequest(f"https://zoom.us/j/8500000{i}") for i in range(N)],
                    concurrency=100,
                )
            )
            await asyncio.sleep(0.3)
            bulk.cancel()
            with pytest.raises(asyncio.CancelledError):
                await bulk
            assert client_tasks() == [] and open_connections(s) == 0
            fake.clear_faults()
            # Bots that never finish: the crowd is surely still waiting when cancelled.
            stuck = [f"https://zoom.us/j/8600000{i}" for i in range(300)]
            for link in stuck:
                fake.script(link, stuck_in_waiting_room=True)
            made = await s.mavera.meetings.create_many(
                [lm.mavera.BotRequest(link) for link in stuck], concurrency=50
            )
            ids = [r.value.id for r in made if r.value is not None]
            assert len(ids) == 300
            fake.inject("latency", rate=0.5, delay=0.2, route="GET /meetings/{id}")
            with set_testing(False):
                crowd = asyncio.gather(
                    *(
                        s.mavera.meetings.wait(i, poll=lm.PollPolicy(time_scale=SCALE / 20))
                        for i in ids
                    )
                )
                await asyncio.sleep(0.3)
                crowd.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await crowd
            await asyncio.sleep(0)
            assert client_tasks() == [] and open_connections(s) == 0
            fake.clear_faults()
            assert (await s.mavera.usage.get()).object == "usage"
    print(
        f"\ncancelled mid-run: created {len(fake.bots)} of {N} before the cancel; leaked tasks 0, connections 0"
    )


async def test_server_closing_every_connection() -> None:
    """A server that closes every connection: typed errors, a GET retried, a POST not."""
    async with FakeServer(rpm=None) as fake, fake.session(timeout=1.0) as s:
        fake.inject("drop_before", rate=1.0)
        async with asyncio.timeout(10):
            with pytest.raises(lm.APIConnectionError):
                await s.mavera.usage.get()
            with pytest.raises(lm.APIConnectionError):
                await s.mavera.meetings.create("https://zoom.us/j/85000001")
    # aiohttp itself re-sends an idempotent GET once when a kept-alive connection turns
    # out dead, so 3 attempts may reach the server up to 6 times; a POST never is.
    assert 3 <= len(fake.requests_to("GET", "/usage")) <= 6
    assert len(fake.requests_to("POST", "/meetings")) == 1


async def test_server_never_answering() -> None:
    """A server that accepts and never answers: APITimeoutError within the timeouts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    try:
        async with lm.AsyncSession(
            lyra_api_key="lyra_" + "x" * 24, lyra_base_url=url, timeout=0.2
        ) as s:
            async with asyncio.timeout(5):
                with pytest.raises(lm.APITimeoutError):
                    await s.lyra.meetings.create("T")
    finally:
        listener.close()


async def test_server_answering_html_with_200() -> None:
    """A 200 with an HTML page (a captive proxy) is a ResponseValidationError."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        fake.inject("html", status=200)
        with pytest.raises(lm.ResponseValidationError, match="not valid JSON"):
            await s.mavera.usage.get()
        with pytest.raises(lm.ResponseValidationError):
            await s.lyra.auth.verify()
