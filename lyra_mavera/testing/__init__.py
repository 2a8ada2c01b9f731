"""Helpers for tests: a fake Lyra + Mavera server on loopback, and testing mode.

::

    from lyra_mavera.testing import FakeServer

    async with FakeServer(time_scale=100) as fake:
        async with fake.session() as s:
            bot = await s.mavera.meetings.create("https://zoom.us/j/8500000123")

``set_testing(True)`` (or ``with set_testing(True):``) turns every retry and polling wait
into zero, so a test suite never sleeps.
"""

from .._clock import is_testing, set_testing
from ._bots import BotScript
from ._clock import FakeClock
from ._faults import Fault
from ._server import FakeServer, KeyInfo, RecordedRequest

__all__ = [
    "BotScript",
    "FakeClock",
    "FakeServer",
    "Fault",
    "KeyInfo",
    "RecordedRequest",
    "is_testing",
    "set_testing",
]
