"""The one cattrs converter, configured in one place, at import.

Models declare their reading quirks as field metadata (:func:`json_field`); this
module turns them into hooks, so no model module patches the converter. May import
``_datetimes``, ``_errors``, ``_fastgen``, ``_fields``, ``_scalars`` and
``_typeforms`` only.

Responses are read tolerantly where the providers are vague (unknown fields are
ignored, unknown enum values are kept as raw strings, datetimes take ``Z`` or an
offset and any fraction length) and strictly where a wrong value would mislead
(a string is never silently made from ``null`` or a number, a bool is not an int).

Unstructuring writes a model back as the JSON the provider sends (the JSON names,
``rest`` keys at the top level, ``whole`` bodies as sent, enums as their values,
date-times exactly), so reading that data again gives an equal model.
"""

from __future__ import annotations

import enum
import json
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._datetimes import format_datetime, format_datetime_exact, parse_datetime
from ._errors import ResponseValidationError
from ._fastgen import generate
from ._fields import JSON_NAME, NULL_AS, REST, WHOLE, json_field
from ._scalars import (
    SCALARS,
    any_dict,
    datetime_hook,
    json_type,
    optional_datetime,
    optional_int,
    optional_str,
    str_or_dict,
    strict_bool,
    strict_float,
    strict_int,
    strict_str,
)
from ._typeforms import (
    is_enum_or_str,
    is_sequence,
    is_str_or_model,
    is_union,
    optional_of,
)

__all__ = [
    "STRUCTURE_ERRORS",
    "converter",
    "fast_structure",
    "format_datetime",
    "json_field",
    "loads",
    "make_converter",
    "parse_datetime",
    "problems",
    "strict_converter",
    "structure",
]

T = TypeVar("T")


def _enum_or_str_hook(tp: Any) -> Callable[[Any, Any], Any]:
    args = typing.get_args(tp)
    enum_cls = next(a for a in args if isinstance(a, type) and issubclass(a, enum.Enum))
    nullable = type(None) in args
    members = {m.value: m for m in enum_cls}

    def hook(value: Any, _: Any) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {json_type(value)}")
        return members.get(value, value)

    return hook


def _looked_up(conv: cattrs.Converter, tp: Any) -> Callable[[], Callable[[Any, Any], Any]]:
    """A getter of ``tp``'s structure hook, looked up on first use (a model may name
    itself) and then kept."""
    found: list[Callable[[Any, Any], Any]] = []

    def get() -> Callable[[Any, Any], Any]:
        if not found:
            found.append(conv.get_structure_hook(tp))
        return found[0]

    return get


def _sequence_hook(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        item = typing.get_args(tp)[0]
        container = tuple if typing.get_origin(tp) is tuple else list
        element_hook = _looked_up(conv, item)

        def fast(value: Any, _: Any) -> Any:
            if not isinstance(value, list):
                raise TypeError(f"expected an array, got {json_type(value)}")
            one = element_hook()
            return container([one(element, item) for element in value])

        if not conv.detailed_validation:
            return fast

        def hook(value: Any, _: Any) -> Any:
            # cattrs would iterate a dict's keys or a string's characters: refuse them.
            if not isinstance(value, list):
                raise TypeError(f"expected an array, got {json_type(value)}")
            out = []
            errors: list[Exception] = []
            one = element_hook()
            for index, element in enumerate(value):
                try:
                    out.append(one(element, item))
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


def _attrs_hook(conv: cattrs.Converter) -> Callable[[type[Any]], Callable[[Any, Any], Any]]:
    def factory(cls: Any) -> Callable[[Any, Any], Any]:
        # A generic model (``Page[Meeting]``) leaves its fields' types to cattrs, which
        # maps the type variables; the others get every field's hook resolved now.
        generic = typing.get_origin(cls) is not None or bool(getattr(cls, "__parameters__", ()))
        fields = attrs.fields(typing.get_origin(cls) or attrs.resolve_types(cls))
        renames: dict[str, Any] = {
            f.name: override(
                rename=f.metadata.get(JSON_NAME),
                struct_hook=None if generic else _field_hook(conv, f.type),
            )
            for f in fields
        }
        fills = {
            f.metadata.get(JSON_NAME, f.name): f.metadata[NULL_AS]
            for f in fields
            if NULL_AS in f.metadata
        }
        rest = next((f.name for f in fields if f.metadata.get(REST)), None)
        whole = next((f.name for f in fields if f.metadata.get(WHOLE)), None)
        known = {f.metadata.get(JSON_NAME, f.name) for f in fields} - {rest, whole}
        if not (conv.detailed_validation or conv.forbid_extra_keys or generic):
            # The fast path: one generated function, scalar checks inline.
            base = generate(cls, conv.get_structure_hook, optional_of)
            if not (fills or rest or whole):
                return base
        else:
            base = make_dict_structure_fn(
                cls,
                conv,
                _cattrs_forbid_extra_keys=conv.forbid_extra_keys and rest is None and whole is None,
                **renames,
            )

        def hook(value: Any, tp: Any) -> Any:
            # cattrs alone would build an all-defaults instance from a string: refuse it.
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {json_type(value)}")
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


def _field_hook(conv: cattrs.Converter, tp: Any) -> Callable[[Any, Any], Any]:
    """The hook of a field of type ``tp``, resolved now rather than dispatched on every
    call: an ``X | None`` that cattrs would treat as a plain optional becomes a ``None``
    check in front of ``X``'s hook (what cattrs does, without its per-call lookup), in
    one function for the common scalars."""
    of = optional_of(tp)
    if of is not None:
        common = {str: optional_str, int: optional_int, datetime: optional_datetime}
        if of in common and conv.get_structure_hook(of) is SCALARS[of]:
            return common[of]
        inner = conv.get_structure_hook(of)

        def optional(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, of)

        return optional
    return conv.get_structure_hook(tp)


def _attrs_unhook(conv: cattrs.Converter) -> Callable[[type[Any]], Callable[[Any], Any]]:
    """Write a model as the provider's JSON: the inverse of :func:`_attrs_hook`."""

    def factory(cls: Any) -> Callable[[Any], Any]:
        fields = attrs.fields(cls)
        rest = next((f.name for f in fields if f.metadata.get(REST)), None)
        whole = next((f.name for f in fields if f.metadata.get(WHOLE)), None)
        kw: dict[str, Any] = {
            f.name: override(rename=f.metadata[JSON_NAME])
            for f in fields
            if JSON_NAME in f.metadata
        }
        kw.update({name: override(omit=True) for name in (rest, whole) if name is not None})
        base = make_dict_unstructure_fn(cls, conv, **kw)
        if rest is None and whole is None:
            return base
        # A `whole` body is the answer as sent (the other fields were read from it): it
        # wins, and only fields it does not explain (not at their default) are added.
        defaults = {
            f.metadata.get(JSON_NAME, f.name): conv.unstructure(_default(f))
            for f in fields
            if f.default is not attrs.NOTHING and f.name not in (rest, whole)
        }

        def hook(obj: Any) -> Any:
            out = base(obj)
            if rest is not None:
                out = {**conv.unstructure(getattr(obj, rest)), **out}  # named fields win
            if whole is not None:
                kept = {k: v for k, v in out.items() if k not in defaults or v != defaults[k]}
                out = {**kept, **conv.unstructure(getattr(obj, whole))}
            return out

        return hook

    return factory


def _default(field: attrs.Attribute[Any]) -> Any:
    default = field.default
    factory = getattr(default, "factory", None)  # an attrs.Factory
    return factory() if callable(factory) else default


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
            raise TypeError(f"expected a string or an object, got {json_type(value)}")

        return hook

    return factory


def make_converter(*, strict: bool = False, detailed: bool = True) -> cattrs.Converter:
    """The SDK's converter. ``strict=True`` refuses unknown keys (used by our tests to
    catch a misspelt field name; responses are always read with the tolerant one).
    ``detailed=False`` is the fast path: the same hooks, so it accepts and refuses
    exactly the same data, but its errors do not say where (see :func:`structure`)."""
    conv = cattrs.Converter(forbid_extra_keys=strict, detailed_validation=detailed)
    conv.register_structure_hook(str, strict_str)
    conv.register_structure_hook(int, strict_int)
    conv.register_structure_hook(float, strict_float)
    conv.register_structure_hook(bool, strict_bool)
    conv.register_structure_hook(datetime, datetime_hook)
    conv.register_unstructure_hook(datetime, format_datetime_exact)
    for kind in (enum.Enum, enum.StrEnum):  # StrEnum: or `str` would pass the member on
        conv.register_unstructure_hook(kind, lambda v: v.value)
    # A union field is written by what it holds (an enum member, a model or a string).
    conv.register_unstructure_hook_func(is_union, conv.unstructure)
    conv.register_structure_hook_func(lambda t: t == dict[str, Any], any_dict)
    conv.register_structure_hook_func(lambda t: t == str | dict[str, Any], str_or_dict)
    conv.register_structure_hook_factory(is_enum_or_str, _enum_or_str_hook)
    conv.register_structure_hook_factory(is_str_or_model, _str_or_model_hook(conv))
    conv.register_structure_hook_factory(is_sequence, _sequence_hook(conv))
    conv.register_structure_hook_factory(attrs.has, _attrs_hook(conv))
    conv.register_unstructure_hook_factory(attrs.has, _attrs_unhook(conv))
    return conv


converter = make_converter()
#: Refuses unknown keys: our tests read fixtures with it to catch misspelt field names.
strict_converter = make_converter(strict=True)
#: The fast path of :func:`structure` and :func:`fast_structure`: no detailed validation.
_fast = make_converter(detailed=False)
_fast_hooks: dict[Any, Callable[[Any, Any], Any]] = {}


#: What a structure that does not fit can raise (cattrs' groups, or a hook's own error).
STRUCTURE_ERRORS = (
    ClassValidationError,
    IterableValidationError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    RecursionError,
)


def _reason(exc: BaseException, tp: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    # Our hooks say what they expected and what came; cattrs' own text is the fallback.
    return str(exc) or cattrs.v.format_exception(exc, tp)


def problems(exc: BaseException) -> tuple[str, ...]:
    """A structure that did not fit, as ``$.path: reason`` lines."""
    if not isinstance(exc, ClassValidationError | IterableValidationError):
        return (f"$: {exc}",)
    lines = []
    for line in cattrs.transform_error(exc, path="$", format_exception=_reason):
        reason, _, path = line.rpartition(" @ ")
        lines.append(f"{path}: {reason}")
    return tuple(lines)


def fast_structure(data: Any, cls: type[T]) -> T:
    """``data`` as a ``cls`` by the fast path (each model's function built once, every
    field's hook resolved, no detailed validation), or the detailed converter's error
    (a ``ClassValidationError`` that names every field that did not fit): both accept
    exactly the same data, as they run the same hooks."""
    hook = _fast_hooks.get(cls)
    if hook is None:
        hook = _fast_hooks[cls] = _fast.get_structure_hook(cls)
    try:
        value: T = hook(data, cls)
    except STRUCTURE_ERRORS:
        return converter.structure(data, cls)  # raises, and says where
    return value


def structure(data: Any, cls: type[T], *, provider: str, conv: cattrs.Converter | None = None) -> T:
    """Structure ``data`` into ``cls``, or raise :class:`ResponseValidationError` naming
    every field that did not fit as ``$.path: reason``."""
    try:
        return fast_structure(data, cls) if conv is None else conv.structure(data, cls)
    except STRUCTURE_ERRORS as exc:
        lines = problems(exc)
    raise ResponseValidationError(
        f"{provider} response does not fit {cls.__name__}: " + "; ".join(lines[:5]),
        provider=provider,
        path=lines,
    )


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
