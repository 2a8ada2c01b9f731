"""What a bulk run does with rows that already have a story: the user's settling
flags (``--mark-done``, ``--resend-may-exist``, ``--retry-failed``, ``--line``), rows
that look edited, and rows that were in flight when a run stopped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import attrs

import lyra_mavera as lm

from ..mavera._bulk import find_existing
from ._bulkfile import State, failure, record_for
from ._output import CliError, plural
from ._rows import Row, identity_of

__all__ = [
    "SETTLE_HINT",
    "Settle",
    "apply_settle",
    "check_lines",
    "edited_rows",
    "may_exist",
    "refuse_edits",
    "settle_interrupted",
]


SETTLE_HINT = (
    "check whether it was created, then rerun with --mark-done (it was) or "
    "--resend-may-exist (it was not); --line N picks rows"
)


@attrs.frozen
class Settle:
    """What the user asked to do with rows that already have a result."""

    retry_failed: bool = False
    mark_done: bool = False
    resend_may_exist: bool = False
    lines: tuple[int, ...] = ()
    send_edited: bool = False


def _state_of(state: State, row: Row) -> str:
    if row.problem is not None:
        return "unreadable"
    record = state.records.get(row.key)
    if record is None:
        return "not sent yet" if row.key not in state.first_sent else "in flight"
    if record.get("ok"):
        return "ok"
    return "may_exist" if record.get("may_exist") else "failed"


def check_lines(source: Path, rows: list[Row], state: State, settle: Settle) -> None:
    if not settle.lines:
        return
    wanted = set()
    if settle.retry_failed:
        wanted.add("failed")
    if settle.mark_done or settle.resend_may_exist:
        wanted.add("may_exist")
    if not wanted:
        raise CliError(
            "--line picks rows for --retry-failed, --mark-done or --resend-may-exist; "
            "add one of them",
            param="--line",
        )
    by_line = {row.line: row for row in rows}
    for number in settle.lines:
        row = by_line.get(number)
        if row is None:
            raise CliError(f"--line {number}: {source} has no row on line {number}")
        found = _state_of(state, row)
        if found not in wanted:
            raise CliError(
                f"--line {number}: that row is {found}, not {' or '.join(sorted(wanted))}"
            )


def edited_rows(provider: str, rows: list[Row], state: State) -> list[tuple[Row, str]]:
    """New rows that look like edits of rows that already made something: the same
    Mavera link and join time, or the same Lyra title and start."""
    current = {row.key for row in rows}
    gone: dict[str, str] = {}
    for key, record in state.records.items():
        if key in current or key.startswith("x"):
            continue
        if record.get("ok") or record.get("may_exist"):
            ident = identity_of(provider, record.get("row"))
            if ident is not None:
                what = record.get("id") or "which may exist"
                gone.setdefault(ident, str(what))
    for key, fields in state.sent_fields.items():
        ident = identity_of(provider, fields)
        if key not in current and key not in state.records and ident is not None:
            gone.setdefault(ident, "sent when a run stopped, so it may exist")
    edited = []
    for row in rows:
        if row.request is None or row.key in state.records or row.key in state.first_sent:
            continue
        ident = identity_of(provider, row.fields)
        if ident is not None and ident in gone:
            edited.append((row, gone[ident]))
    return edited


def refuse_edits(provider: str, source: Path, edited: list[tuple[Row, str]]) -> None:
    row, what = edited[0]
    more = f" (and {plural(len(edited) - 1, 'more row')} like it)" if len(edited) > 1 else ""
    if provider == "mavera":
        done = f"already sent a bot to {row.fields['meeting_url']} ({what})"
        also = "send this one as well"
    else:
        done = f"already created a meeting titled {row.fields['title']!r} ({what})"
        also = "create this one as well"
    raise CliError(
        f"{source} line {row.line}: a row that is no longer in the file {done}; if you "
        f"edited that row, what it made stays. Rerun with --send-edited to {also}{more}"
    )


def apply_settle(rows: list[Row], state: State, settle: Settle) -> set[str]:
    """Apply --mark-done, --resend-may-exist and --retry-failed; returns the keys of
    the rows to send again (they are not "in flight", the user said to send them)."""
    picked = set(settle.lines)
    resend: set[str] = set()
    for row in rows:
        if picked and row.line not in picked:
            continue
        record = state.records.get(row.key)
        if record is None or record.get("ok") or row.problem is not None:
            continue
        if record.get("may_exist"):
            if settle.mark_done:
                state.write(
                    {
                        "key": row.key,
                        "index": row.index,
                        "line": row.line,
                        "ok": True,
                        "id": record.get("id"),
                        "settled": "marked done with --mark-done",
                        "previous_error": record.get("error"),
                        "row": row.fields,
                    }
                )
            elif settle.resend_may_exist:
                state.forget(row.key)
                resend.add(row.key)
        elif settle.retry_failed:
            state.forget(row.key)
            resend.add(row.key)
    return resend


def may_exist(row: Row, problem: str) -> dict[str, Any]:
    base = {"key": row.key, "index": row.index, "line": row.line}
    return failure(base, row, problem, "AmbiguousCreateError", may_exist=True)


async def settle_interrupted(
    session: lm.AsyncSession,
    provider: str,
    state: State,
    rows: list[Row],
    owned: dict[str, str],
    resend: set[str],
) -> int:
    """Give a result to rows that were in flight when a run stopped; returns how many
    Mavera bots were found and adopted. Rows whose bot is not found are sent again."""
    inflight = [
        row
        for row in rows
        if row.request is not None
        and row.key not in state.records
        and row.key in state.first_sent
        and row.key not in resend
    ]
    if not inflight:
        return 0
    if provider == "lyra":
        for row in inflight:
            # Lyra cannot be asked whether the meeting exists: never send it blindly again.
            state.write(
                may_exist(
                    row,
                    "lyra: this row was being sent when a run stopped; the meeting may "
                    f"exist, so it was not sent again: {SETTLE_HINT}",
                )
            )
        return 0
    # A bot is recognised by its link and join time: rows that share them (in this
    # file, or with rows that left it) cannot be told apart.
    counts = Counter(identity_of(provider, r.fields) for r in rows if r.request is not None)
    current = {r.key for r in rows}
    for key, record in state.records.items():
        if key not in current and (record.get("ok") or record.get("may_exist")):
            counts[identity_of(provider, record.get("row"))] += 1
    for key, fields in state.sent_fields.items():
        if key not in current and key not in state.records:
            counts[identity_of(provider, fields)] += 1
    adopted = 0
    for row in inflight:
        if counts[identity_of(provider, row.fields)] > 1:
            state.write(
                may_exist(
                    row,
                    "mavera: this row was being sent when a run stopped, and another row "
                    "sends a bot to the same link and time, so its bot cannot be told "
                    f"apart: {SETTLE_HINT}",
                )
            )
            continue
        # Each row is looked up from the moment it was *first* sent, not from the
        # earliest row's: an earlier bot for the same link is not this row's.
        since = state.first_sent[row.key]
        found = await find_existing(session.mavera.meetings.list, {0: row.request}, since=since)
        meeting = found.get(0)
        if meeting is None:
            continue  # never made: sent again below
        created = meeting.created_at.timestamp() if meeting.created_at is not None else None
        if meeting.id in owned:
            problem = f"belongs to another row ({owned[meeting.id]})"
        elif created is None:
            problem = "has no creation time, so it may be an older one"
        elif created < since:
            problem = f"was made {since - created:.0f} s before this row was first sent"
        else:
            state.write(record_for(row, lm.BulkOk(row.index, row.request, meeting), adopted=True))
            owned[meeting.id] = f"line {row.line}"
            adopted += 1
            continue
        # find_existing looks a little before `since` (clock skew): a bot from just
        # before this row was sent may be someone else's, or this row's own under a
        # skewed clock. Neither adopt it nor send again: ask.
        state.write(
            may_exist(
                row,
                f"mavera: this row was being sent when a run stopped; the bot found for "
                f"its link, {meeting.id}, {problem}, so it was not adopted: {SETTLE_HINT}",
            )
        )
    return adopted
