"""Date-times as both APIs write them: ISO 8601 read into aware UTC datetimes (any
offset, any fraction length), written as ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

Imports nothing from the package.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["format_datetime", "format_datetime_exact", "parse_datetime"]


def parse_datetime(value: Any) -> datetime:
    """An ISO 8601 string as an aware UTC datetime (naive values are taken as UTC)."""
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    try:
        # The common case, and the hot path of parsing a meeting (it has nine of them).
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return _parse_datetime_slowly(value)
    tz = parsed.tzinfo
    if tz is UTC:
        return parsed
    return parsed.replace(tzinfo=UTC) if tz is None else parsed.astimezone(UTC)


def _parse_datetime_slowly(value: str) -> datetime:
    text = value.strip()
    # Python 3.11 keeps at most 6 fraction digits; trim longer fractions by hand.
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot - 1 > 6:
            text = text[: dot + 7] + text[end:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC."""
    u = value.astimezone(UTC)
    # Not strftime: "%Y" does not zero-pad years before 1000 on every platform.
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond // 1000:03d}Z"
    )


def format_datetime_exact(value: datetime) -> str:
    """Like :func:`format_datetime`, but with microseconds when the value has any below
    the millisecond, so that reading the text back gives the same instant."""
    u = value.astimezone(UTC)
    text = format_datetime(u)
    if u.microsecond % 1000:
        text = f"{text[:-4]}{u.microsecond:06d}Z"
    return text
