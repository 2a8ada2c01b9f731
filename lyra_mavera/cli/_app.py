"""The ``lyra-mavera`` commands."""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.text import Text

import lyra_mavera as lm

from ._output import EXIT_API, EXIT_INTERRUPTED, EXIT_USAGE, CliError, Output

__all__ = ["cli", "main"]

P = ParamSpec("P")
T = TypeVar("T")


def _output(ctx: click.Context) -> Output:
    out = ctx.find_object(Output)
    return out if out is not None else ctx.ensure_object(Output)


def common(fn: Callable[P, T]) -> Callable[P, T]:
    """``--json`` and ``--debug`` on every command and group, before or after its name."""

    def set_json(ctx: click.Context, _: click.Parameter, value: bool) -> None:
        if value:
            _output(ctx).json = True

    def set_debug(ctx: click.Context, _: click.Parameter, value: bool) -> None:
        if value:
            _output(ctx).debug = True

    fn = click.option(
        "--json",
        "json_",
        is_flag=True,
        expose_value=False,
        callback=set_json,
        help="Machine-readable JSON on stdout (errors too).",
    )(fn)
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=set_debug,
        help="Show tracebacks and DEBUG logs.",
    )(fn)


def run(
    ctx: click.Context,
    work: Callable[[Output], Coroutine[Any, Any, int | None]],
    *,
    stop_code: int = EXIT_INTERRUPTED,
) -> None:
    """Run a command's coroutine: errors become one line and an exit code; Ctrl-C exits
    cleanly with ``stop_code`` (130 unless Ctrl-C is how the command normally ends)."""
    out = _output(ctx)
    if out.debug:
        import logging

        logging.basicConfig(level=logging.DEBUG)
    try:
        code = asyncio.run(work(out))
    except KeyboardInterrupt:
        if stop_code:
            if out.json and not out.final_emitted:
                out.json_line({"error": {"type": "Interrupted", "message": "interrupted"}})
            out.note("interrupted")
        ctx.exit(stop_code)
    except (lm.LyraMaveraError, click.ClickException, CliError) as exc:
        if out.debug:
            raise
        ctx.exit(out.error(exc))
    ctx.exit(code or 0)


def session_command(
    fn: Callable[[lm.AsyncSession, Output], Awaitable[int | None]],
    *,
    middlewares: Sequence[lm.Middleware] = (),
) -> Callable[[click.Context], None]:
    @functools.wraps(fn)
    def wrapper(ctx: click.Context) -> None:
        async def work(out: Output) -> int | None:
            async with lm.AsyncSession(middlewares=middlewares) as session:
                return await fn(session, out)

        run(ctx, work)

    return wrapper


def parse_when(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset; add one, e.g. Z or +02:00")
    return parsed


_time_scale_option = click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    help="Poll this much faster (for a fake-server with a fast clock).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common
@click.version_option(package_name="lyra-mavera")
def cli() -> None:
    """Lyra meetings and Mavera notetaker bots from the shell.

    Keys come from LYRA_API_KEY and MAVERA_API_KEY, base URLs from LYRA_BASE_URL and
    MAVERA_BASE_URL. Exit codes: 0 ok, 1 API or network error, 2 usage error or invalid
    input, 3 configuration error, 4 bot failed or wait timed out, 5 bulk run with rows
    not ok, 130 interrupted.
    """


#: click >= 8.2 raises this for a group run without a command (8.1 shows help itself).
_NO_ARGS_IS_HELP: type[click.ClickException] | None = getattr(
    click.exceptions, "NoArgsIsHelpError", None
)


def main(args: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code. Usage errors (click's) are one line
    too, and a JSON ``error`` object with ``--json`` anywhere on the line."""
    argv = list(sys.argv[1:] if args is None else args)
    flags = argv[: argv.index("--")] if "--" in argv else argv
    out = Output(json="--json" in flags, debug="--debug" in flags)
    try:
        code = cli.main(argv, prog_name="lyra-mavera", standalone_mode=False, obj=out)
    except click.exceptions.Abort:
        out.note("interrupted")
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        if _NO_ARGS_IS_HELP is not None and isinstance(exc, _NO_ARGS_IS_HELP):
            # A bare group (`lyra-mavera`, `lyra-mavera bulk`) asks for its help.
            sys.stdout.write(exc.format_message() + "\n")
            return 0
        return out.error(exc)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from
        # complaining when it flushes stdout on the way out.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_API
    except Exception as exc:
        if out.debug:
            raise
        return out.error(
            CliError(
                f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the "
                "traceback, and please report it)",
                code=EXIT_API,
                kind="InternalError",
            )
        )
    return code if isinstance(code, int) else 0


# -- lyra ----------------------------------------------------------------------------


@cli.group()
@common
def lyra() -> None:
    """Lyra video meetings."""


@lyra.command()
@common
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Check the Lyra key (POST /auth)."""

    async def go(s: lm.AsyncSession, out: Output) -> None:
        identity = await s.lyra.auth.verify()
        out.emit(identity, human=f"valid key: user {identity.user_id}, org {identity.org_id}")

    session_command(go)(ctx)


@lyra.command("create-meeting")
@common
@click.option("--title", required=True, help="The meeting's title.")
@click.option("--start", callback=parse_when, help="Start, ISO 8601 with an offset.")
@click.option("--attendee", "attendees", multiple=True, help="An attendee's email (repeatable).")
@click.pass_context
def create_meeting(
    ctx: click.Context, title: str, start: datetime | None, attendees: tuple[str, ...]
) -> None:
    """Create a Lyra meeting."""

    async def go(s: lm.AsyncSession, out: Output) -> None:
        meeting = await s.lyra.meetings.create(title, start=start, attendees=attendees or None)
        out.emit(meeting, human=f"{meeting.id}  {meeting.url}")

    session_command(go)(ctx)


# -- mavera --------------------------------------------------------------------------


@cli.group()
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
@_time_scale_option
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
@_time_scale_option
@click.pass_context
def wait(
    ctx: click.Context, meeting_id: str, timeout: float | None, time_scale: float | None
) -> None:
    """Follow a bot until it is done (exit 4 if it fails or times out)."""

    async def go(s: lm.AsyncSession, out: Output) -> None:
        done = await _follow(s, out, meeting_id, timeout, time_scale or 1.0)
        out.emit(done, human=_meeting_line(done))

    session_command(go)(ctx)


# -- bulk, fake server, demo -----------------------------------------------------------


@cli.group()
@common
def bulk() -> None:
    """Create many meetings or bots from a CSV or JSONL file (resumable)."""


def _bulk_command(provider: str) -> Callable[..., None]:
    @common
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--out",
        type=click.Path(path_type=Path),
        help="Results (JSONL); rerunning with the same --out resumes, even after the "
        "file was edited. Default: FILE with .results.jsonl.",
    )
    @click.option(
        "--encoding",
        default="utf-8-sig",
        show_default=True,
        help="FILE's text encoding (Excel often saves cp1252).",
    )
    @click.option("--concurrency", type=click.IntRange(1, 500), default=10, show_default=True)
    @click.option("--retry-failed", is_flag=True, help="Send rows that failed for sure again.")
    @click.option(
        "--mark-done",
        is_flag=True,
        help="Rows that may exist: you checked, they were created; record them as done.",
    )
    @click.option(
        "--resend-may-exist",
        is_flag=True,
        help="Rows that may exist: you checked, they were not created; send them again.",
    )
    @click.option(
        "--line",
        "lines",
        type=click.IntRange(min=1),
        multiple=True,
        help="Limit --retry-failed, --mark-done or --resend-may-exist to the row on this "
        "line of FILE (repeatable).",
    )
    @click.option(
        "--send-edited",
        is_flag=True,
        help="Send new rows even when a row that left FILE already sent to the same "
        "link (Lyra: title and start).",
    )
    @click.pass_context
    def command(
        ctx: click.Context,
        file: Path,
        out: Path | None,
        encoding: str,
        concurrency: int,
        retry_failed: bool,
        mark_done: bool,
        resend_may_exist: bool,
        lines: tuple[int, ...],
        send_edited: bool,
    ) -> None:
        from ._bulkrun import Settle, run_bulk_file
        from ._progress import RateWatch

        if mark_done and resend_may_exist:
            raise click.UsageError(
                "--mark-done and --resend-may-exist contradict each other; use one per run "
                "(with --line to pick rows)",
                ctx=ctx,
            )
        target = out or file.with_suffix(".results.jsonl")
        settle = Settle(retry_failed, mark_done, resend_may_exist, lines, send_edited)
        watch = RateWatch()

        async def go(s: lm.AsyncSession, output: Output) -> int:
            return await run_bulk_file(
                s,
                output,
                provider,
                file,
                target,
                concurrency=concurrency,
                settle=settle,
                encoding=encoding,
                watch=watch,
            )

        session_command(go, middlewares=[watch])(ctx)

    command.__doc__ = (
        f"Create {'meetings' if provider == 'lyra' else 'bots'} for every row of FILE. "
        + (
            "Columns: title, start, attendees (separated by ; or spaces)."
            if provider == "lyra"
            else "Columns: meeting_url, title, bot_name, join_at, workspace_id."
        )
    )
    return command


bulk.command("lyra")(_bulk_command("lyra"))
bulk.command("mavera")(_bulk_command("mavera"))


@cli.command("fake-server")
@common
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--rpm",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Mavera requests per minute per key.",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="How much faster than real time bots live.",
)
@click.pass_context
def fake_server(ctx: click.Context, port: int, rpm: int, time_scale: float) -> None:
    """Serve the fake Lyra and Mavera APIs on 127.0.0.1 until interrupted."""
    from ..testing import FakeServer

    async def go(out: Output) -> None:
        fake = FakeServer(port=port, rpm=rpm, time_scale=time_scale)
        try:
            await fake.start()
        except OSError as exc:
            await fake.close()
            raise _port_error(port, exc) from None
        try:
            settings = {
                "LYRA_BASE_URL": fake.lyra_base_url,
                "MAVERA_BASE_URL": fake.mavera_base_url,
                "LYRA_API_KEY": fake.lyra_api_key,
                "MAVERA_API_KEY": fake.mavera_api_key,
            }
            human = "\n".join(f"export {k}={v}" for k, v in settings.items())
            out.emit(settings, human=human + "\n# fake keys: they work here only. Ctrl-C stops.")
            await asyncio.Event().wait()
        finally:
            await fake.close()

    run(ctx, go, stop_code=0)


def _port_error(port: int, exc: OSError) -> CliError:
    if exc.errno == errno.EADDRINUSE:
        problem = "is already in use"
    elif exc.errno == errno.EACCES:
        problem = "needs privileges this user lacks"
    else:
        problem = f"cannot be served ({exc.strerror or exc})"
    return CliError(
        f"port {port} on 127.0.0.1 {problem}; choose another with --port "
        "(--port 0 picks a free one)",
        code=EXIT_USAGE,
        param="--port",
    )


@cli.command()
@common
@click.option("--meetings", type=click.IntRange(0, 10_000), default=200, show_default=True)
@click.option("--bots", type=click.IntRange(0, 10_000), default=50, show_default=True)
@click.option("--time-scale", type=click.FloatRange(min=1), default=300.0, show_default=True)
@click.pass_context
def demo(ctx: click.Context, meetings: int, bots: int, time_scale: float) -> None:
    """Run the whole flow against the built-in fake server: no keys, no network."""
    from ._demo import run_demo

    run(ctx, lambda out: run_demo(out, meetings=meetings, bots=bots, time_scale=time_scale))
