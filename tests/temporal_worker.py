"""A Temporal worker for the tests: ``python -m tests.temporal_worker`` with the settings
in the environment (the dev server's address, FakeServer's URL and key, the task
queue, the fleet's request rate, where the hook writes)."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from typing import Any

from temporalio import activity

import lyra_mavera as lm
from lyra_mavera.contrib import temporal


@activity.defn(name="record_final")
async def record_final(result: dict[str, Any]) -> None:
    """The "on finished" hook: one line per call, appended to a file the test reads."""
    status = result["meeting"]["status"] if result["meeting"] else None
    line = json.dumps([result["meeting_id"], result["outcome"], status, os.getpid()]) + "\n"
    fd = os.open(os.environ["LM_HOOK_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())  # one short O_APPEND write: lines never interleave
    finally:
        os.close(fd)


def session() -> lm.AsyncSession:
    # Keys and base URLs from the environment; one request per activity. The fake's
    # window is short (Mavera's is the default, 60 s), and a worker joining a key the
    # others use never sees a fresh window to read it off.
    return lm.AsyncSession(
        retry=lm.RetryPolicy(attempts=1), rate_limit_window=float(os.environ["LM_WINDOW"])
    )


async def main() -> None:
    client = await temporal.client(os.environ["LM_TEMPORAL"])
    async with temporal.worker(
        client,
        task_queue=os.environ["LM_QUEUE"],
        session_factory=session,
        requests_per_second=float(os.environ["LM_RPS"]),
        activities=[record_final],
        workflow_failure_exception_types=[Exception],
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
    ):
        fd = os.open(os.environ["LM_READY"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
