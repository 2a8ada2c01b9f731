"""The event loop for the programs the SDK runs itself (the command line): uvloop when
it is installed (``pip install 'lyra-mavera[speed]'``), else asyncio's own.

The SDK never sets the event loop policy of an application: as a library it runs on
whatever loop it is awaited from. An application that wants uvloop chooses it itself
(``asyncio.Runner(loop_factory=uvloop.new_event_loop)``, ``uvloop.run(main())``, or
:func:`run` here); so does an arq or Temporal worker's own entry point.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_factory", "run"]

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """``uvloop.new_event_loop`` when uvloop can be imported, else
    ``asyncio.new_event_loop``."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` picks (Ctrl-C, shutdown of
    async generators and of the default executor as ``asyncio.run`` does them)."""
    with asyncio.Runner(debug=debug, loop_factory=loop_factory()) as runner:
        return runner.run(main)
