"""Checks on caller input, run before any request is built.

Each raises :class:`ValidationError` naming the parameter and saying how to fix it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime

from ._errors import ValidationError

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_TEXT_LENGTH",
    "check_aware_datetime",
    "check_bool",
    "check_emails",
    "check_id",
    "check_number",
    "check_text",
]

#: Our own guard on free-text fields (titles, bot names); neither API documents one.
MAX_TEXT_LENGTH = 1_000
MAX_ID_LENGTH = 256

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Deliberately simple: one @, no whitespace, a dot in the domain. The server is the
# final judge; this catches the typos that would otherwise cost a round trip.
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\].]+$")


def check_text(param: str, value: object, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """A non-blank single-line string of at most ``max_length`` characters."""
    if not isinstance(value, str):
        raise ValidationError(param, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(param, "must not be empty or only whitespace")
    if len(value) > max_length:
        raise ValidationError(
            param, f"is {len(value):,} characters long; the limit is {max_length:,}"
        )
    if _CONTROL.search(value):
        raise ValidationError(param, "must not contain control characters or line breaks")
    return value


def check_id(param: str, value: object) -> str:
    """An opaque id that goes into a URL path: non-blank, no control characters."""
    text = check_text(param, value, max_length=MAX_ID_LENGTH)
    if text != text.strip():
        raise ValidationError(param, "must not start or end with whitespace")
    if text in (".", ".."):
        # Percent-encoding leaves dots alone, and a URL resolver would climb the path:
        # get(".") would read the list endpoint, cancel("..") post elsewhere.
        raise ValidationError(param, f"{text!r} is not an id")
    return text


def check_aware_datetime(param: str, value: object) -> datetime:
    """A timezone-aware datetime (a naive one is ambiguous: say which zone it is in)."""
    if not isinstance(value, datetime):
        raise ValidationError(
            param, f"must be a datetime, got {type(value).__name__}; parse strings first"
        )
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValidationError(
            param,
            "must be timezone-aware; use e.g. datetime(..., tzinfo=datetime.timezone.utc)",
        )
    return value


def check_emails(param: str, value: object) -> list[str]:
    """One email address or an iterable of them, as a list."""
    items: list[object] | tuple[object, ...]
    if isinstance(value, str):
        items = [value]
    elif type(value) is list or type(value) is tuple:  # the usual case: no ABC check
        items = value
    elif isinstance(value, Iterable) and not isinstance(value, bytes | dict):
        items = list(value)
    else:
        raise ValidationError(
            param, f"must be an email address or a list of them, got {type(value).__name__}"
        )
    out: list[str] = []
    for i, item in enumerate(items):
        where = param if isinstance(value, str) else f"{param}[{i}]"
        if not isinstance(item, str):
            raise ValidationError(where, f"must be a string, got {type(item).__name__}")
        address = item.strip()
        if not _EMAIL.match(address) or len(address) > 254:
            raise ValidationError(where, f"{item[:80]!r} is not an email address")
        out.append(address)
    return out


def check_number(
    param: str, value: object, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """A finite real number within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(param, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValidationError(param, "must be a finite number")
    if minimum is not None and value < minimum:
        raise ValidationError(param, f"must be >= {minimum:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValidationError(param, f"must be <= {maximum:g}, got {value!r}")
    return value


def check_bool(param: str, value: object) -> bool:
    """A real bool (``"false"`` is truthy, so strings are refused)."""
    if not isinstance(value, bool):
        raise ValidationError(param, f"must be True or False, got {type(value).__name__}")
    return value
