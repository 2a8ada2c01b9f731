"""Following bots from a fleet of real arq workers on a real Redis."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest

pytest.importorskip("arq")

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

import lyra_mavera as lm
from lyra_mavera.contrib.arq import follow
from lyra_mavera.testing import FakeServer

SCALE = 40.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_port() -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing: .ci/run installs it")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
async def redis(redis_port: int) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings(port=redis_port))
    yield pool
    await pool.aclose()


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.arq_worker"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )


async def test_fleet_follows_bots_and_survives_a_killed_worker(
    redis: ArqRedis, redis_port: int
) -> None:
    """200 bots, 3 workers, one killed mid-run: every bot reaches its true outcome, each
    terminal hook fires exactly once, and the fleet stays within the key's limit."""
    async with FakeServer(rpm=100, window=2.0, time_scale=SCALE, seed=1) as fake:
        expected = {}
        creator = fake.add_key(
            "mavera", rpm=None
        )  # creating bots does not spend the fleet's budget
        async with fake.session(mavera_api_key=creator) as s:
            for i in range(200):
                link = f"https://zoom.us/j/8500000{i}"
                if i % 10 == 1:
                    fake.script(link, fatal_at="in_waiting_room")
                elif i % 10 == 2:
                    fake.script(link, stuck_in_waiting_room=True)
            created = await s.mavera.meetings.create_many(
                [lm.mavera.BotRequest(f"https://zoom.us/j/8500000{i}") for i in range(200)],
                concurrency=50,
            )
        fleet_key = fake.add_key("mavera", rpm=100, window=2.0)
        ids = []
        for i, result in enumerate(created):
            assert result.value is not None
            ids.append(result.value.id)
            expected[result.value.id] = {1: ("failed", "fatal"), 2: ("timeout", None)}.get(
                i % 10, ("done", "done")
            )
        # The fleet key must own the bots: give them to it (the fake scopes bots by key).
        for bot in fake.bots:
            bot.key = fleet_key
        deadline = time.time() + 20.0  # the stuck bots end in "timeout" here
        for meeting_id in ids:
            assert await follow(
                redis,
                meeting_id,
                deadline=deadline,
                hook="record_final",
                poll=lm.PollPolicy(time_scale=SCALE),
            )
        assert not await follow(redis, ids[0], hook="record_final")  # already followed
        env = {
            "MAVERA_API_KEY": fleet_key,
            "MAVERA_BASE_URL": fake.mavera_base_url,
            "LM_REDIS_PORT": str(redis_port),
            "LM_TIME_SCALE": str(SCALE),
            "LM_RPM": "100",
            "LM_WINDOW": "2.0",
        }
        workers = [_start_worker(env) for _ in range(3)]
        killed_at = None
        try:
            finals: list[list[object]] = []
            for _ in range(1200):
                await asyncio.sleep(0.05)
                finals = [json.loads(x) for x in await redis.lrange("test:finals", 0, -1)]
                if killed_at is None and len(finals) >= 20:
                    workers[0].send_signal(signal.SIGKILL)  # no polite shutdown
                    killed_at = len(finals)
                if len(finals) >= 200:
                    break
            await asyncio.sleep(0.5)  # anything doubled would show up now
            finals = [json.loads(x) for x in await redis.lrange("test:finals", 0, -1)]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGINT)
            for worker in workers:
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    worker.kill()
    per_bot = collections.Counter(f[0] for f in finals)
    outcomes = collections.Counter(f[1] for f in finals)
    print(
        f"\narq fleet: 200 bots, 3 workers (one SIGKILLed after {killed_at} finals), outcomes {dict(outcomes)}, requests {fake.counters['GET /meetings/{id}']}, 429s {fake.counters['rate_limited']}"
    )
    assert killed_at is not None
    assert len(per_bot) == 200
    # Exactly once, but for a hook that was running on the worker we killed: arq runs
    # that job again elsewhere (no queue can tell "died before" from "died after").
    killed_pid = workers[0].pid
    for meeting_id, count in per_bot.items():
        if count > 1:
            pids = [f[3] for f in finals if f[0] == meeting_id]
            assert count == 2 and killed_pid in pids, (meeting_id, pids)
    for meeting_id, outcome, status, _ in finals:
        want_outcome, want_status = expected[meeting_id]  # type: ignore[index]
        assert outcome == want_outcome, (meeting_id, outcome)
        if want_status is not None:
            assert status == want_status
    assert fake.counters["rate_limited"] == 0
    assert len({f[3] for f in finals}) >= 2  # more than one worker did the work


async def test_status_never_moves_backwards_across_workers(redis: ArqRedis) -> None:
    """Jobs from two 'workers' sharing Redis state: a lagging replica's older status is
    ignored, and a follow-up is enqueued under the next generation's id."""
    from lyra_mavera.contrib.arq import _OBSERVE, follow_bot

    async with FakeServer(rpm=None, time_scale=1e-6) as fake, fake.session() as s:
        bot = await s.mavera.meetings.create("https://zoom.us/j/850000042")
        ctx = {
            "lyra_mavera_session": s,
            "redis": redis,
            "lyra_mavera_observe": redis.register_script(_OBSERVE),
        }
        fake.clock.advance(10)  # in_waiting_room (6..16 s in the default script)
        assert await follow_bot(ctx, bot.id, generation=0) == "pending:in_waiting_room"
        fake.inject("stale", route="GET /meetings/{id}", times=1)  # answers joining_call
        assert await follow_bot(ctx, bot.id, generation=1) == "stale"
        state = await redis.hgetall(f"lyra-mavera:bot:{bot.id}")
        assert state[b"status"] == b"in_waiting_room"
        assert await redis.exists(f"arq:job:lyra-mavera:follow:{bot.id}:1")
        fake.clock.advance(1000)
        assert await follow_bot(ctx, bot.id, generation=2, hook="record_final") == "done"
        assert await redis.exists(f"arq:job:lyra-mavera:final:{bot.id}")


async def test_follow_defers_until_join_at(redis: ArqRedis) -> None:
    """A bot joining in an hour is first polled join_lead seconds before, not now."""
    from datetime import UTC, datetime, timedelta

    join_at = datetime.now(UTC) + timedelta(hours=1)
    assert await follow(redis, "meeting_later", join_at=join_at, poll=lm.PollPolicy(join_lead=30))
    score = await redis.zscore("arq:queue", "lyra-mavera:follow:meeting_later:0")
    assert score is not None
    due_in = score / 1000 - time.time()
    assert 3500 < due_in < 3600
