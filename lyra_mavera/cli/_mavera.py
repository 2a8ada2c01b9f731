"""``lyra-mavera mavera``: send notetaker bots, follow them, read what they recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.text import Text

import lyra_mavera as lm

from ._output import Output
from ._runner import common, parse_when, session_command, time_scale_option

__all__ = ["mavera", "transcript_text"]


@click.group()
@common
def mavera() -> None:
    """Mavera notetaker bots."""


def _meeting_line(meeting: Any) -> str:
    title = f"  {meeting.title}" if meeting.title else ""
    return f"{meeting.id}  {meeting.status}{title}"


@mavera.command("create-bot")
@common
@click.argument("url")
@click.option("--title")
@click.option("--bot-name")
@click.option("--join-at", callback=parse_when, help="When to join, ISO 8601 with an offset.")
@click.option("--workspace", "workspace_id")
@click.option(
    "--skip-link-check",
    is_flag=True,
    help="Send URL even if it is not a Zoom, Google Meet, Teams or Webex link we know.",
)
@click.option("--wait", "wait_", is_flag=True, help="Follow the bot until it is done.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="With --wait: give up after this many seconds.",
)
@time_scale_option
@click.pass_context
def create_bot(
    ctx: click.Context,
    url: str,
    title: str | None,
    bot_name: str | None,
    join_at: datetime | None,
    workspace_id: str | None,
    skip_link_check: bool,
    wait_: bool,
    timeout: float | None,
    time_scale: float | None,
) -> None:
    """Send a bot into the call at URL."""
    if not wait_:
        given = [
            name
            for name, value in (("--timeout", timeout), ("--time-scale", time_scale))
            if value is not None
        ]
        if given:
            raise click.UsageError(f"{given[0]} only applies with --wait; add --wait", ctx=ctx)

    async def go(s: lm.AsyncSession, out: Output) -> None:
        bot = await s.mavera.meetings.create(
            url,
            title=title,
            bot_name=bot_name,
            join_at=join_at,
            workspace_id=workspace_id,
            skip_link_check=skip_link_check,
        )
        if not wait_:
            out.emit(bot, human=_meeting_line(bot))
            return
        out.note(f"bot {bot.id} sent; following it")
        done = await _follow(s, out, bot.id, timeout, time_scale or 1.0)
        out.emit(done, human=_meeting_line(done))

    session_command(go)(ctx)


async def _follow(
    s: lm.AsyncSession, out: Output, meeting_id: str, timeout: float | None, time_scale: float
) -> Any:
    with out.err.status(Text(f"{meeting_id}: waiting for the first status")) as status:

        def show(meeting: Any) -> None:
            status.update(Text(f"{meeting_id}: {meeting.status}"))
            if not out.err.is_terminal:
                out.note(f"{meeting_id}: {meeting.status}")

        return await s.mavera.meetings.wait(
            meeting_id, timeout=timeout, poll=lm.PollPolicy(time_scale=time_scale), on_status=show
        )


@mavera.command()
@common
@click.argument("meeting_id")
@click.pass_context
def get(ctx: click.Context, meeting_id: str) -> None:
    """Show one meeting and its bot's status."""

    async def go(s: lm.AsyncSession, out: Output) -> None:
        out.emit(await s.mavera.meetings.get(meeting_id))

    session_command(go)(ctx)


@mavera.command("list")
@common
@click.option("--workspace", "workspace_id")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@click.pass_context
def list_(ctx: click.Context, workspace_id: str | None, limit: int | None) -> None:
    """List meetings, newest first."""

    async def go(s: lm.AsyncSession, out: Output) -> None:
        shown = 0
        async for meeting in s.mavera.meetings.list(workspace_id=workspace_id):
            out.emit(meeting, human=_meeting_line(meeting))
            shown += 1
            if limit is not None and shown >= limit:
                break

    session_command(go)(ctx)


@mavera.command()
@common
@click.argument("meeting_id")
@click.option("--reason", help="Why (up to 500 characters).")
@click.pass_context
def cancel(ctx: click.Context, meeting_id: str, reason: str | None) -> None:
    """Cancel a bot."""

    async def go(s: lm.AsyncSession, out: Output) -> None:
        result = await s.mavera.meetings.cancel(meeting_id, reason=reason)
        out.emit(result, human=f"{result.id}  {result.status}")

    session_command(go)(ctx)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def transcript_text(result: Any) -> str:
    """A transcript for people: the text or SRT as sent, or one line per segment with
    its start time and speaker."""
    if result.content is not None or not result.segments:
        return str(result.text)
    lines = []
    for segment in result.segments:
        when = f"{_clock(segment.start)}  " if segment.start is not None else ""
        who = f"{segment.speaker}: " if segment.speaker else ""
        lines.append(f"{when}{who}{segment.text}")
    return "\n".join(lines)


@mavera.command()
@common
@click.argument("meeting_id")
@click.option("--format", "fmt", type=click.Choice(["segments", "text", "srt"]), default="text")
@click.pass_context
def transcript(ctx: click.Context, meeting_id: str, fmt: str) -> None:
    """Print a finished meeting's transcript."""

    async def go(s: lm.AsyncSession, out: Output) -> None:
        result = await s.mavera.meetings.transcript(meeting_id, format=fmt)
        out.emit(result, human=transcript_text(result))

    session_command(go)(ctx)


@mavera.command()
@common
@click.argument("meeting_id")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Give up after this many seconds.",
)
@time_scale_option
@click.pass_context
def wait(
    ctx: click.Context, meeting_id: str, timeout: float | None, time_scale: float | None
) -> None:
    """Follow a bot until it is done (exit 4 if it fails or times out)."""

    async def go(s: lm.AsyncSession, out: Output) -> None:
        done = await _follow(s, out, meeting_id, timeout, time_scale or 1.0)
        out.emit(done, human=_meeting_line(done))

    session_command(go)(ctx)
