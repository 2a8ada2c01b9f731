"""What kind of type annotation a field has, for the converter's hooks: unions the SDK
reads its own way, sequences, plain optionals. Imports nothing of the SDK."""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

import attrs

__all__ = [
    "is_enum_or_str",
    "is_sequence",
    "is_str",
    "is_str_or_model",
    "is_union",
    "optional_of",
]


def is_str(tp: Any) -> bool:
    """``str``, or a ``NewType`` of it (``UnknownStatus``)."""
    return tp is str or getattr(tp, "__supertype__", None) is str


def is_enum_or_str(tp: Any) -> bool:
    """``SomeStrEnum | str`` or ``SomeStrEnum | NewType(..., str)`` (optionally
    ``| None``): keep unknown values as raw strings."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return (
        len(args) == 2
        and any(is_str(a) for a in args)
        and any(isinstance(a, type) and issubclass(a, enum.Enum) for a in args)
    )


def is_sequence(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is tuple:
        return len(args) == 2 and args[1] is Ellipsis
    return origin is list and len(args) == 1


def is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def is_str_or_model(tp: Any) -> bool:
    """``str | SomeAttrsModel`` (optionally ``| None``): a string stays a string, an object
    becomes the model (Mavera's ``meeting_url`` is either)."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return len(args) == 2 and str in args and any(attrs.has(a) for a in args)


def optional_of(tp: Any) -> Any:
    """``X`` when ``tp`` is an ``X | None`` that cattrs treats as a plain optional."""
    if is_union(tp) and not (is_enum_or_str(tp) or is_str_or_model(tp)):
        args = typing.get_args(tp)
        others = [a for a in args if a is not type(None)]
        if len(others) == 1 and len(args) == 2:
            return others[0]
    return None
