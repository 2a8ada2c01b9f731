"""Following bots from a fleet of real arq workers on a real Redis."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("arq")

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job, JobDef
from arq.worker import Retry
from redis.exceptions import ConnectionError as RedisConnectionError

import lyra_mavera as lm
from lyra_mavera.contrib.arq import (
    FINAL_HOOK_ID,
    RedisRateLimiter,
    follow,
    follow_bot,
    worker_settings,
)
from lyra_mavera.testing import FakeServer
from tests.fleet import log_tails, start_worker, stop_workers

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


#: Only a guard against hangs: the fleet tests end on counts (every bot reported, the
#: queue drained), never on a deadline that a loaded machine could miss.
HANG_GUARD = 300.0
BOTS = 200


class Fleet:
    """What a fleet run left behind: every hook call, the server's truth per bot."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.finals: list[list[Any]] = []
        self.truth: dict[str, str] = {}
        self.stuck: set[str] = set()
        self.killed_pid: int | None = None
        self.killed_at: int | None = None
        self.frozen_job: str | None = None
        self.counters: collections.Counter[str] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()


async def _until(
    what: str, done: Callable[[], Awaitable[bool]], fleet: Fleet, logs: list[Path]
) -> None:
    while not await done():
        if time.monotonic() - fleet.started > HANG_GUARD:
            reported = len({f[0] for f in fleet.finals})
            tails = log_tails(logs)
            pytest.fail(f"hung waiting for {what} ({reported}/{BOTS} bots reported)\n{tails}")
        await asyncio.sleep(0.05)


async def _run_fleet(
    redis: ArqRedis,
    redis_port: int,
    tmp_path: Path,
    *,
    seed: int,
    stale_rate: float = 0.0,
    kill_after: int | None = None,
) -> Fleet:
    """200 bots (one in ten goes fatal, one in ten is stuck in the waiting room forever)
    followed by 3 real workers until every bot is reported and no job is left. With
    ``kill_after``, worker 0 is SIGKILLed while it holds a follow job, once that many
    bots are reported."""
    fleet = Fleet()
    async with FakeServer(rpm=100, window=2.0, time_scale=SCALE, seed=seed) as fake:
        creator = fake.add_key("mavera", rpm=None)  # creating bots spends no fleet budget
        async with fake.session(mavera_api_key=creator) as s:
            for i in range(BOTS):
                link = f"https://zoom.us/j/8500000{i}"
                if i % 10 == 1:
                    fake.script(link, fatal_at="in_waiting_room")
                elif i % 10 == 2:
                    fake.script(link, stuck_in_waiting_room=True)
            created = await s.mavera.meetings.create_many(
                [lm.mavera.BotRequest(f"https://zoom.us/j/8500000{i}") for i in range(BOTS)],
                concurrency=50,
            )
        fleet_key = fake.add_key("mavera", rpm=100, window=2.0)
        ids = []
        for i, result in enumerate(created):
            assert result.value is not None
            ids.append(result.value.id)
            if i % 10 == 2:
                fleet.stuck.add(result.value.id)
        # The fleet key must own the bots: give them to it (the fake scopes bots by key).
        for bot in fake.bots:
            bot.key = fleet_key
        if stale_rate:
            fake.inject("stale", stale_rate, route="GET /meetings/{id}")
        env = {
            "MAVERA_API_KEY": fleet_key,
            "MAVERA_BASE_URL": fake.mavera_base_url,
            "LM_REDIS_PORT": str(redis_port),
            "LM_TIME_SCALE": str(SCALE),
            "LM_RPM": "100",
            "LM_WINDOW": "2.0",
        }
        logs = [tmp_path / f"worker{n}.log" for n in range(3)]
        freeze = {"LM_FREEZE_AFTER": str(kill_after)} if kill_after is not None else {}
        workers = [start_worker("tests.arq_worker", {**env, **freeze}, logs[0])]
        workers += [start_worker("tests.arq_worker", env, log) for log in logs[1:]]

        async def finals() -> list[list[Any]]:
            return [json.loads(x) for x in await redis.lrange("test:finals", 0, -1)]

        async def all_ready() -> bool:
            return int(await redis.llen("test:ready")) >= len(workers)

        async def all_reported() -> bool:
            fleet.finals = await finals()
            if kill_after is not None and fleet.killed_at is None:
                frozen = await redis.get("test:frozen")
                if frozen is not None:  # worker 0 holds a follow job: kill it now
                    workers[0].send_signal(signal.SIGKILL)  # no polite shutdown
                    fleet.killed_pid, fleet.killed_at = workers[0].pid, len(fleet.finals)
                    fleet.frozen_job = frozen.decode()
            return len({f[0] for f in fleet.finals}) >= BOTS

        async def drained() -> bool:
            return int(await redis.zcard("arq:queue")) == 0

        try:
            await _until("the workers to start", all_ready, fleet, logs)
            for meeting_id in ids:
                # Only the stuck bots get a deadline, so their outcome is "timeout" and
                # every other bot's is its real one, however slow the machine.
                assert await follow(
                    redis,
                    meeting_id,
                    deadline=time.time() + 5.0 if meeting_id in fleet.stuck else None,
                    hook="record_final",
                    poll=lm.PollPolicy(time_scale=SCALE),
                )
            assert not await follow(redis, ids[0], hook="record_final")  # already followed
            await _until("every bot's final hook", all_reported, fleet, logs)
            # No job left (a killed worker's jobs run again once their mark expires):
            # whatever ran twice has shown up by now.
            await _until("the queue to drain", drained, fleet, logs)
            fleet.finals = await finals()
        finally:
            stop_workers(workers)
        now = fake.clock.now()
        fleet.truth = {bot.id: bot.status(now) for bot in fake.bots}
        fleet.counters = fake.counters.copy()
        fleet.faults = fake.faults.counts.copy()
    outcomes = collections.Counter(f[1] for f in fleet.finals)
    print(
        f"\narq fleet: {BOTS} bots, 3 workers (killed one after {fleet.killed_at} finals), "
        f"stale answers {fleet.faults['stale']}, outcomes {dict(outcomes)}, "
        f"requests {fleet.counters['GET /meetings/{id}']}, "
        f"429s {fleet.counters['rate_limited']}, {time.monotonic() - fleet.started:.1f}s"
    )
    return fleet


def _assert_true_outcomes(fleet: Fleet) -> None:
    """Each hook call reports what the server says: done, fatal, or (the stuck bots)
    the deadline."""
    assert {f[0] for f in fleet.finals} == set(fleet.truth)
    for meeting_id, outcome, status, _ in fleet.finals:
        truth = fleet.truth[meeting_id]
        if meeting_id in fleet.stuck:
            assert (outcome, status, truth) == ("timeout", None, "in_waiting_room")
        else:
            want = {"done": "done", "fatal": "failed"}[truth]
            assert (outcome, status) == (want, truth), meeting_id


async def test_fleet_follows_bots_and_survives_a_killed_worker(
    redis: ArqRedis, redis_port: int, tmp_path: Path
) -> None:
    """200 bots, 3 workers, one killed mid-run: every bot reaches its true outcome, each
    terminal hook fires exactly once, and the fleet stays within the key's limit."""
    fleet = await _run_fleet(redis, redis_port, tmp_path, seed=1, kill_after=20)
    assert fleet.killed_at is not None
    assert fleet.frozen_job is not None  # the killed worker held this job: arq ran it again
    _assert_true_outcomes(fleet)
    # Exactly once, but for a hook that was running on the worker we killed: arq runs
    # that job again elsewhere (no queue can tell "died before" from "died after").
    per_bot = collections.Counter(f[0] for f in fleet.finals)
    for meeting_id, count in per_bot.items():
        if count > 1:
            pids = [f[3] for f in fleet.finals if f[0] == meeting_id]
            assert count == 2 and fleet.killed_pid in pids, (meeting_id, pids)
    assert fleet.counters["rate_limited"] == 0
    assert len({f[3] for f in fleet.finals}) >= 2  # more than one worker did the work


async def test_fleet_loses_no_bot_to_stale_answers(
    redis: ArqRedis, redis_port: int, tmp_path: Path
) -> None:
    """With a quarter of the answers coming from a lagging replica, every bot is still
    followed to its true outcome and its hook runs exactly once."""
    fleet = await _run_fleet(redis, redis_port, tmp_path, seed=7, stale_rate=0.25)
    assert fleet.faults["stale"] >= 40  # about a quarter of some 300 answers
    _assert_true_outcomes(fleet)
    assert collections.Counter(f[0] for f in fleet.finals) == dict.fromkeys(fleet.truth, 1)
    assert fleet.counters["rate_limited"] == 0


# -- one job at a time, run by hand as arq would run it --------------------------------


@contextlib.asynccontextmanager
async def _job_context(
    redis: ArqRedis, session_factory: Callable[[], lm.AsyncSession], **options: Any
) -> AsyncIterator[dict[str, Any]]:
    """The context a worker built by ``worker_settings(**options)`` hands its jobs."""
    settings = worker_settings(session_factory=session_factory, **options)
    ctx: dict[str, Any] = {"redis": redis}
    await settings["on_startup"](ctx)
    try:
        yield ctx
    finally:
        await settings["on_shutdown"](ctx)


async def _queued(redis: ArqRedis, meeting_id: str, generation: int) -> JobDef | None:
    """The follow job of ``generation`` for the bot, if one was enqueued."""
    info: JobDef | None = await Job(f"lyra-mavera:follow:{meeting_id}:{generation}", redis).info()
    return info


def _deferred_by(job: JobDef) -> float:
    assert job.score is not None
    return float(job.score / 1000 - job.enqueue_time.timestamp())


async def _run(ctx: dict[str, Any], job: JobDef) -> str:
    assert job.function == "follow_bot"
    result: str = await follow_bot(ctx, *job.args, **job.kwargs)
    return result


async def _new_bot(fake: FakeServer) -> str:
    async with fake.session() as s:
        bot = await s.mavera.meetings.create("https://zoom.us/j/850000042")
    return bot.id


@pytest.mark.usefixtures("real_waits")
async def test_stale_answer_keeps_following_at_the_cadence_on_record(redis: ArqRedis) -> None:
    """A job whose answer is older than the status on record records nothing and
    enqueues its successor at the cadence of the status on record."""
    async with FakeServer(rpm=None, time_scale=1e-6) as fake:
        meeting_id = await _new_bot(fake)
        async with _job_context(redis, fake.session) as ctx:
            fake.clock.advance(10)  # in_waiting_room (6..16 s in the default script)
            assert await follow_bot(ctx, meeting_id) == "pending:in_waiting_room"
            fake.inject("stale", route="GET /meetings/{id}", times=1)  # answers joining_call
            job = await _queued(redis, meeting_id, 1)
            assert job is not None
            assert await _run(ctx, job) == "stale:in_waiting_room"
            state = await redis.hgetall(f"lyra-mavera:bot:{meeting_id}")
            assert state[b"status"] == b"in_waiting_room"
            successor = await _queued(redis, meeting_id, 2)
            assert successor is not None, "a stale answer ended the chain"
            assert successor.kwargs["errors"] == 0
            assert 4.5 - 0.01 <= _deferred_by(successor) <= 5.5  # in_waiting_room: 5 s +-10%
            fake.clock.advance(1000)
            assert await _run(ctx, successor) == "done"


@pytest.mark.usefixtures("real_waits")
async def test_failed_polls_back_off_longer_with_each_failure_in_a_row(redis: ArqRedis) -> None:
    """Each failed poll in a row defers the successor longer (the count travels in the
    job's arguments), and the first good answer resets it."""
    async with FakeServer(rpm=None, time_scale=1e-6) as fake:
        meeting_id = await _new_bot(fake)
        fake.inject("status", status=503, route="GET /meetings/{id}", times=3)
        one_try = functools.partial(fake.session, retry=lm.RetryPolicy(attempts=1))
        async with _job_context(redis, one_try) as ctx:
            results = [await follow_bot(ctx, meeting_id)]
            seen = []
            for generation in range(1, 5):
                job = await _queued(redis, meeting_id, generation)
                assert job is not None
                seen.append((job.kwargs["errors"], _deferred_by(job)))
                if generation < 4:
                    results.append(await _run(ctx, job))
    assert results == ["retry", "retry", "retry", "pending:pending"]
    assert [errors for errors, _ in seen] == [1, 2, 3, 0]
    # PollPolicy().error_delay: 2 s doubling per failure, plus up to 0.2 s of jitter.
    for errors, delay in seen[:3]:
        assert 2.0**errors - 0.01 <= delay <= 2.0**errors + 0.21, seen
    assert 9.0 - 0.01 <= seen[3][1] <= 11.0  # back to the pending cadence: 10 s +-10%


async def test_max_errors_failed_polls_in_a_row_end_the_bot_once(redis: ArqRedis) -> None:
    """``PollPolicy.max_errors`` failed polls in a row end the bot with outcome
    ``error``: the hook runs once and no successor follows."""
    calls: list[tuple[str, str]] = []

    async def on_final(meeting_id: str, meeting: lm.mavera.Meeting | None, outcome: str) -> None:
        calls.append((meeting_id, outcome))

    async with FakeServer(rpm=None, time_scale=1e-6) as fake:
        meeting_id = await _new_bot(fake)
        fake.inject("status", status=503, route="GET /meetings/{id}")
        one_try = functools.partial(fake.session, retry=lm.RetryPolicy(attempts=1))
        async with _job_context(
            redis, one_try, poll=lm.PollPolicy(max_errors=3), on_final=on_final
        ) as ctx:
            results = [await follow_bot(ctx, meeting_id, hook="record_final")]
            for generation in (1, 2):
                job = await _queued(redis, meeting_id, generation)
                assert job is not None
                results.append(await _run(ctx, job))
            assert results == ["retry", "retry", "error"]
            assert await _queued(redis, meeting_id, 3) is None
            # The same job run again (its worker died after finishing): still once.
            assert job is not None
            assert await _run(ctx, job) == "error"
            assert await _queued(redis, meeting_id, 3) is None
        hook = await Job(FINAL_HOOK_ID.format(meeting_id=meeting_id), redis).info()
    assert calls == [(meeting_id, "error")]
    assert hook is not None
    assert (hook.function, hook.args) == ("record_final", (meeting_id, None, "error"))


@pytest.mark.usefixtures("real_waits")
async def test_long_retry_after_defers_jobs_instead_of_parking_workers(
    redis: ArqRedis,
) -> None:
    """A 429 asking for an hour re-enqueues the job an hour later, and the fleet-wide
    pause it sets defers other bots' jobs too, without sending or sleeping."""
    async with FakeServer(rpm=None, time_scale=1e-6) as fake:
        first, second = await _new_bot(fake), await _new_bot(fake)
        fake.inject("status", status=429, retry_after=3600, route="GET /meetings/{id}", times=1)
        async with _job_context(redis, fake.session, job_timeout=4) as ctx:
            async with asyncio.timeout(60):  # a guard: the bug parked the job for an hour
                assert await follow_bot(ctx, first) == "retry"
                sent = fake.counters["GET /meetings/{id}"]
                assert await follow_bot(ctx, second) == "deferred"
            assert fake.counters["GET /meetings/{id}"] == sent  # nothing sent while paused
        retry = await _queued(redis, first, 1)
        deferred = await _queued(redis, second, 1)
    assert retry is not None
    assert deferred is not None
    assert retry.kwargs["errors"] == 1
    assert deferred.kwargs["errors"] == 0  # not the second bot's failure
    assert 3599 <= _deferred_by(retry) <= 3601  # the server's Retry-After
    assert 3000 <= _deferred_by(deferred) <= 3601  # what is left of the pause: about an hour


async def test_slow_answer_counts_as_a_failed_poll_within_the_job_timeout(
    redis: ArqRedis,
) -> None:
    """An answer slower than the job's budget (half of ``job_timeout``) counts as a failed
    poll and enqueues the successor, instead of letting arq fail the job and end the
    chain."""
    async with FakeServer(rpm=None, time_scale=1e-6) as fake:
        meeting_id = await _new_bot(fake)
        fake.inject("latency", delay=3.0, route="GET /meetings/{id}", times=1)
        one_try = functools.partial(fake.session, retry=lm.RetryPolicy(attempts=1))
        async with _job_context(redis, one_try, job_timeout=1) as ctx:
            async with asyncio.timeout(30):  # a guard against hangs only
                assert await follow_bot(ctx, meeting_id) == "retry"
        successor = await _queued(redis, meeting_id, 1)
    assert successor is not None
    assert successor.kwargs["errors"] == 1


async def test_redis_refusing_the_successor_has_arq_run_the_job_again(
    redis: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When Redis refuses to enqueue the successor, the job asks arq to run it again
    instead of ending the chain without one."""

    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise RedisConnectionError("Connection reset by peer")

    async with FakeServer(rpm=None, time_scale=1e-6) as fake:
        meeting_id = await _new_bot(fake)
        async with _job_context(redis, fake.session) as ctx:
            monkeypatch.setattr(redis, "enqueue_job", refuse)
            with pytest.raises(Retry):
                await follow_bot(ctx, meeting_id)


# -- the shared limiter ----------------------------------------------------------------


async def test_limiter_shares_one_window_across_skewed_worker_clocks(
    redis: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers whose clocks disagree by minutes still admit at most ``rpm`` requests
    per window between them: the window runs on Redis' clock."""
    real_time = time.time
    skew = 0.0
    monkeypatch.setattr(time, "time", lambda: real_time() + skew)

    async def fill(limiter: RedisRateLimiter) -> None:
        for _ in range(limiter.rpm):
            await limiter.settle(await limiter.acquire())

    async def admitted(limiter: RedisRateLimiter) -> bool:
        try:
            async with asyncio.timeout(1.0):
                await limiter.acquire()
        except TimeoutError:
            return False
        return True

    for behind_first in (True, False):
        key = f"fleet-{behind_first}"
        first = RedisRateLimiter(redis, key, rpm=5, window=30.0)
        second = RedisRateLimiter(redis, key, rpm=5, window=30.0)
        skew = -120.0 if behind_first else 0.0
        await fill(first)
        skew = 0.0 if behind_first else 120.0
        assert not await admitted(second), f"a 6th request in one window ({behind_first=})"
        assert await redis.zcard(f"lyra-mavera:ratelimit:{key}") == 5


async def test_follow_defers_until_join_at(redis: ArqRedis) -> None:
    """A bot joining in an hour is first polled join_lead seconds before, not now."""
    from datetime import UTC, datetime, timedelta

    join_at = datetime.now(UTC) + timedelta(hours=1)
    assert await follow(redis, "meeting_later", join_at=join_at, poll=lm.PollPolicy(join_lead=30))
    score = await redis.zscore("arq:queue", "lyra-mavera:follow:meeting_later:0")
    assert score is not None
    due_in = score / 1000 - time.time()
    assert 3500 < due_in < 3600
