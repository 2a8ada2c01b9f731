"""What ``wait_many`` holds per followed bot, counted with tracemalloc (no network).

``python -m benchmarks.memory [--bots N]``: follows N bots through the real
``wait_many`` with an in-process ``get`` and ``list`` that answer the FakeServer's JSON
(structured into fresh models, as a real answer would be). Every bot is answered once
with an in-progress status; the next poll of any bot is held until the bytes are
counted, so the "while waiting" figure is wait_many's own state for N bots that each
have one answer on record. Then every bot is answered ``done`` and the results are
counted: the ``done`` meetings the caller gets back.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tracemalloc
from collections.abc import AsyncGenerator
from typing import Any

import lyra_mavera as lm
from lyra_mavera._convert import structure
from lyra_mavera.mavera import Meeting
from lyra_mavera.testing import set_testing

_COMMON = {
    "object": "meeting",
    "title": None,
    "bot_name": "Mavera Notetaker",
    "join_type": "adhoc",
    "join_at": None,
    "workspace_id": "ws_default",
    "created_at": "2026-11-22T11:27:46Z",
    "meeting_url": "https://zoom.us/j/85000001",
    "cancelled_at": None,
    "cancelled_by": None,
    "cancel_reason": None,
    "task_count": 0,
    "tasks": [],
    "decisions": [],
    "decision_count": 0,
}
#: The FakeServer's answers (GET /meetings/{id}), in progress and done.
WAITING = {
    **_COMMON,
    "status": "in_waiting_room",
    "completed_at": None,
    "recording_url": None,
    "participants": [],
    "participant_count": 0,
    "transcript": None,
    "has_transcript": False,
    "analysis": None,
    "updated_at": "2026-11-22T11:27:52Z",
}
DONE = {
    **_COMMON,
    "status": "done",
    "completed_at": "2026-11-22T11:29:22Z",
    "recording_url": "https://files.mavera.example/rec/@ID@.mp4",
    "participants": [{"name": "Alex", "email": "alex@acme.com", "role": "host"}],
    "participant_count": 1,
    "transcript": {"duration_seconds": 60.0, "total_words": 120, "participant_stats": {}},
    "has_transcript": True,
    "analysis": {
        "id": "an_@ID@",
        "status": "completed",
        "version": 1,
        "processing_time_ms": 1200,
        "created_at": "2026-11-22T11:29:22Z",
        "updated_at": "2026-11-22T11:29:22Z",
    },
    "updated_at": "2026-11-22T11:29:22Z",
}


class _Bots:
    """The in-process server: answers once in progress, then holds until released."""

    def __init__(self, n: int) -> None:
        self.ids = [f"meeting_{i:06d}" for i in range(n)]
        self.answered = bytearray(n)
        self.count = 0
        self.release = asyncio.Event()
        self.all_answered = asyncio.Event()
        self.bodies = {
            key: json.dumps({"id": "@ID@", **value}).encode()
            for key, value in (("waiting", WAITING), ("done", DONE))
        }

    async def _answer(self, meeting_id: str) -> Meeting:
        index = int(meeting_id.rpartition("_")[2])
        if self.answered[index]:
            await self.release.wait()
        else:
            self.answered[index] = 1
            self.count += 1
            if self.count == len(self.ids):
                self.all_answered.set()
        body = self.bodies["done" if self.release.is_set() else "waiting"]
        data = json.loads(body.replace(b"@ID@", meeting_id.encode()))
        return structure(data, Meeting, provider="mavera")

    async def get(self, meeting_id: str) -> Meeting:
        return await self._answer(meeting_id)

    async def listing(self, *, page_size: int = 100) -> AsyncGenerator[Meeting, None]:
        for meeting_id in reversed(self.ids):  # newest first, as Mavera pages
            yield await self._answer(meeting_id)


async def measure(n: int, timeout: float | None = None) -> dict[str, Any]:
    """Bytes per bot while waiting, at the peak, and held by the results (with a
    ``timeout``, wait_many also keeps each bot's last meeting)."""
    bots = _Bots(n)
    # The scheduler as Meetings.wait_many builds it, on the in-process server.
    from lyra_mavera.mavera._wait_many import wait_many

    policy = lm.PollPolicy(time_scale=100.0, jitter=0.0)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    task = asyncio.create_task(
        wait_many(
            bots.get,
            bots.listing,
            bots.ids,
            timeout=timeout,
            policy=policy,
            concurrency=20,
            on_status=None,
        )
    )
    await bots.all_answered.wait()
    await asyncio.sleep(0.05)  # the last answers are taken in
    gc.collect()
    waiting = tracemalloc.get_traced_memory()[0] - base
    bots.release.set()
    results = await task
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    done = sum(isinstance(r, Meeting) for r in results.values())
    return {
        "bots": n,
        "done": done,
        "waiting_bytes_per_bot": waiting / n,
        "peak_bytes_per_bot": peak / n,
        "results_bytes_per_bot": held / n,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--bots", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, help="wait_many's timeout (default: none)")
    arguments = parser.parse_args()
    set_testing(False)
    print(asyncio.run(measure(arguments.bots, arguments.timeout)))
