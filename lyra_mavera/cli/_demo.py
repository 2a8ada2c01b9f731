"""``lyra-mavera demo``: the whole flow against the built-in fake server."""

from __future__ import annotations

import collections
import time
from typing import Any

from rich.console import Console
from rich.text import Text

from .. import lyra, mavera
from .._poll import PollPolicy
from ..testing import FakeServer
from ._output import EXIT_OK, Output
from ._progress import progress_bar

__all__ = ["run_demo"]


async def run_demo(out: Output, *, meetings: int, bots: int, time_scale: float) -> int:
    started = time.perf_counter()
    say = out.note if out.json else out.line
    console = out.err if out.json else Console(soft_wrap=True, markup=False, emoji=False)
    poll = PollPolicy(time_scale=time_scale)
    # A realistic key: Mavera's Enterprise tier (600/min), and some 503s on status polls
    # so the retries have something to do. Seeded: every run is the same.
    async with FakeServer(time_scale=time_scale, rpm=600, seed=7) as fake:
        fake.inject("status", rate=0.03, status=503, retry_after=0.05, route="GET /meetings/{id}")
        say(f"FakeServer on {fake.base_url} (bots live {time_scale:g}x faster)")
        async with fake.session() as s:
            identity = await s.lyra.auth.verify()
            say(f"1. Lyra key verified: user {identity.user_id}, org {identity.org_id}")
            meeting = await s.lyra.meetings.create("Customer kickoff", attendees=["alex@acme.com"])
            say(f"2. Lyra meeting {meeting.id}: {meeting.url}")
            zoom = "https://zoom.us/j/5550001234"
            bot = await s.mavera.meetings.create(zoom, title="Customer kickoff notes")
            say(f"3. Mavera bot {bot.id} sent into {zoom}")
            with out.err.status(Text(f"   {bot.id}: {bot.status}")) as status:

                def show(m: mavera.Meeting) -> None:
                    status.update(Text(f"   {bot.id}: {m.status}"))

                done = await s.mavera.meetings.wait(bot.id, poll=poll, on_status=show)
            transcript = await s.mavera.meetings.transcript(bot.id, format="text")
            say(f"   {bot.id}: {done.status}; transcript starts {transcript.text[:40]!r}")

            with progress_bar(out, console=console) as bar:
                task = bar.add_task(f"4. {meetings} Lyra meetings", total=meetings, note="")
                lyra_results = await s.lyra.meetings.create_many(
                    [
                        lyra.MeetingRequest(f"Demo meeting {i}", attendees=f"guest{i}@acme.com")
                        for i in range(meetings)
                    ],
                    concurrency=20,
                    on_progress=lambda done_, _: bar.update(task, completed=done_),
                )
                task = bar.add_task(f"5. {bots} Mavera bots", total=bots, note="")
                bot_results = await s.mavera.meetings.create_many(
                    [
                        mavera.BotRequest(
                            f"https://zoom.us/j/{5550002000 + i}", title=f"Demo bot {i}"
                        )
                        for i in range(bots)
                    ],
                    concurrency=20,
                    on_progress=lambda done_, _: bar.update(task, completed=done_),
                )
                ids = [r.value.id for r in bot_results if r.value is not None]
                task = bar.add_task(f"6. following {len(ids)} bots", total=len(ids), note="")
                followed = await s.mavera.meetings.wait_many(
                    ids,
                    poll=poll,
                    on_status=lambda m: bar.update(task, completed=0) if False else None,
                )
                bar.update(task, completed=len(followed))
            stats = s.stats
    outcomes = collections.Counter(
        getattr(v, "status", type(v).__name__) for v in followed.values()
    )
    summary: dict[str, Any] = {
        "lyra_meetings": {
            "ok": sum(r.ok for r in lyra_results),
            "failed": sum(not r.ok for r in lyra_results),
        },
        "mavera_bots": {
            "ok": sum(r.ok for r in bot_results),
            "failed": sum(not r.ok for r in bot_results),
        },
        "bots_followed": {str(k): v for k, v in outcomes.items()},
        "requests": stats.attempts,
        "retries": stats.retries,
        "rate_limited_429": stats.rate_limited,
        "elapsed_seconds": round(time.perf_counter() - started, 2),
    }
    human = (
        f"\nSummary: {summary['lyra_meetings']['ok']}/{meetings} Lyra meetings, "
        f"{summary['mavera_bots']['ok']}/{bots} Mavera bots, followed to "
        f"{', '.join(f'{k} {v}' for k, v in summary['bots_followed'].items()) or 'nothing'}; "
        f"{stats.attempts} requests, {stats.retries} retries, {stats.rate_limited} 429s, "
        f"{summary['elapsed_seconds']}s"
    )
    out.emit(summary, human=human)
    return EXIT_OK
