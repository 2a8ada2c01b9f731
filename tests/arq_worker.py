"""An arq worker for the tests: ``python -m tests.arq_worker`` with the settings in the
environment (FakeServer's URLs and key, the Redis port, the clock speed, the limit)."""

from __future__ import annotations

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
)

if __name__ == "__main__":
    run_worker(settings)  # type: ignore[arg-type]
