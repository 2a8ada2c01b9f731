"""pytest fixtures for code built on lyra_mavera, loaded by pytest through the SDK's
``pytest11`` entry point (installing the SDK is enough; nothing to add to a conftest).

- ``lyra_mavera_clock``: a virtual :class:`~lyra_mavera.testing.FakeClock`, installed as
  the SDK's clock for the test (``use_clock``). It moves only when the SDK waits on it
  or the test calls ``advance()``, so polling, retries and deadlines run without really
  sleeping, and the fake's bots move on the same time line.
- ``lyra_mavera_fake``: a started :class:`~lyra_mavera.testing.FakeServer` on that clock,
  without rate limits unless the test asks for them.
- ``lyra_mavera_session``: an :class:`~lyra_mavera.AsyncSession` wired to that fake.

``@pytest.mark.lyra_mavera(**options)`` passes options to the ``FakeServer`` (``rpm=60``,
``seed=1``, ``script=BotScript(...)``...).

The two async fixtures are ``pytest_asyncio`` fixtures, so they work in pytest-asyncio's
default strict mode as well as in auto mode (their event loop follows the project's
``asyncio_default_fixture_loop_scope``). Without pytest-asyncio they are plain async
fixtures, left to whichever async plugin the project uses; ``lyra_mavera_clock`` is
synchronous and works everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .._session import AsyncSession
    from . import FakeClock, FakeServer

__all__ = [
    "MARKER",
    "lyra_mavera_clock",
    "lyra_mavera_fake",
    "lyra_mavera_session",
    "pytest_configure",
]

#: The marker whose keyword arguments go to the ``FakeServer``.
MARKER = "lyra_mavera"


def _async_fixture(function: Callable[..., Any]) -> Any:
    """A pytest-asyncio fixture when pytest-asyncio is installed, else a plain one."""
    try:
        import pytest_asyncio
    except ImportError:
        return pytest.fixture(function)
    return pytest_asyncio.fixture(function)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so projects with ``--strict-markers`` accept it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): options for the lyra_mavera_fake FakeServer "
        "(rpm=..., seed=..., script=...)",
    )


@pytest.fixture
def lyra_mavera_clock() -> Iterator[FakeClock]:
    """A virtual FakeClock that is the SDK's clock for the duration of the test."""
    from . import FakeClock, use_clock

    clock = FakeClock(virtual=True)
    with use_clock(clock):
        yield clock


@_async_fixture
async def lyra_mavera_fake(
    request: pytest.FixtureRequest, lyra_mavera_clock: FakeClock
) -> AsyncIterator[FakeServer]:
    """A started FakeServer on the test's clock (options from ``@pytest.mark.lyra_mavera``)."""
    from . import FakeServer

    options: dict[str, Any] = {"clock": lyra_mavera_clock, "rpm": None}
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            raise TypeError(f"@pytest.mark.{MARKER} takes keyword arguments only")
        options.update(marker.kwargs)
    async with FakeServer(**options) as fake:
        yield fake


@_async_fixture
async def lyra_mavera_session(lyra_mavera_fake: FakeServer) -> AsyncIterator[AsyncSession]:
    """An AsyncSession wired to ``lyra_mavera_fake``, closed after the test."""
    async with lyra_mavera_fake.session() as session:
        yield session
