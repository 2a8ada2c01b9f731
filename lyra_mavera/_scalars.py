"""The strict hooks for JSON scalars (a string is never made from ``null`` or a number,
a bool is not an int) and their optional forms, for :mod:`lyra_mavera._convert`. May
import ``_datetimes`` only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._datetimes import parse_datetime

__all__ = [
    "SCALARS",
    "any_dict",
    "datetime_hook",
    "json_type",
    "optional_datetime",
    "optional_int",
    "optional_str",
    "str_or_dict",
    "strict_bool",
    "strict_float",
    "strict_int",
    "strict_str",
]


def strict_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {json_type(value)}")


def strict_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {json_type(value)}")


def strict_float(value: Any, _: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {json_type(value)}")


def strict_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {json_type(value)}")


def datetime_hook(value: Any, _: Any) -> datetime:
    return parse_datetime(value)


#: The scalar hooks every converter registers (the optional fast hooks stand for them).
SCALARS: dict[Any, Any] = {str: strict_str, int: strict_int, datetime: datetime_hook}


def any_dict(value: Any, _: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise TypeError(f"expected an object, got {json_type(value)}")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def str_or_dict(value: Any, _: Any) -> str | dict[str, Any]:
    if isinstance(value, str | dict):
        return value
    raise TypeError(f"expected a string or an object, got {json_type(value)}")


def optional_str(value: Any, _: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {json_type(value)}")


def optional_int(value: Any, _: Any) -> int | None:
    return None if value is None else strict_int(value, _)


def optional_datetime(value: Any, _: Any) -> datetime | None:
    return None if value is None else parse_datetime(value)
