"""The fast path's structure functions: one Python function per model, generated once,
with the common scalar checks written inline and every other field's hook bound at
generation time. May import ``_datetimes``, ``_fields`` and ``_scalars`` only.

It must accept exactly what the detailed converter accepts and build the same model:
the inline checks are the scalar hooks' own tests (:mod:`lyra_mavera._scalars`), and
any error sends :func:`lyra_mavera._convert.fast_structure` to the detailed converter,
which raises the error that names the field (a property test holds both to it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from ._datetimes import parse_datetime
from ._fields import JSON_NAME
from ._scalars import strict_float, strict_int

__all__ = ["generate"]

_NOT_STR = "raise TypeError('expected a string')"
_NOT_INT = "(not isinstance(v, int) or isinstance(v, bool))"
# Field types checked inline: what to do with the value ``v`` bound for ``res[alias]``
# (the scalar hooks' own tests; anything unusual goes to the hook itself).
_INLINE: dict[Any, list[str]] = {
    str: [f"if not isinstance(v, str): {_NOT_STR}"],
    str | None: [f"if v is not None and not isinstance(v, str): {_NOT_STR}"],
    datetime: ["v = parse_datetime(v)"],
    datetime | None: ["if v is not None: v = parse_datetime(v)"],
    int: [f"if {_NOT_INT}: v = strict_int(v, None)"],
    int | None: [f"if v is not None and {_NOT_INT}: v = strict_int(v, None)"],
    float: ["if type(v) is not float: v = strict_float(v, None)"],
    float | None: ["if v is not None and type(v) is not float: v = strict_float(v, None)"],
    bool | None: ["if v is not None and not isinstance(v, bool): raise TypeError('not a bool')"],
}


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
        "strict_int": strict_int,
        "strict_float": strict_float,
    }
    lines = [
        "def structure(o, _=None):",
        "    if not isinstance(o, dict): raise TypeError('expected an object')",
        "    res = {}",
    ]
    for index, field in enumerate(attrs.fields(cls)):
        if not field.init:
            continue
        key = field.metadata.get(JSON_NAME, field.name)
        steps = _INLINE.get(field.type)
        if steps is None:
            inner = optional_of(field.type)
            of = field.type if inner is None else inner
            scope[f"h{index}"], scope[f"t{index}"] = hook_of(of), of
            steps = [("" if inner is None else "if v is not None: ") + f"v = h{index}(v, t{index})"]
        indent = "    "
        if field.default is attrs.NOTHING:
            lines.append(f"{indent}v = o[{key!r}]")
        else:
            lines.append(f"{indent}if {key!r} in o:")
            indent += "    "
            lines.append(f"{indent}v = o[{key!r}]")
        lines += [indent + step for step in steps]
        lines.append(f"{indent}res[{field.alias!r}] = v")
    lines.append("    return __cl(**res)")
    source = "\n".join(lines)
    where = f"<lyra_mavera fast structure {cls.__qualname__}>"
    # Our own code, written from the model's field names and JSON names only.
    exec(compile(source, where, "exec"), scope)  # noqa: S102
    function: Callable[[Any, Any], Any] = scope["structure"]
    return function
