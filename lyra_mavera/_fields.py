"""Field metadata for the converter: models declare their JSON quirks with
:func:`json_field`, and :mod:`lyra_mavera._convert` turns them into hooks.

Imports nothing from the package.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["JSON_NAME", "NULL_AS", "REST", "WHOLE", "json_field"]

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
