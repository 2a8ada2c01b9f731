"""A bulk run's files: the results (``OUT``, JSONL) and the journal beside them that
lets a run resume, even on an edited file, without creating anything twice or
skipping a row.

``OUT`` holds one line per row of the current file: ``{"key", "index", "line", "ok",
"id", ...}`` or ``{..., "ok": false, "error", "error_type", "may_exist"}``, and the row's
normalised fields. ``OUT.journal`` records each run (the input's fingerprint), each row
the moment it is sent, and the results of rows no longer in the file (so a row put back
later is recognised, not sent again).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import lyra_mavera as lm

from ._output import EXIT_USAGE, CliError, advise
from ._rows import Row

try:  # pragma: no cover - platform dependent
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, one run at a time is on the user
    fcntl = None  # type: ignore[assignment]

__all__ = ["State", "failure", "record_for"]


def record_for(row: Row, result: lm.BulkResult[Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The results-file line for a row."""
    record: dict[str, Any] = {"key": row.key, "index": row.index, "line": row.line}
    if row.problem is not None:
        return failure(record, row, row.problem, "ValidationError", may_exist=False)
    assert result is not None
    if result.ok:
        value = result.value
        record.update({"ok": True, "id": getattr(value, "id", None)})
        for name in ("url", "status"):
            if getattr(value, name, None) is not None:
                record[name] = str(getattr(value, name))
        return {**record, **extra, "row": row.fields}
    error = result.error
    may_exist = isinstance(error, lm.AmbiguousCreateError)
    message = advise(str(error), bulk=True)
    return failure(record, row, message, type(error).__name__, may_exist=may_exist, **extra)


def failure(
    record: dict[str, Any],
    row: Row,
    problem: str,
    error_type: str,
    *,
    may_exist: bool,
    **extra: Any,
) -> dict[str, Any]:
    return {
        **record,
        "ok": False,
        "error": f"line {row.line}: {problem}",
        "error_type": error_type,
        "may_exist": may_exist,
        **extra,
        "row": row.fields,
    }


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for raw in text.splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a line cut short by a crash
        if isinstance(record, dict):
            yield record


def _write_atomically(path: Path, lines: Iterable[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class State:
    """What earlier runs with the same ``--out`` left: results by row key, when each
    row was first sent, and the last run's input fingerprint. Appends as the run goes;
    :meth:`close` rewrites both files tidily."""

    def __init__(self, out: Path, provider: str, *, source: Path | None = None) -> None:
        self.out = out
        self.provider = provider
        self.source = source
        self.journal_path = out.with_name(out.name + ".journal")
        #: Results by row key: this file's rows and rows no longer in it.
        self.records: dict[str, dict[str, Any]] = {}
        #: When each row was first sent, and its fields (for rows that left the file).
        self.first_sent: dict[str, float] = {}
        self.sent_fields: dict[str, dict[str, Any]] = {}
        #: The last run's header: provider, input fingerprint, file, rows.
        self.previous: dict[str, Any] | None = None
        #: Keys whose result is in OUT itself (rows of the last run's file).
        self.current_before: set[str] = set()
        self._out: IO[str] | None = None
        self._journal: IO[str] | None = None
        self._check_paths()
        self._load()

    def _check_paths(self) -> None:
        if self.out.exists() and self.source is not None and self.out.samefile(self.source):
            raise CliError(f"--out {self.out} is the input file; choose another --out")
        folder = self.out.parent
        if not folder.is_dir():
            raise CliError(
                f"--out {self.out}: the folder {folder} does not exist; create it "
                f"(mkdir -p {folder}) or choose another --out",
                param="--out",
            )
        if self.out.is_dir():
            raise CliError(f"--out {self.out} is a folder; give a file name", param="--out")

    def _load(self) -> None:
        for entry in _records(self.journal_path):
            if "run" in entry and isinstance(entry["run"], dict):
                self.previous = entry["run"]
            elif isinstance(entry.get("sent"), str):
                key, at = entry["sent"], float(entry.get("at", time.time()))
                self.first_sent[key] = min(at, self.first_sent.get(key, at))
                if isinstance(entry.get("row"), dict):
                    self.sent_fields[key] = entry["row"]
            elif isinstance(entry.get("removed"), dict):
                record = entry["removed"]
                if isinstance(record.get("key"), str):
                    self.records[record["key"]] = record
        if self.previous is not None and self.previous.get("provider") != self.provider:
            raise CliError(
                f"--out {self.out} holds the results of a `bulk "
                f"{self.previous.get('provider')}` run; choose another --out for "
                f"`bulk {self.provider}`",
                param="--out",
            )
        if not self.out.exists():
            return
        try:
            text = self.out.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(
                f"--out {self.out} cannot be read as a results file ({exc}); choose another --out",
                param="--out",
            ) from None
        lines = text.splitlines()
        for number, raw in enumerate(lines, start=1):
            try:
                record = json.loads(raw)
                ours = isinstance(record, dict) and isinstance(record.get("key"), str)
                ours = ours and isinstance(record.get("ok"), bool)
            except ValueError:
                # Only a last line without its newline can be one cut short by a crash.
                cut = number == len(lines) and not text.endswith("\n")
                record, ours = None, cut
            if not ours:
                # Never overwrite a file that is not ours (or from before rows had keys).
                raise CliError(
                    f"--out {self.out} line {number} is not a bulk result of this version; "
                    "choose another --out (or move that file away)",
                    param="--out",
                )
            if record is not None:
                self.records[record["key"]] = record
                self.current_before.add(record["key"])

    # -- writing ----------------------------------------------------------------------

    def open(self, header: dict[str, Any]) -> None:
        """Lock the journal (one run per ``--out`` at a time) and start appending."""
        try:
            self._journal = self.journal_path.open("a", encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {self.journal_path}: {exc.strerror or exc}") from None
        if fcntl is not None:
            try:
                fcntl.flock(self._journal.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._journal.close()
                self._journal = None
                raise CliError(
                    f"another lyra-mavera run is writing {self.out}; let it finish (or "
                    "stop it) before running again",
                    code=EXIT_USAGE,
                ) from None
        try:
            self._out = self.out.open("a", encoding="utf-8")
        except OSError as exc:
            self.abandon()
            raise CliError(
                f"cannot write --out {self.out}: {exc.strerror or exc}", param="--out"
            ) from None
        self._append(self._journal, {"run": header})

    @staticmethod
    def _append(handle: IO[str] | None, entry: dict[str, Any]) -> None:
        assert handle is not None
        handle.write(json.dumps(entry) + "\n")
        handle.flush()

    def sent(self, row: Row) -> None:
        """Note that ``row`` is about to be sent (before the request leaves)."""
        now = time.time()
        self.first_sent[row.key] = min(now, self.first_sent.get(row.key, now))
        self.sent_fields[row.key] = row.fields
        self._append(self._journal, {"sent": row.key, "at": now, "row": row.fields})

    def write(self, record: dict[str, Any]) -> None:
        self.records[record["key"]] = record
        self._append(self._out, record)

    def forget(self, key: str) -> None:
        """Drop a row's result so that it is sent again (on the user's say-so)."""
        self.records.pop(key, None)

    def abandon(self) -> None:
        for handle in (self._out, self._journal):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()
        self._out = self._journal = None

    def close(self, rows: list[Row], header: dict[str, Any]) -> None:
        """Rewrite OUT with one line per row of this file, in order, and the journal
        with this run, the sends still unanswered and the rows that left the file."""
        current = {row.key: row for row in rows}
        results = []
        for row in rows:
            record = self.records.get(row.key)
            if record is not None:
                record = {**record, "index": row.index, "line": row.line}
                if isinstance(record.get("error"), str):
                    # A row that moved (the file was edited) names its line as it is now.
                    record["error"] = re.sub(r"^line \d+:", f"line {row.line}:", record["error"])
                results.append(record)
        journal: list[dict[str, Any]] = [{"run": header}]
        for key, at in self.first_sent.items():
            record = self.records.get(key)
            if record is None or not record.get("ok"):
                journal.append({"sent": key, "at": at, "row": self.sent_fields.get(key)})
        for key, record in self.records.items():
            if key not in current and not key.startswith("x"):
                journal.append({"removed": record})
        try:
            _write_atomically(self.out, results)
            _write_atomically(self.journal_path, journal)
        finally:
            self.abandon()
