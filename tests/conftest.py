"""Shared fixtures: keys, a session against mocked hosts, and a guard that fails any
test in which a configured API key shows up in a log record."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses

import lyra_mavera as lm
from lyra_mavera._clock import VirtualClock, use_clock
from lyra_mavera.testing import FakeServer, set_testing

LYRA_KEY = "lyra_" + "k3yL" * 8
MAVERA_KEY = "mvra_live_" + "s3cr" * 8
SECRETS = (LYRA_KEY, MAVERA_KEY, LYRA_KEY[5:], MAVERA_KEY[10:])
LYRA = "https://app.lyra.so/api/v1"
MAVERA = "https://app.mavera.io/api/v1"
SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> Any:
    """A recorded response body from tests/samples/."""
    return json.loads((SAMPLES / name).read_text())


#: Every key in play during the current test: ours, and those FakeServer makes.
_keys_in_play: set[str] = set(SECRETS)


def assert_no_secret(text: str) -> None:
    for secret in _keys_in_play:
        assert secret not in text, "an API key leaked"


@pytest.fixture
def real_waits() -> Iterator[None]:
    """For tests where cadence or pacing matters: the SDK's waits are real (the fake
    clock is fast, so they stay short)."""
    with set_testing(False):
        yield


@pytest.fixture(autouse=True)
def _no_waits() -> Iterator[None]:
    with set_testing(True):
        yield


@pytest.fixture(autouse=True)
def _no_key_anywhere(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fail the test if any key shows up in a log record (captured at DEBUG) or in the
    str/repr of any SDK error raised or built during it."""
    caplog.set_level(logging.DEBUG, logger="lyra_mavera")
    errors: list[BaseException] = []

    def recording_new(cls: type[lm.LyraMaveraError], *args: Any, **kwargs: Any) -> Any:
        # Delegate to the next real __new__ (OSError's for WaitTimeoutError).
        for klass in cls.__mro__:
            new = klass.__dict__.get("__new__")
            if new is not None and new is not recording_new:
                err = new(cls, *args)
                break
        errors.append(err)
        return err

    def remember_secret(self: FakeServer, value: str) -> str:
        """Note a secret the fake made, so this test fails if it leaks."""
        _keys_in_play.add(value)
        _keys_in_play.add(value[-20:])
        return value

    monkeypatch.setattr(lm.LyraMaveraError, "__new__", recording_new)
    monkeypatch.setattr(FakeServer, "remember_secret", remember_secret)
    yield
    for record in caplog.records:
        assert_no_secret(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            assert_no_secret(str(record.exc_info[1]))
    for err in errors:
        assert_no_secret(str(err))
        assert_no_secret(repr(err))
        for note in getattr(err, "__notes__", ()):
            assert_no_secret(note)
    _keys_in_play.intersection_update(SECRETS)


class RecordingClock(VirtualClock):
    """A virtual clock that remembers every wait asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        await super().sleep(seconds)


@pytest.fixture
def sleeps() -> Iterator[list[float]]:
    """Every wait the SDK asks for, in order (none is really slept)."""
    clock = RecordingClock()
    with use_clock(clock):
        yield clock.asked


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LYRA_API_KEY", "MAVERA_API_KEY", "LYRA_BASE_URL", "MAVERA_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeServer]:
    """A started FakeServer. Options come from the closest ``@pytest.mark.fake(...)``
    (FakeServer's keyword arguments, plus ``real_waits=True`` to turn testing mode off);
    by default no rate limit and a clock that moves only when a test advances it."""
    marker = request.node.get_closest_marker("fake")
    options: dict[str, Any] = {"rpm": None, "time_scale": 1e-6}
    options.update(marker.kwargs if marker is not None else {})
    waits = set_testing(False) if options.pop("real_waits", False) else contextlib.nullcontext()
    with waits:
        async with FakeServer(**options) as server:
            yield server


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[lm.AsyncSession]:
    async with lm.AsyncSession(lyra_api_key=LYRA_KEY, mavera_api_key=MAVERA_KEY) as s:
        yield s


def sent(mock: aioresponses, method: str, url: str) -> list[Any]:
    """The calls aioresponses recorded for one method and URL (query included)."""
    from yarl import URL

    return mock.requests.get((method, URL(url)), [])
