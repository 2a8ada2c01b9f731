"""How the command line speaks: JSON or human lines, and errors as one line + exit code."""

from __future__ import annotations

import json
import sys
from typing import Any

import attrs
import click
from rich.console import Console
from rich.table import Table

from .. import _errors as e
from .._bulk import AmbiguousCreateError
from .._convert import converter
from ..mavera._errors import BotFailedError, WaitTimeoutError

__all__ = [
    "EXIT_API",
    "EXIT_BOT",
    "EXIT_CONFIG",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "Output",
    "exit_code_for",
]

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_BOT = 4
EXIT_PARTIAL = 5
EXIT_INTERRUPTED = 130


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, e.ValidationError | click.UsageError):
        return EXIT_USAGE
    if isinstance(exc, e.ConfigurationError):
        return EXIT_CONFIG
    if isinstance(exc, BotFailedError | WaitTimeoutError):
        return EXIT_BOT
    return EXIT_API


def to_data(value: Any) -> Any:
    """A model (or list of them) as plain JSON-ready data."""
    if attrs.has(type(value)):
        return converter.unstructure(value)
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    return value


def error_data(exc: BaseException) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    for name in ("status", "code", "param", "provider", "retry_after", "request_id"):
        value = getattr(exc, name, None)
        if value is not None:
            data[name] = value
    if isinstance(exc, AmbiguousCreateError):
        data["may_exist"] = True
    meeting = getattr(exc, "meeting", None)
    if meeting is not None:
        data["meeting"] = to_data(meeting)
    return data


@attrs.define
class Output:
    """Where results go: stdout (JSON or human); progress and errors go to stderr."""

    json: bool = False
    debug: bool = False
    out: Console = attrs.field(factory=lambda: Console(soft_wrap=True))
    err: Console = attrs.field(factory=lambda: Console(stderr=True, soft_wrap=True))

    def emit(self, value: Any, *, human: str | None = None) -> None:
        data = to_data(value)
        if self.json:
            sys.stdout.write(json.dumps(data, default=str) + "\n")
            sys.stdout.flush()
        elif human is not None:
            self.out.print(human, highlight=False)
        else:
            self.fields(data)

    def fields(self, data: Any) -> None:
        if isinstance(data, dict):
            table = Table.grid(padding=(0, 2))
            for key, value in data.items():
                if value in (None, [], {}, ()):
                    continue
                shown = value if isinstance(value, str) else json.dumps(value, default=str)
                table.add_row(f"[bold]{key}[/bold]", shown)
            self.out.print(table)
        else:
            self.out.print(data)

    def error(self, exc: BaseException) -> int:
        code = exit_code_for(exc)
        if self.json:
            sys.stdout.write(json.dumps({"error": error_data(exc)}, default=str) + "\n")
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.err.print(f"[red]error[/red] ({type(exc).__name__}): {message}", highlight=False)
        return code
