"""Bulk files: rows in (CSV with a header row, or JSONL), results out (JSONL), and the
journal that lets an interrupted run resume without creating anything twice.

The results file holds one line per input row: ``{"index", "line", "ok", "id", ...}`` or
``{"index", "line", "ok": false, "error", "error_type", "may_exist"}``. Beside it,
``<out>.inflight`` records each row the moment it is sent. A rerun skips rows with a
result; a row that was sent but has no result was in flight when the last run stopped:
a Mavera bot is looked for among recent meetings and adopted, a Lyra meeting (which
cannot be looked up) is reported as possibly created, and neither is sent again blindly.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from .._bulk import AmbiguousCreateError, BulkResult
from ..lyra._models import MeetingRequest
from ..mavera._models import BotRequest

__all__ = ["Journal", "Row", "read_rows", "record_for"]

_LYRA_FIELDS = {"title", "start", "attendees"}
_MAVERA_FIELDS = {"meeting_url", "title", "bot_name", "join_at", "workspace_id"}


@attrs.frozen
class Row:
    """One input row: its position, its line in the file, and its request or the
    reason it could not be read."""

    index: int
    line: int
    request: Any = None
    problem: str | None = None


def _datetime(name: str, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name} {value!r} has no UTC offset; add one, e.g. Z or +02:00")
    return parsed


def _request(provider: str, data: dict[str, Any]) -> Any:
    allowed = _LYRA_FIELDS if provider == "lyra" else _MAVERA_FIELDS
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r}; expected {', '.join(sorted(allowed))}")
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    values = {k: v for k, v in values.items() if v not in (None, "")}
    if provider == "lyra":
        if "title" not in values:
            raise ValueError("title is missing")
        attendees = values.get("attendees", ())
        if isinstance(attendees, str):
            attendees = [a for a in re.split(r"[;,\s]+", attendees) if a]
        return MeetingRequest(
            values["title"], start=_datetime("start", values.get("start")), attendees=attendees
        )
    if "meeting_url" not in values:
        raise ValueError("meeting_url is missing")
    return BotRequest(
        values["meeting_url"],
        title=values.get("title"),
        bot_name=values.get("bot_name"),
        join_at=_datetime("join_at", values.get("join_at")),
        workspace_id=values.get("workspace_id"),
    )


def read_rows(path: Path, provider: str) -> list[Row]:
    """Every row of a CSV (header row first) or JSONL file; unreadable rows carry their
    problem instead of a request, so they can be reported without stopping the others."""
    text = path.read_text(encoding="utf-8-sig")
    rows: list[Row] = []
    if path.suffix.lower() in (".jsonl", ".ndjson") or text.lstrip().startswith("{"):
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            index = len(rows)
            try:
                data = json.loads(raw)
                if not isinstance(data, dict):
                    raise ValueError("each line must be a JSON object")
                rows.append(Row(index, number, _request(provider, data)))
            except (ValueError, TypeError) as exc:
                rows.append(Row(index, number, problem=str(exc)))
        return rows
    reader = csv.DictReader(io.StringIO(text))
    for data in reader:
        index = len(rows)
        line = reader.line_num
        if None in data:
            rows.append(Row(index, line, problem="more values than header columns"))
            continue
        try:
            rows.append(Row(index, line, _request(provider, dict(data))))
        except (ValueError, TypeError) as exc:
            rows.append(Row(index, line, problem=str(exc)))
    return rows


def record_for(row: Row, result: BulkResult[Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The results-file line for a row."""
    record: dict[str, Any] = {"index": row.index, "line": row.line}
    if row.problem is not None:
        return _failure(record, row.problem, "ValidationError", may_exist=False)
    assert result is not None
    if result.ok:
        value = result.value
        record.update({"ok": True, "id": getattr(value, "id", None)})
        for name in ("url", "status"):
            if getattr(value, name, None) is not None:
                record[name] = str(getattr(value, name))
        return {**record, **extra}
    error = result.error
    assert error is not None
    may_exist = isinstance(error, AmbiguousCreateError)
    return _failure(record, str(error), type(error).__name__, may_exist=may_exist, **extra)


def _failure(
    record: dict[str, Any], problem: str, error_type: str, *, may_exist: bool, **extra: Any
) -> dict[str, Any]:
    return {
        **record,
        "ok": False,
        "error": f"line {record['line']}: {problem}",
        "error_type": error_type,
        "may_exist": may_exist,
        **extra,
    }


class Journal:
    """The results file and its in-flight journal, appended line by line."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.inflight = out.with_name(out.name + ".inflight")
        self.done: dict[int, dict[str, Any]] = {}
        self.started: dict[int, float] = {}
        if out.exists():
            for record in _records(out):
                if isinstance(record.get("index"), int):
                    self.done[record["index"]] = record
        if self.inflight.exists():
            for record in _records(self.inflight):
                if isinstance(record.get("index"), int):
                    self.started[record["index"]] = float(record.get("at", time.time()))
        self._out = out.open("a", encoding="utf-8")
        self._journal = self.inflight.open("a", encoding="utf-8")

    def interrupted(self) -> dict[int, float]:
        """Rows that were sent but have no result: in flight when the last run stopped."""
        return {i: at for i, at in self.started.items() if i not in self.done}

    def start(self, index: int) -> None:
        self._journal.write(json.dumps({"index": index, "at": time.time()}) + "\n")
        self._journal.flush()

    def write(self, record: dict[str, Any]) -> None:
        self.done[record["index"]] = record
        self._out.write(json.dumps(record) + "\n")
        self._out.flush()

    def forget(self, index: int) -> None:
        """Drop a row's earlier (failed) result so it is sent again (``--retry-failed``)."""
        self.done.pop(index, None)

    def close(self, *, complete: bool) -> None:
        self._out.close()
        self._journal.close()
        if complete:
            self.inflight.unlink(missing_ok=True)  # every row has its result
            _rewrite_latest(self.out)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a line cut short by a crash
        if isinstance(record, dict):
            yield record


def _rewrite_latest(path: Path) -> None:
    """Keep one line per row (the latest), in row order, once a run is complete."""
    latest: dict[int, dict[str, Any]] = {}
    for record in _records(path):
        if isinstance(record.get("index"), int):
            latest[record["index"]] = record
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(latest[i]) + "\n" for i in sorted(latest)), encoding="utf-8")
    os.replace(tmp, path)
