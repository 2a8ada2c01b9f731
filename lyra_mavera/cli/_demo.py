"""``lyra-mavera demo``: the whole flow against the built-in fake server, explained as
it goes, ending with what to do next."""

from __future__ import annotations

import collections
import time
from typing import Any

from rich.console import Console
from rich.text import Text

import lyra_mavera as lm
from lyra_mavera.testing import FakeServer

from ._output import EXIT_OK, Output
from ._progress import RateWatch, progress_bar, step

__all__ = ["preview", "run_demo"]

#: Share of status polls the demo's fake answers with a 503, so retries can be seen.
FAULT_RATE = 0.03

NEXT_STEPS = """\
Next steps:
  - Real keys: export LYRA_API_KEY=<your key> and export MAVERA_API_KEY=<your key>, then
    run: lyra-mavera lyra verify
  - A local fake for trying commands: run `lyra-mavera fake-server --time-scale 60` in
    one terminal and paste the export lines it prints into another; then e.g.
    lyra-mavera mavera create-bot https://zoom.us/j/123456789 --wait --time-scale 60
  - Every command: lyra-mavera --help (and COMMAND --help). Docs: the README's
    "Command line" section; bulk runs from CSV: lyra-mavera bulk mavera --help"""


def preview(text: str, *, lines: int = 2, width: int = 72) -> list[str]:
    """The first ``lines`` non-blank lines of ``text``, each cut at a word boundary
    to at most ``width`` characters (with an ellipsis when cut)."""
    shown = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if len(line) > width:
            cut = line[: width - 1]
            space = cut.rfind(" ")
            line = (cut[:space] if space > width // 2 else cut).rstrip(" ,;:") + "…"
        shown.append(line)
        if len(shown) == lines:
            break
    return shown


async def run_demo(out: Output, *, meetings: int, bots: int, time_scale: float) -> int:
    started = time.perf_counter()
    say = out.note if out.json else out.line
    poll = lm.PollPolicy(time_scale=time_scale)
    watch = RateWatch()
    console = out.err if out.json else Console(soft_wrap=True, markup=False, emoji=False)
    # A realistic key: Mavera's Enterprise tier (600/min), and some 503s on status polls
    # so the retries have something to do. Seeded: every run is the same.
    async with FakeServer(time_scale=time_scale, rpm=600, seed=7) as fake:
        fake.inject(
            "status", rate=FAULT_RATE, status=503, retry_after=0.05, route="GET /meetings/{id}"
        )
        say(f"FakeServer on {fake.base_url}: Lyra and Mavera on this machine, no keys needed.")
        say(
            f"   Bots live {time_scale:g}x faster than real time, and {FAULT_RATE:.0%} of "
            "status polls are answered 503 on purpose, so you can watch the SDK retry them."
        )
        async with fake.session(middlewares=[watch]) as s:
            identity = await s.lyra.auth.verify()
            say(f"1. Lyra key verified: user {identity.user_id}, org {identity.org_id}")
            meeting = await s.lyra.meetings.create("Customer kickoff", attendees=["alex@acme.com"])
            say(f"2. Lyra meeting {meeting.id}: {meeting.url}")
            zoom = "https://zoom.us/j/5550001234"
            bot = await s.mavera.meetings.create(zoom, title="Customer kickoff notes")
            say(f"3. Mavera bot {bot.id} sent into {zoom}; following it until it is done")
            with out.err.status(Text(f"   {bot.id}: {bot.status}")) as status:

                def show(m: lm.mavera.Meeting) -> None:
                    status.update(Text(f"   {bot.id}: {m.status}"))

                done = await s.mavera.meetings.wait(bot.id, poll=poll, on_status=show)
            transcript = await s.mavera.meetings.transcript(bot.id, format="text")
            say(f"   {bot.id}: {done.status}; its transcript begins:")
            for line in preview(transcript.text):
                say(f"     {line}")

            with progress_bar(out, console=console) as bar:
                async with step(
                    out, watch, bar, f"4. {meetings} Lyra meetings", total=meetings
                ) as task:
                    lyra_results = await s.lyra.meetings.create_many(
                        [
                            lm.lyra.MeetingRequest(
                                f"Demo meeting {i}", attendees=f"guest{i}@acme.com"
                            )
                            for i in range(meetings)
                        ],
                        concurrency=20,
                        on_progress=lambda done_, _: bar.update(task, completed=done_),
                    )
                async with step(out, watch, bar, f"5. {bots} Mavera bots", total=bots) as task:
                    bot_results = await s.mavera.meetings.create_many(
                        [
                            lm.mavera.BotRequest(
                                f"https://zoom.us/j/{5550002000 + i}", title=f"Demo bot {i}"
                            )
                            for i in range(bots)
                        ],
                        concurrency=20,
                        on_progress=lambda done_, _: bar.update(task, completed=done_),
                    )
                ids = [r.value.id for r in bot_results if r.value is not None]
                finished: set[str] = set()
                following = f"6. following {len(ids)} bots"
                async with step(out, watch, bar, following, total=len(ids)) as task:

                    def one_more(m: lm.mavera.Meeting) -> None:
                        if m.is_terminal and m.id not in finished:
                            finished.add(m.id)
                            bar.update(task, completed=len(finished))

                    followed = await s.mavera.meetings.wait_many(ids, poll=poll, on_status=one_more)
                    bar.update(task, completed=len(followed))
            stats = s.stats
        injected = fake.counters["status_503"]
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
        "injected_503s": injected,
        "rate_limited_429": stats.rate_limited,
        "elapsed_seconds": round(time.perf_counter() - started, 2),
    }
    human = (
        f"\nSummary: {summary['lyra_meetings']['ok']}/{meetings} Lyra meetings, "
        f"{summary['mavera_bots']['ok']}/{bots} Mavera bots, followed to "
        f"{', '.join(f'{k} {v}' for k, v in summary['bots_followed'].items()) or 'nothing'}; "
        f"{stats.attempts} requests, {stats.retries} retries (answering the {injected} "
        f"injected 503s), {stats.rate_limited} 429s, {summary['elapsed_seconds']}s"
    )
    out.emit(summary, human=human)
    for line in ("", *NEXT_STEPS.splitlines()):
        say(line)
    return EXIT_OK
