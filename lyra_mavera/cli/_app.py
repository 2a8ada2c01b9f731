"""The ``lyra-mavera`` command group, its entry point, and the small commands (Lyra,
the fake server, the demo); Mavera and bulk commands live beside it."""

from __future__ import annotations

import asyncio
import errno
import os
import sys
from collections.abc import Sequence
from datetime import datetime

import click

import lyra_mavera as lm

from ._bulkcmd import bulk
from ._mavera import mavera
from ._output import EXIT_API, EXIT_INTERRUPTED, EXIT_USAGE, CliError, Output
from ._runner import common, parse_when, run, session_command

__all__ = ["cli", "main"]


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


cli.add_command(mavera)
cli.add_command(bulk)
