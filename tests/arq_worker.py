"""An arq worker for the tests: ``python -m tests.arq_worker`` with the settings in the
environment (FakeServer's URLs and key, the Redis port, the clock speed, the limit)."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from arq import run_worker
from arq.connections import RedisSettings

import lyra_mavera as lm
from lyra_mavera.contrib.arq import worker_settings


async def record_final(
    ctx: dict[str, Any], meeting_id: str, meeting: str | None, outcome: str
) -> None:
    """The terminal hook: one line per call in a Redis list the test reads."""
    status = json.loads(meeting)["status"] if meeting else None
    await ctx["redis"].rpush("test:finals", json.dumps([meeting_id, outcome, status, os.getpid()]))


async def freeze_once(ctx: dict[str, Any]) -> None:
    """With ``LM_FREEZE_AFTER=n``: once n bots are reported, hang in the next follow job
    (and say which in ``test:frozen``), so the test kills this worker while it holds a
    job for certain."""
    after = os.environ.get("LM_FREEZE_AFTER")
    if after is None or not ctx["job_id"].startswith("lyra-mavera:follow:"):
        return
    redis = ctx["redis"]
    if await redis.llen("test:finals") >= int(after) and await redis.set(
        "test:frozen", ctx["job_id"], nx=True
    ):
        await asyncio.Event().wait()


def session() -> lm.AsyncSession:
    return lm.AsyncSession()  # keys and base URLs from the environment


settings = worker_settings(
    session_factory=session,
    functions=[record_final],
    poll=lm.PollPolicy(time_scale=float(os.environ["LM_TIME_SCALE"])),
    rpm=int(os.environ["LM_RPM"]),
    window=float(os.environ["LM_WINDOW"]),
    redis_settings=RedisSettings(port=int(os.environ["LM_REDIS_PORT"])),
    job_timeout=3,
    max_jobs=20,
    poll_delay=0.05,
    on_job_start=freeze_once,
)

_startup = settings["on_startup"]


async def startup(ctx: dict[str, Any]) -> None:
    """The SDK's start-up, then a line telling the test this worker is ready."""
    await _startup(ctx)
    await ctx["redis"].rpush("test:ready", os.getpid())


settings["on_startup"] = startup

if __name__ == "__main__":
    run_worker(settings)  # type: ignore[arg-type]
