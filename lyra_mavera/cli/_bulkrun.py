"""``lyra-mavera bulk``: a resumable bulk run from a file, with a progress bar."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from .._bulk import AmbiguousCreateError, BulkResult
from .._session import AsyncSession
from ..mavera._bulk import find_existing
from ._bulkfile import Journal, Row, read_rows, record_for
from ._output import EXIT_OK, EXIT_PARTIAL, Output

__all__ = ["RateColumn", "progress_bar", "run_bulk_file"]


class RateColumn(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="cyan")


def progress_bar(out: Output, console: Console | None = None) -> Progress:
    """Progress with count, rate and ETA, on stderr unless told otherwise (stdout carries
    results); off in --json mode."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or out.err,
        disable=out.json,
        transient=False,
    )


async def _settle_interrupted(
    session: AsyncSession, provider: str, journal: Journal, rows: list[Row]
) -> int:
    """Give a result to rows that were in flight when the last run stopped."""
    interrupted = journal.interrupted()
    if not interrupted:
        return 0
    settled = 0
    if provider == "mavera":
        requests = {i: rows[i].request for i in interrupted if rows[i].request is not None}
        found = await find_existing(
            session.mavera.meetings.list, requests, since=min(interrupted.values())
        )
        for index, meeting in found.items():
            journal.write(
                record_for(
                    rows[index], BulkResult(index, rows[index].request, value=meeting), adopted=True
                )
            )
            settled += 1
        return settled
    for index in interrupted:
        # Lyra cannot be asked whether the meeting exists: never send it blindly again.
        error = AmbiguousCreateError(
            "lyra: this row was being sent when the last run stopped; the meeting may exist, "
            "so it was not sent again",
            provider="lyra",
            cause=None,
        )
        journal.write(record_for(rows[index], BulkResult(index, rows[index].request, error=error)))
        settled += 1
    return settled


async def run_bulk_file(
    session: AsyncSession,
    out: Output,
    provider: str,
    source: Path,
    target: Path,
    *,
    concurrency: int,
    retry_failed: bool,
) -> int:
    rows = read_rows(source, provider)
    journal = Journal(target)
    complete = False
    try:
        if retry_failed:
            for index, record in list(journal.done.items()):
                if not record.get("ok") and not record.get("may_exist"):
                    journal.forget(index)
        adopted = await _settle_interrupted(session, provider, journal, rows)
        for row in rows:
            if row.problem is not None and row.index not in journal.done:
                journal.write(record_for(row))
        todo = [row for row in rows if row.index not in journal.done]
        skipped = len(rows) - len(todo)
        if skipped and not out.json:
            out.err.print(f"resuming: {skipped} of {len(rows)} rows already have a result")
        with progress_bar(out) as bar:
            task = bar.add_task(f"{provider} {source.name}", total=len(rows), completed=skipped)

            def on_start(position: int) -> None:
                journal.start(todo[position].index)

            def on_result(result: BulkResult[Any]) -> None:
                row = todo[result.index]
                journal.write(record_for(row, result))
                bar.advance(task)

            requests = [row.request for row in todo]
            if provider == "lyra":
                await session.lyra.meetings.create_many(
                    requests,
                    concurrency=concurrency,
                    on_result=on_result,
                    on_start=on_start,
                )
            else:
                await session.mavera.meetings.create_many(
                    requests,
                    concurrency=concurrency,
                    on_result=on_result,
                    on_start=on_start,
                )
        complete = len(journal.done) == len(rows)
    finally:
        journal.close(complete=complete)
    outcome = collections.Counter(
        "ok" if r.get("ok") else ("may_exist" if r.get("may_exist") else "failed")
        for r in journal.done.values()
    )
    summary = {
        "rows": len(rows),
        "ok": outcome["ok"],
        "failed": outcome["failed"],
        "may_exist": outcome["may_exist"],
        "adopted_after_interruption": adopted,
        "results": str(target),
    }
    out.emit(
        summary,
        human=f"{summary['ok']} ok, {summary['failed']} failed, {summary['may_exist']} may exist "
        f"(of {len(rows)} rows); results in {target}",
    )
    return EXIT_OK if outcome["ok"] == len(rows) else EXIT_PARTIAL
