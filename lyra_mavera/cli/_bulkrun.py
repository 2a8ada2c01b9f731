"""``lyra-mavera bulk``: a resumable bulk run from a file, with a progress bar.

A rerun with the same ``--out`` picks up where the last one stopped, even if the file
was edited in between: rows are matched to their results by content, new rows are
sent, rows that left the file leave the summary. Nothing is sent twice and no row is
skipped: a row that was in flight when a run stopped is looked up (Mavera) or reported
as ``may_exist`` (Lyra), and ``may_exist`` rows wait for the user's word
(``--mark-done`` or ``--resend-may-exist``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import lyra_mavera as lm

from ._bulkfile import State, record_for
from ._output import EXIT_OK, EXIT_PARTIAL, Output, plural
from ._progress import RateWatch, progress_bar, step
from ._rows import Row, fingerprint, read_rows
from ._settle import (
    SETTLE_HINT,
    Settle,
    apply_settle,
    check_lines,
    edited_rows,
    may_exist,
    refuse_edits,
    settle_interrupted,
)

__all__ = ["Settle", "run_bulk_file"]


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    more = f" and {len(numbers) - 10} more" if len(numbers) > 10 else ""
    return ("line " if len(numbers) == 1 else "lines ") + shown + more


async def run_bulk_file(
    session: lm.AsyncSession,
    out: Output,
    provider: str,
    source: Path,
    target: Path,
    *,
    concurrency: int,
    settle: Settle,
    encoding: str,
    watch: RateWatch,
) -> int:
    rows = read_rows(source, provider, encoding=encoding)
    state = State(target, provider, source=source)
    check_lines(source, rows, state, settle)
    edited = edited_rows(provider, rows, state)
    if edited and not settle.send_edited:
        refuse_edits(provider, source, edited)
    header = {
        "provider": provider,
        "input": fingerprint(provider, rows),
        "file": str(source),
        "rows": len(rows),
        "at": time.time(),
    }
    previous = state.previous
    current = {row.key for row in rows}
    removed = len(state.current_before - current)
    kept = sum(1 for row in rows if row.key in state.records and row.problem is None)
    new = sum(
        1
        for row in rows
        if row.request is not None
        and row.key not in state.records
        and row.key not in state.first_sent
    )
    changed = previous is not None and previous.get("input") != header["input"]
    state.open(header)
    if changed:
        out.note(
            f"{source} changed since the last run: {plural(kept)} keep their results, "
            f"{plural(new, 'new row')} will be sent, {plural(removed)} no longer in the "
            "file leave the summary"
        )
    owned: dict[str, str] = {}
    adopted = sent = 0
    interrupted = finished = False
    code = EXIT_PARTIAL
    try:
        resend = apply_settle(rows, state, settle)
        line_of = {row.key: row.line for row in rows}
        for key, record in state.records.items():
            if record.get("ok") and record.get("id"):
                where = f"line {line_of[key]}" if key in line_of else "a removed row"
                owned[str(record["id"])] = where
        adopted = await settle_interrupted(session, provider, state, rows, owned, resend)
        for row in rows:
            if row.problem is not None:
                state.write(record_for(row))
        todo = [row for row in rows if row.key not in state.records]
        done_before = len(rows) - len(todo)
        if kept and not changed:
            out.note(f"resuming: {kept} of {len(rows)} rows already have a result")
        description = f"{provider} {source.name}"
        with progress_bar(out) as bar:
            async with step(
                out, watch, bar, description, total=len(rows), completed=done_before
            ) as task:

                def on_start(position: int) -> None:
                    nonlocal sent
                    sent += 1
                    state.sent(todo[position])

                def on_result(result: lm.BulkResult[Any]) -> None:
                    row = todo[result.index]
                    value_id = getattr(result.value, "id", None)
                    if result.ok and value_id is not None and str(value_id) in owned:
                        # The SDK's look-up after an ambiguous failure adopted a bot that
                        # another row already has: this row's own may or may not exist.
                        state.write(
                            may_exist(
                                row,
                                f"{provider}: the create failed ambiguously and the bot found "
                                f"for it, {value_id}, belongs to {owned[str(value_id)]}: "
                                + SETTLE_HINT,
                            )
                        )
                    else:
                        if value_id is not None:
                            owned[str(value_id)] = f"line {row.line}"
                        state.write(record_for(row, result))
                    bar.advance(task)

                requests = [row.request for row in todo]
                provider_api = session.lyra if provider == "lyra" else session.mavera
                await provider_api.meetings.create_many(
                    requests,
                    concurrency=concurrency,
                    on_result=on_result,
                    on_start=on_start,
                )
        finished = True
    except asyncio.CancelledError:
        interrupted = True
        raise
    finally:
        state.close(rows, header)
        if finished or interrupted:
            code = _report(
                out,
                rows,
                state,
                target,
                summary={
                    "sent": sent,
                    "adopted_after_interruption": adopted,
                    "kept": kept,
                    "new": new,
                    "removed": removed,
                    "input_changed": changed,
                    "interrupted": interrupted,
                },
            )
    return code


def _report(
    out: Output, rows: list[Row], state: State, target: Path, *, summary: dict[str, Any]
) -> int:
    outcome: dict[str, list[int]] = {"ok": [], "failed": [], "may_exist": [], "pending": []}
    for row in rows:
        record = state.records.get(row.key)
        if record is None:
            outcome["pending"].append(row.line)
        elif record.get("ok"):
            outcome["ok"].append(row.line)
        else:
            outcome["may_exist" if record.get("may_exist") else "failed"].append(row.line)
    data = {
        "rows": len(rows),
        "ok": len(outcome["ok"]),
        "failed": len(outcome["failed"]),
        "may_exist": len(outcome["may_exist"]),
        "not_sent": len(outcome["pending"]),
        **summary,
        "failed_lines": outcome["failed"],
        "may_exist_lines": outcome["may_exist"],
        "results": str(target),
    }
    human = (
        f"{data['ok']} ok, {data['failed']} failed, {data['may_exist']} may exist"
        + (f", {data['not_sent']} not sent" if data["not_sent"] else "")
        + f" (of {len(rows)} rows); results in {target}"
    )
    out.emit(data, human=human)
    out.final_emitted = True
    if outcome["failed"]:
        out.note(
            f"failed: {_lines(outcome['failed'])} (reasons in {target}); fix them in "
            "the file and rerun, or rerun with --retry-failed to send them again"
        )
    if outcome["may_exist"]:
        out.note(f"may exist: {_lines(outcome['may_exist'])}: {SETTLE_HINT}")
    return EXIT_OK if len(outcome["ok"]) == len(rows) else EXIT_PARTIAL
