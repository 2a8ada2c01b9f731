"""How the command line speaks: JSON or human lines on stdout, progress and one-line
errors on stderr, and an exit code for every outcome.

Data (anything that came from a user, a file or a server) is written with plain
``write`` calls, never through rich markup: a title like ``Q3 [/internal] sync`` or
``[bold]x[/bold]`` is printed exactly as it is. rich draws only progress bars and
spinners, and is handed :class:`rich.text.Text` objects, which it never parses.
"""

from __future__ import annotations

import enum
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

import attrs
import click
from rich.console import Console

import lyra_mavera as lm

__all__ = [
    "EXIT_API",
    "EXIT_BOT",
    "EXIT_CONFIG",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "CliError",
    "Output",
    "advise",
    "aware_datetime",
    "exit_code_for",
    "one_line",
    "plural",
    "to_data",
]

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_BOT = 4
EXIT_PARTIAL = 5
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the command line reports in one line with its own exit code: an
    unreadable file, a folder that does not exist, a busy port."""

    def __init__(
        self,
        message: str,
        *,
        code: int = EXIT_USAGE,
        param: str | None = None,
        kind: str = "InputError",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.param = param
        self.kind = kind


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, lm.ValidationError | click.UsageError | click.BadParameter):
        return EXIT_USAGE
    if isinstance(exc, lm.ConfigurationError):
        return EXIT_CONFIG
    if isinstance(exc, lm.BotFailedError | lm.WaitTimeoutError):
        return EXIT_BOT
    return EXIT_API


# -- data ---------------------------------------------------------------------------


def aware_datetime(text: str) -> datetime:
    """An ISO 8601 date-time that says its UTC offset (``Z`` or ``+02:00``), as given
    on the command line or in a bulk file; ``ValueError`` naming the text otherwise."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; add one, e.g. Z or +02:00")
    return parsed


def _iso(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, the form both APIs send."""
    u = value.astimezone(UTC) if value.tzinfo is not None else value
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond // 1000:03d}Z"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def to_data(value: Any) -> Any:
    """A model (or list of them) as plain JSON-ready data: :func:`lm.to_dict`, the
    provider's own JSON shape, the same data SDK users get."""
    if attrs.has(type(value)):
        return lm.to_dict(value)
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    return _plain(value)


# -- advice the command line can follow ---------------------------------------------

_ENV = {
    "lyra_api_key": "LYRA_API_KEY",
    "mavera_api_key": "MAVERA_API_KEY",
    "lyra_base_url": "LYRA_BASE_URL",
    "mavera_base_url": "MAVERA_BASE_URL",
}

# The SDK's messages speak to Python callers ("pass skip_link_check=True"); a shell
# user needs the flag or the `export` line instead. One table, tested command by command.
_ADVICE: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (
        re.compile(
            r"pass (?:lyra|mavera)_api_key=\.\.\. to AsyncSession or set the (\w+) "
            r"environment variable"
        ),
        r"set it with: export \1=<your key> (or try the local fake: lyra-mavera fake-server)",
    ),
    (re.compile(r"pass the key or set (\w+)"), r"set it with: export \1=<your key>"),
    (re.compile(r"; raise the limit on AsyncSession if expected"), ""),
    (re.compile(r"\b(?:lyra|mavera)_(?:api_key|base_url)\b"), lambda m: _ENV[m[0]]),
]
_LINK_ADVICE = re.compile(r"pass skip_link_check=True if you know Mavera accepts it")


def advise(message: str, *, bulk: bool = False) -> str:
    """``message`` with advice for Python callers turned into advice for the shell."""
    for pattern, replacement in _ADVICE:
        message = pattern.sub(replacement, message)
    if bulk:
        # Rows are sent by position in the SDK (requests[3]); the row's line says where.
        message = re.sub(r"requests\[\d+\]\.", "", message)
        message = re.sub(r"requests\[\d+\]", "this row", message)
        fix = "bulk runs send checked links only; send it alone with: lyra-mavera mavera "
        fix += "create-bot --skip-link-check URL"
    else:
        fix = "add --skip-link-check if you know Mavera accepts it"
    return _LINK_ADVICE.sub(fix, message)


def error_data(exc: BaseException) -> dict[str, Any]:
    kind = type(exc).__name__
    if isinstance(exc, click.ClickException):
        kind = "UsageError"
    elif isinstance(exc, CliError):
        kind = exc.kind
    data: dict[str, Any] = {"type": kind, "message": _message(exc)}
    for name in ("status", "code", "param", "provider", "retry_after", "request_id"):
        value = getattr(exc, name, None)
        if value is not None and not (name == "code" and isinstance(exc, CliError)):
            data[name] = value
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        data["param"] = exc.param.opts[0] if exc.param.opts else exc.param.name
    if isinstance(exc, lm.AmbiguousCreateError):
        data["may_exist"] = True
    meeting = getattr(exc, "meeting", None)
    if meeting is not None:
        data["meeting"] = to_data(meeting)
    return data


def _message(exc: BaseException) -> str:
    if isinstance(exc, click.ClickException):
        text = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        if isinstance(exc, click.UsageError) and ctx is not None:
            text += f" (see: {ctx.command_path} --help)"
        return text
    text = str(exc) or type(exc).__name__
    return advise(text)


# -- writing ------------------------------------------------------------------------

# C0 controls but tab and newline, DEL, and C1 controls: written as is to files and
# pipes (exactly what came), escaped on a terminal, where they would be obeyed.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match[0]):02x}"


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def for_stream(text: str, stream: IO[str]) -> str:
    return _CONTROL.sub(_escape, text) if _is_terminal(stream) else text


def plural(count: int, noun: str = "row") -> str:
    """``1 row``, ``2 rows``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def one_line(text: str) -> str:
    """``text`` on one line: line breaks written as ``\\n``, nothing dropped."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


@attrs.define
class Output:
    """Where results go: stdout (JSON or human lines); progress, notes and errors go to
    stderr."""

    json: bool = False
    debug: bool = False
    #: The command already printed its final JSON (a bulk summary after Ctrl-C).
    final_emitted: bool = False
    _err: Console | None = None

    @property
    def err(self) -> Console:
        """The rich console for progress bars and spinners (never for data)."""
        if self._err is None:
            self._err = Console(
                stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False
            )
        return self._err

    def line(self, text: str = "") -> None:
        """One human line of data on stdout, exactly as given."""
        sys.stdout.write(for_stream(text, sys.stdout) + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """One line for the user on stderr (in every mode: stdout carries the data)."""
        sys.stderr.write(for_stream(one_line(text), sys.stderr) + "\n")
        sys.stderr.flush()

    def json_line(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
        sys.stdout.flush()

    def emit(self, value: Any, *, human: str | None = None) -> None:
        data = to_data(value)
        if self.json:
            self.json_line(data)
        elif human is not None:
            self.line(human)
        else:
            self.fields(data)

    def fields(self, data: Any) -> None:
        """A record as ``name  value`` lines (nested values as JSON)."""
        if not isinstance(data, dict):
            self.line(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False))
            return
        shown = {k: v for k, v in data.items() if v not in (None, [], {}, ())}
        width = max((len(k) for k in shown), default=0)
        for key, value in shown.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            self.line(f"{key.ljust(width)}  {text}")

    def error(self, exc: BaseException) -> int:
        """Report ``exc`` in one stderr line (and a JSON ``error`` object with --json)."""
        code = exit_code_for(exc)
        data = error_data(exc)
        if self.json:
            self.json_line({"error": data})
        self.note(f"error ({data['type']}): {data['message']}")
        return code
