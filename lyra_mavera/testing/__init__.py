"""Helpers for tests: a fake Lyra + Mavera server on loopback, and testing mode.

May import the core, the providers and the session; never ``cli/`` or ``contrib/``.

::

    from lyra_mavera.testing import FakeServer

    async with FakeServer(time_scale=100) as fake:
        async with fake.session() as s:
            bot = await s.mavera.meetings.create("https://zoom.us/j/8500000123")

``set_testing(True)`` (or ``with set_testing(True):``) puts the SDK on a virtual clock:
every retry, rate-limit and polling wait still passes -- on paper -- so pacing, grace
periods and deadlines keep their meaning while a test suite never really sleeps.
``use_clock(fake.clock)`` makes the SDK wait on the fake server's own clock instead,
so ``fake.clock.advance(...)`` moves bots and waits together.

With pytest, the SDK's ``pytest11`` entry point (``_pytest_plugin``) adds the fixtures
``lyra_mavera_fake``, ``lyra_mavera_session`` and ``lyra_mavera_clock``.

May import anything in the package but ``cli/`` and ``contrib/``.
"""

from .._clock import Clock, VirtualClock, get_clock, is_testing, set_testing, use_clock
from ._bots import BotScript
from ._clock import FakeClock
from ._faults import Fault
from ._server import FakeServer, KeyInfo, RecordedRequest

__all__ = [
    "BotScript",
    "Clock",
    "FakeClock",
    "FakeServer",
    "Fault",
    "KeyInfo",
    "RecordedRequest",
    "VirtualClock",
    "get_clock",
    "is_testing",
    "set_testing",
    "use_clock",
]
