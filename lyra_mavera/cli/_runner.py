"""How a command runs: the shared ``--json``/``--debug`` options, the event loop (uvloop
when it is installed, see :mod:`lyra_mavera._loop`), and errors and Ctrl-C turned into
one line and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import click

import lyra_mavera as lm

from .. import _loop
from ._output import EXIT_INTERRUPTED, CliError, Output, aware_datetime

__all__ = ["common", "parse_when", "run", "session_command", "time_scale_option"]

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
        code = _loop.run(work(out))
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
        return aware_datetime(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


time_scale_option = click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    help="Poll this much faster (for a fake-server with a fast clock).",
)
