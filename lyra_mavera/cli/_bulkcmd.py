"""``lyra-mavera bulk lyra|mavera FILE``: the options of a bulk run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

import lyra_mavera as lm

from ._output import Output
from ._runner import common, session_command

__all__ = ["bulk"]


@click.group()
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
