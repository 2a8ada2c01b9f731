"""Keys stay secret, TLS stays on unless explicitly turned off."""

from __future__ import annotations

import pytest

import lyra_mavera as lm
from lyra_mavera._config import ApiKey
from lyra_mavera._http import Request
from lyra_mavera._session import BearerAuth
from lyra_mavera.testing import FakeServer
from tests.conftest import LYRA_KEY, MAVERA_KEY, assert_no_secret


async def test_reprs_never_show_keys() -> None:
    """Sessions, providers, auth, requests, limiters, policies and errors hide keys."""
    async with lm.AsyncSession(lyra_api_key=LYRA_KEY, mavera_api_key=MAVERA_KEY) as s:
        request = Request(
            provider="mavera",
            method="GET",
            url="https://x/api",
            path="/api",
            request_id="r1",
            attempt=1,
            headers={"Authorization": f"Bearer {MAVERA_KEY}"},
        )
        things: list[object] = [
            s,
            s.lyra,
            s.mavera,
            s.retry,
            lm.PollPolicy(),
            request,
            BearerAuth(ApiKey(MAVERA_KEY)),
            ApiKey(LYRA_KEY),
            s.rate_limiter("mavera"),
            s.stats,
            lm.AuthenticationError("bad key", status=401, provider="mavera"),
            lm.ConfigurationError("no key"),
        ]
        for thing in things:
            assert_no_secret(repr(thing))
            assert_no_secret(str(thing))


async def test_key_never_in_errors_after_real_failures() -> None:
    """Errors from real failures (401, timeouts, refused connections) do not carry the key."""
    async with FakeServer(rpm=None) as fake:
        fake.add_key("lyra", LYRA_KEY)  # the Mavera key stays unknown: a 401
        session = fake.session(mavera_api_key=MAVERA_KEY, lyra_api_key=LYRA_KEY, timeout=0.2)
        async with session as s:
            with pytest.raises(lm.AuthenticationError) as info:
                await s.mavera.usage.get()
            assert_no_secret(str(info.value) + repr(info.value) + (info.value.body or ""))
            fake.inject("latency", delay=0.5)
            with pytest.raises(lm.APITimeoutError) as timeout:
                await s.lyra.auth.verify()
            assert_no_secret(str(timeout.value) + repr(timeout.value))


async def test_tls_verification_is_on_by_default() -> None:
    """The owned connector verifies certificates unless told otherwise."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        await s.mavera.usage.get()
        assert s.verify_tls is True
        assert s.client_session is not None and s.client_session.connector is not None
        assert s.client_session.connector._ssl is True  # aiohttp keeps no public flag


async def test_tls_verification_off_only_explicitly() -> None:
    """verify_tls=False works but warns; anything but a bool is refused."""
    with pytest.warns(UserWarning, match="not verified"):
        session = lm.AsyncSession(verify_tls=False)
    async with session as s:
        s._client()
        assert s.client_session is not None and s.client_session.connector is not None
        assert s.client_session.connector._ssl is False
    with pytest.raises(lm.ConfigurationError, match="verify_tls"):
        lm.AsyncSession(verify_tls="no")  # type: ignore[arg-type]
