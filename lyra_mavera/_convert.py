"""The one cattrs converter, configured in one place, at import.

Models declare their reading quirks as field metadata (:func:`json_field`); this
module turns them into hooks, so no model module patches the converter. May import
``_errors`` only.

Responses are read tolerantly where the providers are vague (unknown fields are
ignored, unknown enum values are kept as raw strings, datetimes take ``Z`` or an
offset and any fraction length) and strictly where a wrong value would mislead
(a string is never silently made from ``null`` or a number, a bool is not an int).
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, override

from ._errors import ResponseValidationError

__all__ = [
    "converter",
    "format_datetime",
    "json_field",
    "loads",
    "make_converter",
    "parse_datetime",
    "strict_converter",
    "structure",
]

T = TypeVar("T")


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


def _strict_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {_json_type(value)}")


def _strict_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {_json_type(value)}")


def _strict_float(value: Any, _: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {_json_type(value)}")


def _strict_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {_json_type(value)}")


def _any_dict(value: Any, _: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise TypeError(f"expected an object, got {_json_type(value)}")


def _json_type(value: Any) -> str:
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


def _is_str(tp: Any) -> bool:
    """``str``, or a ``NewType`` of it (``UnknownStatus``)."""
    return tp is str or getattr(tp, "__supertype__", None) is str


def _is_enum_or_str(tp: Any) -> bool:
    """``SomeStrEnum | str`` or ``SomeStrEnum | NewType(..., str)`` (optionally
    ``| None``): keep unknown values as raw strings."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return (
        len(args) == 2
        and any(_is_str(a) for a in args)
        and any(isinstance(a, type) and issubclass(a, enum.Enum) for a in args)
    )


def _enum_or_str_hook(tp: Any) -> Callable[[Any, Any], Any]:
    args = typing.get_args(tp)
    enum_cls = next(a for a in args if isinstance(a, type) and issubclass(a, enum.Enum))
    nullable = type(None) in args
    members = {m.value: m for m in enum_cls}

    def hook(value: Any, _: Any) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {_json_type(value)}")
        return members.get(value, value)

    return hook


def _str_or_dict(value: Any, _: Any) -> str | dict[str, Any]:
    if isinstance(value, str | dict):
        return value
    raise TypeError(f"expected a string or an object, got {_json_type(value)}")


def _is_sequence(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is tuple:
        return len(args) == 2 and args[1] is Ellipsis
    return origin is list and len(args) == 1


def _sequence_hook(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        item = typing.get_args(tp)[0]
        container = tuple if typing.get_origin(tp) is tuple else list

        def hook(value: Any, _: Any) -> Any:
            # cattrs would iterate a dict's keys or a string's characters: refuse them.
            if not isinstance(value, list):
                raise TypeError(f"expected an array, got {_json_type(value)}")
            out = []
            errors: list[Exception] = []
            for index, element in enumerate(value):
                try:
                    out.append(conv.structure(element, item))
                except Exception as exc:
                    exc.__notes__ = [
                        *getattr(exc, "__notes__", []),
                        IterableValidationNote(f"Structuring {tp} @ index {index}", index, item),
                    ]
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
            return container(out)

        return hook

    return factory


#: Field metadata the converter understands (see :func:`json_field`).
JSON_NAME = "lyra_mavera.json"
NULL_AS = "lyra_mavera.null_as"
REST = "lyra_mavera.rest"
WHOLE = "lyra_mavera.whole"


def json_field(
    *,
    name: str | None = None,
    null_as: Any = None,
    rest: bool = False,
    whole: bool = False,
    **kwargs: Any,
) -> Any:
    """An ``attrs.field`` with reading rules for the converter, so model modules declare
    their quirks and never configure the converter themselves:

    - ``name``: the JSON key when it differs (``userId`` for ``user_id``);
    - ``null_as``: the value to use when the key is missing or ``null``;
    - ``rest``: this field receives every key no other field names;
    - ``whole``: this field receives the whole JSON object as sent.
    """
    metadata = dict(kwargs.pop("metadata", {}))
    if name is not None:
        metadata[JSON_NAME] = name
    if null_as is not None:
        metadata[NULL_AS] = null_as
    if rest:
        metadata[REST] = True
    if whole:
        metadata[WHOLE] = True
    return attrs.field(metadata=metadata, **kwargs)


def _attrs_hook(conv: cattrs.Converter) -> Callable[[type[Any]], Callable[[Any, Any], Any]]:
    def factory(cls: Any) -> Callable[[Any, Any], Any]:
        fields = attrs.fields(cls)
        renames: dict[str, Any] = {
            f.name: override(rename=f.metadata[JSON_NAME])
            for f in fields
            if JSON_NAME in f.metadata
        }
        fills = {
            f.metadata.get(JSON_NAME, f.name): f.metadata[NULL_AS]
            for f in fields
            if NULL_AS in f.metadata
        }
        rest = next((f.name for f in fields if f.metadata.get(REST)), None)
        whole = next((f.name for f in fields if f.metadata.get(WHOLE)), None)
        known = {f.metadata.get(JSON_NAME, f.name) for f in fields} - {rest, whole}
        base = make_dict_structure_fn(
            cls,
            conv,
            _cattrs_forbid_extra_keys=conv.forbid_extra_keys and rest is None and whole is None,
            **renames,
        )

        def hook(value: Any, tp: Any) -> Any:
            # cattrs alone would build an all-defaults instance from a string: refuse it.
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {_json_type(value)}")
            if fills or rest or whole:
                data = dict(value)
                for key, fill in fills.items():
                    if data.get(key) is None:
                        data[key] = fill
                if rest is not None:
                    data = {k: v for k, v in data.items() if k in known}
                    data[rest] = {k: v for k, v in value.items() if k not in known}
                if whole is not None:
                    data[whole] = value
                value = data
            return base(value, tp)

        return hook

    return factory


def _is_str_or_model(tp: Any) -> bool:
    """``str | SomeAttrsModel`` (optionally ``| None``): a string stays a string, an object
    becomes the model (Mavera's ``meeting_url`` is either)."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return len(args) == 2 and str in args and any(attrs.has(a) for a in args)


def _str_or_model_hook(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        args = typing.get_args(tp)
        model = next(a for a in args if attrs.has(a))
        nullable = type(None) in args

        def hook(value: Any, _: Any) -> Any:
            if isinstance(value, str) or (value is None and nullable):
                return value
            if isinstance(value, dict):
                return conv.structure(value, model)
            raise TypeError(f"expected a string or an object, got {_json_type(value)}")

        return hook

    return factory


def make_converter(*, strict: bool = False) -> cattrs.Converter:
    """The SDK's converter. ``strict=True`` refuses unknown keys (used by our tests to
    catch a misspelt field name; responses are always read with the tolerant one)."""
    conv = cattrs.Converter(forbid_extra_keys=strict, detailed_validation=True)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(datetime, lambda v, _: parse_datetime(v))
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_structure_hook_func(lambda t: t == dict[str, Any], _any_dict)
    conv.register_structure_hook_func(lambda t: t == str | dict[str, Any], _str_or_dict)
    conv.register_structure_hook_factory(_is_enum_or_str, _enum_or_str_hook)
    conv.register_structure_hook_factory(_is_str_or_model, _str_or_model_hook(conv))
    conv.register_structure_hook_factory(_is_sequence, _sequence_hook(conv))
    conv.register_structure_hook_factory(attrs.has, _attrs_hook(conv))
    return conv


converter = make_converter()
#: Refuses unknown keys: our tests read fixtures with it to catch misspelt field names.
strict_converter = make_converter(strict=True)


def structure(data: Any, cls: type[T], *, provider: str, conv: cattrs.Converter | None = None) -> T:
    """Structure ``data`` into ``cls``, or raise :class:`ResponseValidationError` naming
    every field that did not fit as ``$.path: reason``."""
    try:
        return (conv or converter).structure(data, cls)
    except (ClassValidationError, IterableValidationError) as exc:
        lines = tuple(cattrs.transform_error(exc, path="$"))
        raise ResponseValidationError(
            f"{provider} response does not fit {cls.__name__}: " + "; ".join(lines[:5]),
            provider=provider,
            path=lines,
        ) from None
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise ResponseValidationError(
            f"{provider} response does not fit {cls.__name__}: $: {exc}",
            provider=provider,
            path=(f"$: {exc}",),
        ) from None


def loads(body: bytes, *, provider: str, status: int | None = None) -> Any:
    """Decode a JSON response body, or raise :class:`ResponseValidationError`."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ResponseValidationError(
            f"{provider} response is not valid JSON ({exc.__class__.__name__}: {exc})",
            provider=provider,
            status=status,
        ) from None
