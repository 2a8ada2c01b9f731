"""Models as data: :func:`to_dict`, :func:`to_json` and :func:`from_dict`, through the
SDK's one converter.

The data is the JSON the provider sends (``userId`` for ``Identity.user_id``, an
analysis as its whole body, date-times as ``...Z`` text), so what ``to_dict`` writes,
``from_dict`` reads back into an equal model, and ``from_dict`` reads the providers'
own JSON too (a stored answer, a webhook's payload). Reading is as tolerant as for
responses (unknown keys are ignored, unknown statuses kept as strings); data that does
not fit raises :class:`ValidationError` naming the field path.

May import the core's ``_convert`` and ``_errors`` only.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import attrs

from ._convert import STRUCTURE_ERRORS, converter, fast_structure, problems
from ._errors import ValidationError

__all__ = ["from_dict", "to_dict", "to_json"]

T = TypeVar("T")


def _check_model(what: str, cls: type[Any]) -> None:
    if not attrs.has(cls):
        raise TypeError(f"{what} takes an SDK model such as lm.mavera.Meeting, got {cls!r}")


def to_dict(model: Any) -> dict[str, Any]:
    """``model`` as JSON-ready data, in the provider's own JSON shape.

    ``lm.to_dict(meeting)["status"] == "done"``; ``from_dict`` reads it back.
    """
    _check_model("to_dict()", type(model))
    data: dict[str, Any] = converter.unstructure(model)
    return data


def to_json(model: Any, *, indent: int | None = None) -> str:
    """``model`` as a JSON document (compact unless ``indent`` is given); non-ASCII text
    is kept as is."""
    separators = (",", ":") if indent is None else None
    return json.dumps(to_dict(model), ensure_ascii=False, indent=indent, separators=separators)


def from_dict(cls: type[T], data: Any) -> T:
    """A ``cls`` model read from JSON-like ``data`` (what :func:`to_dict` wrote, or the
    provider's JSON). Data that does not fit raises :class:`ValidationError`: ``param``
    is the first field path that failed (``$.tasks[0].due_date``), ``path`` lists every
    failure as ``$.path: reason``.
    """
    _check_model("from_dict()", cls)
    try:
        return fast_structure(data, cls)
    except STRUCTURE_ERRORS as exc:
        lines = problems(exc)
    path, _, reason = lines[0].partition(": ")
    more = f" (and {len(lines) - 1} more: {'; '.join(lines[1:5])})" if len(lines) > 1 else ""
    raise ValidationError(path, f"{reason}{more}; the data does not fit {cls.__name__}", path=lines)
