"""Reading a bulk file: rows in (CSV with a header row, or JSONL), each with its
request, its normalised fields and its content key.

Rows are keyed by their content, not their position: the key is a hash of the row's
normalised fields plus its occurrence number (the second identical row is ``…-2``), so
adding, deleting or moving rows never hands one row's result to another.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

import lyra_mavera as lm

from ..mavera._reconcile import identity as bot_identity
from ._output import CliError, aware_datetime

__all__ = ["COLUMNS", "Row", "expected_columns", "fingerprint", "identity_of", "read_rows"]


#: Columns per provider, the required one first.
COLUMNS = {
    "lyra": ("title", "start", "attendees"),
    "mavera": ("meeting_url", "title", "bot_name", "join_at", "workspace_id"),
}

_TEXT = {"title", "meeting_url", "bot_name", "workspace_id"}

_WHEN = {"start", "join_at"}


def expected_columns(provider: str) -> str:
    first, *rest = COLUMNS[provider]
    return ", ".join([f"{first} (required)", *rest])


@attrs.frozen
class Row:
    """One input row: its position, its line in the file, its content key, and its
    request (with its normalised ``fields``) or the reason it could not be read."""

    index: int
    line: int
    key: str
    request: Any = None
    fields: dict[str, Any] = attrs.field(factory=dict)
    problem: str | None = None


class _FieldProblem(ValueError):
    """A row names fields that do not exist or lacks the required one."""


def _datetime(name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 date-time string")
    try:
        return aware_datetime(value)
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from None


def _utc(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _clean(provider: str, data: dict[str, Any]) -> dict[str, Any]:
    allowed = COLUMNS[provider]
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise _FieldProblem(f"unknown field {unknown[0]!r}; expected {expected_columns(provider)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, str):
            value = value.strip()
        if value in (None, "", []):
            continue
        if name in _TEXT | _WHEN and not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {type(value).__name__}")
        values[name] = value
    if allowed[0] not in values:
        raise _FieldProblem(f"{allowed[0]} is missing")
    return values


def _request(provider: str, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The SDK request for a row and its normalised fields (what its key is made of)."""
    values = _clean(provider, data)
    request: Any
    if provider == "lyra":
        attendees = values.get("attendees", ())
        if isinstance(attendees, str):
            attendees = [a for a in re.split(r"[;,\s]+", attendees) if a]
        if not isinstance(attendees, list | tuple) or not all(
            isinstance(a, str) for a in attendees
        ):
            raise ValueError("attendees must be emails separated by ; or spaces, or a list")
        attendees = [a.strip() for a in attendees if a.strip()]
        start = _datetime("start", values.get("start"))
        fields = {"title": values["title"], "start": _utc(start), "attendees": attendees}
        request = lm.lyra.MeetingRequest(values["title"], start=start, attendees=attendees)
    else:
        join_at = _datetime("join_at", values.get("join_at"))
        fields = {**values, "join_at": _utc(join_at)}
        request = lm.mavera.BotRequest(
            values["meeting_url"],
            title=values.get("title"),
            bot_name=values.get("bot_name"),
            join_at=join_at,
            workspace_id=values.get("workspace_id"),
        )
    return request, {k: v for k, v in fields.items() if v not in (None, [])}


def _digest(provider: str, content: Any) -> str:
    text = json.dumps([provider, content], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _decode(path: Path, encoding: str) -> str:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise CliError(
            f"--encoding {encoding!r} is not a known text encoding (e.g. utf-8-sig, cp1252)",
            param="--encoding",
        ) from None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        hint = "cp1252" if encoding.lower().replace("_", "-").startswith("utf") else "utf-8-sig"
        raise CliError(
            f"{path}: line {line} is not {encoding} text (byte 0x{raw[exc.start]:02x}); "
            f"a file saved by Excel is often cp1252: rerun with --encoding {hint}",
            param="--encoding",
        ) from None


def read_rows(path: Path, provider: str, *, encoding: str = "utf-8-sig") -> list[Row]:
    """Every row of a CSV (header row first) or JSONL file. A file that cannot be used
    at all (undecodable, empty, wrong columns) raises :class:`CliError` up front; a row
    that cannot be read carries its problem, so it is reported without stopping the
    others."""
    text = _decode(path, encoding)
    first = text.lstrip()[:1]
    if first == "[":
        raise CliError(
            f"{path} is a JSON array; bulk reads JSONL, one JSON object per line "
            f"(convert it with: jq -c '.[]' {path} > rows.jsonl)"
        )
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or first == "{":
        rows = _jsonl_rows(path, provider, text)
    else:
        rows = _csv_rows(path, provider, text)
    if not rows:
        raise CliError(
            f"{path} has no rows; expected a CSV header row with the columns "
            f"{expected_columns(provider)} (or JSONL objects with those fields) and one "
            "row per item"
        )
    return rows


def _numbered(provider: str, parsed: Iterable[tuple[int, Any, Any]]) -> list[Row]:
    """Rows with their keys: a content hash and its occurrence number."""
    seen: Counter[str] = Counter()
    rows: list[Row] = []
    for line, data, raw in parsed:
        index = len(rows)
        try:
            if isinstance(data, Exception):
                raise data
            request, fields = _request(provider, data)
        except (ValueError, TypeError) as exc:
            digest = "x" + _digest(provider, raw)[1:]
            seen[digest] += 1
            key = f"{digest}-{seen[digest]}"
            rows.append(Row(index, line, key, problem=str(exc)))
            continue
        digest = _digest(provider, fields)
        seen[digest] += 1
        rows.append(Row(index, line, f"{digest}-{seen[digest]}", request, fields))
    return rows


def _jsonl_rows(path: Path, provider: str, text: str) -> list[Row]:
    structural: list[str] = []

    def parsed() -> Iterator[tuple[int, Any, Any]]:
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                problem = f"not a JSON object ({exc.msg})"
                structural.append(problem)
                yield number, ValueError(problem), raw.strip()
                continue
            if not isinstance(data, dict):
                structural.append("each line must be a JSON object")
                yield number, ValueError(structural[-1]), raw.strip()
                continue
            yield number, data, data

    rows = _numbered(provider, parsed())
    # Without a header to check, a file in which no line is an object with the right
    # fields (a JSON array, other field names) is one mistake: say so once.
    problems = [r.problem for r in rows if r.problem is not None]
    fields = [p for p in problems if p.startswith("unknown field") or p.endswith("is missing")]
    if rows and len(structural) + len(fields) == len(rows):
        raise CliError(
            f"{path}: no line is a {provider} row (line {rows[0].line}: {problems[0]}); "
            f"expected one JSON object per line with the fields {expected_columns(provider)}"
        )
    return rows


def _csv_rows(path: Path, provider: str, text: str) -> list[Row]:
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    # Excel in many locales saves "CSV" with semicolons; tabs come from spreadsheets.
    delimiter = ","
    if "," not in header_line:
        delimiter = ";" if ";" in header_line else "\t" if "\t" in header_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    for cells in reader:
        if any(c.strip() for c in cells):
            header = [c.strip().lower() for c in cells]
            break
    if header is None:
        return []
    allowed = COLUMNS[provider]
    where = f"{path} line {reader.line_num}"
    unknown = [c for c in header if c not in allowed]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if unknown or duplicated or allowed[0] not in header:
        problem = (
            f"unknown column {unknown[0]!r}"
            if unknown
            else f"column {duplicated[0]!r} appears twice"
            if duplicated
            else f"no {allowed[0]!r} column"
        )
        raise CliError(
            f"{where}: {problem} in the header; expected the columns {expected_columns(provider)}"
        )

    def parsed() -> Iterator[tuple[int, Any, Any]]:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = reader.line_num
            if len(cells) > len(header):
                yield (
                    line,
                    ValueError(f"{len(cells)} values for {len(header)} header columns"),
                    cells,
                )
                continue
            yield line, dict(zip(header, cells, strict=False)), cells

    return _numbered(provider, parsed())


def fingerprint(provider: str, rows: list[Row]) -> str:
    """The input as the run sees it: its rows' keys, in order."""
    text = provider + "\n" + "\n".join(row.key for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def identity_of(provider: str, fields: dict[str, Any] | None) -> str | None:
    """What makes two rows the same thing on the server: a Mavera bot's link and join
    time, a Lyra meeting's title and start."""
    if not fields:
        return None
    if provider == "mavera":
        if "meeting_url" not in fields:
            return None
        link, seconds = bot_identity(fields["meeting_url"], fields.get("join_at"))
        return json.dumps([link, seconds])
    if "title" not in fields:
        return None
    return json.dumps([fields["title"], fields.get("start")], ensure_ascii=False)
