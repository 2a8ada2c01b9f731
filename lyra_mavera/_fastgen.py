"""The fast path's structure functions: one Python function per model, generated once,
with the common scalar checks written inline and every other field's hook bound at
generation time. May import ``_datetimes``, ``_fields``, ``_scalars`` and ``_typeforms``
only.

It must accept exactly what the detailed converter accepts and build the same model:
the inline checks are the scalar hooks' own tests (:mod:`lyra_mavera._scalars`), and
any error sends :func:`lyra_mavera._convert.fast_structure` to the detailed converter,
which raises the error that names the field (a property test holds both to it).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from ._datetimes import parse_datetime
from ._fields import JSON_NAME
from ._scalars import strict_float, strict_int
from ._typeforms import is_sequence

__all__ = ["generate"]

_NOT_STR = "raise TypeError('expected a string')"
# parse_datetime's own common case (an ISO string in UTC) inline; anything else is
# handed to it whole.
_DATETIME = [
    "if type(v) is str:",
    "    try: d = fromisoformat(v)",
    "    except ValueError: d = None",
    "    v = d if d is not None and d.tzinfo is UTC else parse_datetime(v)",
    "else: v = parse_datetime(v)",
]
_NOT_INT = "(not isinstance(v, int) or isinstance(v, bool))"
# Field types checked inline: what to do with the value ``v`` bound for ``res[alias]``
# (the scalar hooks' own tests; anything unusual goes to the hook itself).
_INLINE: dict[Any, list[str]] = {
    str: [f"if not isinstance(v, str): {_NOT_STR}"],
    str | None: [f"if v is not None and not isinstance(v, str): {_NOT_STR}"],
    # parse_datetime's own fast case (an ISO string with Z or +00:00) inline, the rest
    # through it.
    datetime: _DATETIME,
    datetime | None: ["if v is not None:", *(f"    {line}" for line in _DATETIME)],
    int: [f"if {_NOT_INT}: v = strict_int(v, None)"],
    int | None: [f"if v is not None and {_NOT_INT}: v = strict_int(v, None)"],
    float: ["if type(v) is not float: v = strict_float(v, None)"],
    float | None: ["if v is not None and type(v) is not float: v = strict_float(v, None)"],
    bool | None: ["if v is not None and not isinstance(v, bool): raise TypeError('not a bool')"],
}


_MISSING = object()


def generate(
    cls: type[Any],
    hook_of: Callable[[Any], Callable[[Any, Any], Any]],
    optional_of: Callable[[Any], Any],
) -> Callable[[Any, Any], Any]:
    """``cls``'s structure function ``(data, type) -> cls``: a dict is required, keys
    are the fields' JSON names, absent optional keys leave the field's default, and
    each value goes through its inline check or the hook ``hook_of(type)`` returns
    (for a plain ``X | None``, as ``optional_of`` tells, ``None`` or ``X``'s hook)."""
    scope: dict[str, Any] = {
        "__cl": cls,
        "parse_datetime": parse_datetime,
        "fromisoformat": datetime.fromisoformat,
        "UTC": UTC,
        "strict_int": strict_int,
        "strict_float": strict_float,
        "__missing": _MISSING,
    }
    lines = [
        "def structure(o, _=None):",
        "    if not isinstance(o, dict): raise TypeError('expected an object')",
    ]
    args: list[str] = []
    for index, field in enumerate(attrs.fields(cls)):
        if field.init:
            lines += _read_field(index, field, scope, hook_of, optional_of)
            name = f"a{index}"
            args.append(f"{field.alias}={name}" if field.kw_only else name)
    lines.append(f"    return __cl({', '.join(args)})")
    source = "\n".join(lines)
    where = f"<lyra_mavera fast structure {cls.__qualname__}>"
    # Our own code, written from the model's field names and JSON names only.
    exec(compile(source, where, "exec"), scope)  # noqa: S102
    function: Callable[[Any, Any], Any] = scope["structure"]
    return function


def _read_field(
    index: int,
    field: attrs.Attribute[Any],
    scope: dict[str, Any],
    hook_of: Callable[[Any], Callable[[Any, Any], Any]],
    optional_of: Callable[[Any], Any],
) -> list[str]:
    """The lines that set ``a<index>``: the field's value from ``o``, checked, or its
    default when the key is absent (positional arguments: no kwargs dict to build)."""
    key = field.metadata.get(JSON_NAME, field.name)
    steps = _INLINE.get(field.type)
    inner = None
    if steps is None and is_sequence(field.type):
        item = typing.get_args(field.type)[0]
        kind = "tuple" if typing.get_origin(field.type) is tuple else "list"
        scope[f"h{index}"], scope[f"t{index}"] = hook_of(item), item
        steps = [
            "if not isinstance(v, list): raise TypeError('expected an array')",
            f"v = {kind}([h{index}(e, t{index}) for e in v])",  # builtins: tuple or list
        ]
    if steps is None:
        inner = optional_of(field.type)
        of = field.type if inner is None else inner
        scope[f"h{index}"], scope[f"t{index}"] = hook_of(of), of
        steps = [("" if inner is None else "if v is not None: ") + f"v = h{index}(v, t{index})"]
    out = f"a{index}"
    default = field.default
    if default is attrs.NOTHING:
        return [f"    v = o[{key!r}]", *(f"    {step}" for step in steps), f"    {out} = v"]
    nullable = inner is not None or steps[0].startswith("if v is not None")
    if default is None and nullable:
        # An absent key and a null both give the default, None: one lookup.
        return [f"    v = o.get({key!r})", *(f"    {step}" for step in steps), f"    {out} = v"]
    factory = getattr(default, "factory", None)  # an attrs.Factory
    if callable(factory):
        if getattr(default, "takes_self", False):
            raise TypeError(f"{field.name}: a default that takes self is not supported")
        scope[f"d{index}"] = factory
        fill = f"d{index}()"
    else:
        scope[f"d{index}"] = default
        fill = f"d{index}"
    return [
        f"    v = o.get({key!r}, __missing)",
        f"    if v is __missing: {out} = {fill}",
        "    else:",
        *(f"        {step}" for step in steps),
        f"        {out} = v",
    ]
