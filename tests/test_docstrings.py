"""Every public object says what it is: a docstring on each class, function, public
method and property that the public namespaces export."""

from __future__ import annotations

import enum
import importlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

NAMESPACES = [
    "lyra_mavera",
    "lyra_mavera.lyra",
    "lyra_mavera.mavera",
    "lyra_mavera.testing",
    "lyra_mavera.contrib.arq",
]


def _ours(obj: object) -> bool:
    return getattr(obj, "__module__", "").startswith("lyra_mavera")


def _members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties a class defines or inherits from the package."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not _ours(klass):
            continue
        for name, attr in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(attr, property):
                yield name, attr.fget
            elif isinstance(attr, staticmethod | classmethod):
                yield name, attr.__func__
            elif inspect.isfunction(attr):
                yield name, attr


def _own_doc(obj: object) -> str:
    return (getattr(obj, "__doc__", None) or "").strip()


def undocumented(module_name: str) -> list[str]:
    """Public objects of one namespace without a docstring."""
    module = importlib.import_module(module_name)
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        where = f"{module_name}.{name}"
        if inspect.isclass(obj) and _ours(obj):
            if not _own_doc(obj) or (issubclass(obj, enum.Enum) and obj.__doc__ is None):
                missing.append(where)
            for member, function in _members(obj):
                # Overrides may inherit a package base class's docstring.
                doc = _own_doc(function) or inspect.getdoc(getattr(obj, member)) or ""
                if not doc.strip():
                    missing.append(f"{where}.{member}")
        elif inspect.isfunction(obj) and not _own_doc(obj):
            missing.append(where)
        elif hasattr(obj, "__supertype__") and obj.__doc__ == type(obj).__doc__:
            missing.append(where)  # a NewType showing typing's own docstring
    return missing


@pytest.mark.parametrize("module_name", NAMESPACES)
def test_every_public_object_has_a_docstring(module_name: str) -> None:
    """Each exported class, function, public method and property has a docstring."""
    assert undocumented(module_name) == []
