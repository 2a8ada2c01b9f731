"""AsyncSession: lifecycle, configuration, the middleware chain, retries and timeouts."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import socket
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

import lyra_mavera as lm
from tests.conftest import LYRA, LYRA_KEY, MAVERA, MAVERA_KEY, assert_no_secret, sample, sent

MEETING_URL = f"{MAVERA}/meetings/meeting_123"
CREATE_URL = f"{MAVERA}/meetings"


async def test_async_with_closes_owned_client() -> None:
    """Leaving `async with` closes the aiohttp session the SDK created."""
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY) as s:
        with aioresponses() as m:
            m.get(MEETING_URL, payload=sample("mavera_meeting_done.json"))
            await s.mavera.meetings.get("meeting_123")
        client = s.client_session
        assert client is not None and not client.closed
    assert client.closed and s.closed


async def test_aclose_is_idempotent() -> None:
    """aclose() may be called any number of times."""
    s = lm.AsyncSession(mavera_api_key=MAVERA_KEY)
    await s.aclose()
    await s.aclose()
    assert s.closed


async def test_closed_session_refuses_calls() -> None:
    """A call on a closed session fails clearly instead of reopening."""
    s = lm.AsyncSession(mavera_api_key=MAVERA_KEY)
    await s.aclose()
    with pytest.raises(lm.LyraMaveraError, match="closed"):
        await s.mavera.meetings.get("meeting_123")


async def test_borrowed_client_is_never_closed(mock: aioresponses) -> None:
    """A borrowed aiohttp session stays open after the SDK session closes."""
    mock.get(MEETING_URL, payload=sample("mavera_meeting_done.json"))
    async with aiohttp.ClientSession() as client:
        async with lm.AsyncSession(mavera_api_key=MAVERA_KEY, client_session=client) as s:
            meeting = await s.mavera.meetings.get("meeting_123")
            assert s.client_session is client
        assert meeting.id == "meeting_123"
        assert not client.closed


async def test_client_is_created_lazily_with_connection_limit(mock: aioresponses) -> None:
    """No aiohttp session exists before the first call; then its limit is max_connections."""
    mock.get(MEETING_URL, payload=sample("mavera_meeting_done.json"))
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY, max_connections=7) as s:
        assert s.client_session is None
        await s.mavera.meetings.get("meeting_123")
        assert s.client_session is not None
        assert s.client_session.connector is not None
        assert s.client_session.connector.limit == 7


def test_unclosed_session_warns() -> None:
    """Dropping an owned session without closing it warns with ResourceWarning."""
    s = lm.AsyncSession(mavera_api_key=MAVERA_KEY)
    with pytest.warns(ResourceWarning, match="unclosed"):  # noqa: PT031 -- two steps drop it
        del s
        gc.collect()


def test_repr_masks_keys() -> None:
    """The session's repr names key prefixes only."""
    s = lm.AsyncSession(lyra_api_key=LYRA_KEY, mavera_api_key=MAVERA_KEY)
    text = repr(s) + str(s) + repr(s.lyra) + repr(s.mavera)
    asyncio.run(s.aclose())
    assert_no_secret(text)
    assert "lyra_***" in text and "mvra_live_***" in text


async def test_keys_from_environment(monkeypatch: pytest.MonkeyPatch, mock: aioresponses) -> None:
    """Keys and base URLs default to the environment variables."""
    monkeypatch.setenv("MAVERA_API_KEY", MAVERA_KEY)
    monkeypatch.setenv("MAVERA_BASE_URL", "https://eu.mavera.example/api/v1/")
    mock.get("https://eu.mavera.example/api/v1/usage", payload=sample("mavera_usage.json"))
    async with lm.AsyncSession() as s:
        usage = await s.mavera.usage.get()
    assert usage.rate_limit is not None and usage.rate_limit.requests_per_minute == 60
    (call,) = sent(mock, "GET", "https://eu.mavera.example/api/v1/usage")
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {MAVERA_KEY}"


async def test_missing_key_names_the_variable(mock: aioresponses) -> None:
    """A call without a key raises ConfigurationError naming the env var; nothing is sent."""
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY) as s:
        with pytest.raises(lm.ConfigurationError, match="LYRA_API_KEY"):
            await s.lyra.auth.verify()
    assert not mock.requests


@pytest.mark.parametrize(
    "url",
    [
        "http://app.mavera.io/api/v1",
        "http://10.0.0.5/api",
        "ftp://app.mavera.io",
        "not a url",
        "https://user:pw@app.mavera.io/api/v1",
    ],
)
def test_insecure_or_odd_base_urls_refused(url: str) -> None:
    """Plain http to a non-loopback host, other schemes and credentials in URLs are refused."""
    with pytest.raises(lm.ConfigurationError, match="mavera_base_url"):
        lm.AsyncSession(mavera_base_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/api/v1", "http://localhost:1/x", "http://[::1]:9/v1"]
)
async def test_http_allowed_for_loopback(url: str) -> None:
    """Plain http is fine for loopback fakes."""
    async with lm.AsyncSession(lyra_base_url=url) as s:
        assert s.base_url("lyra") == url.rstrip("/")


@pytest.mark.parametrize("key", ["lyra_abc\ndef", "lyra abc", "", "lyra_\x00"])
def test_bad_keys_refused_without_echo(key: str) -> None:
    """A key with whitespace or control characters is refused without showing it."""
    with pytest.raises(lm.ConfigurationError) as info:
        lm.AsyncSession(lyra_api_key=key)
    assert "lyra_api_key" in str(info.value)
    if len(key) > 3:
        assert key not in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"max_connections": 0},
        {"retry": 3},
        {"client_session": object()},
    ],
)
def test_bad_session_options(kwargs: dict[str, Any]) -> None:
    """Nonsense options fail at construction."""
    with pytest.raises(lm.ConfigurationError):
        lm.AsyncSession(**kwargs)


async def test_headers_sent(session: lm.AsyncSession, mock: aioresponses) -> None:
    """Each request carries auth, a descriptive User-Agent and JSON headers."""
    mock.post(
        f"{LYRA}/meeting",
        payload={
            "type": "lyra_video",
            "id": "m1",
            "password": "",
            "url": "https://app.lyra.so/meeting/m1",
        },
    )
    await session.lyra.meetings.create("Kickoff")
    (call,) = sent(mock, "POST", f"{LYRA}/meeting")
    headers = call.kwargs["headers"]
    assert headers["Authorization"] == f"Bearer {LYRA_KEY}"
    assert re.match(r"lyra-mavera/\S+ CPython/3\.\d+\.\d+ aiohttp/\d", headers["User-Agent"])
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["Idempotency-Key"])


async def test_idempotency_key_is_stable_across_attempts(
    session: lm.AsyncSession, mock: aioresponses
) -> None:
    """Every attempt of one POST carries the same Idempotency-Key; a new POST gets a new one."""
    created = sample("mavera_meeting_created.json")
    mock.post(CREATE_URL, status=429, headers={"Retry-After": "0"}, payload={})
    mock.post(CREATE_URL, payload=created)
    mock.post(CREATE_URL, payload=created)
    await session.mavera.meetings.create("https://zoom.us/j/123456789")
    await session.mavera.meetings.create("https://zoom.us/j/123456789")
    keys = [c.kwargs["headers"]["Idempotency-Key"] for c in sent(mock, "POST", CREATE_URL)]
    assert len(keys) == 3
    assert keys[0] == keys[1] != keys[2]


async def test_get_has_no_idempotency_key(session: lm.AsyncSession, mock: aioresponses) -> None:
    """Only POSTs carry an Idempotency-Key."""
    mock.get(MEETING_URL, payload=sample("mavera_meeting_done.json"))
    await session.mavera.meetings.get("meeting_123")
    (call,) = sent(mock, "GET", MEETING_URL)
    assert "Idempotency-Key" not in call.kwargs["headers"]


async def test_user_middleware_sees_every_attempt(mock: aioresponses) -> None:
    """User middlewares run on each attempt, after auth, and may add headers."""
    seen: list[tuple[int, bool]] = []

    async def tag(request: lm.Request, call_next: lm.Handler) -> lm.Response:
        seen.append((request.attempt, "Authorization" in request.headers))
        request.headers["X-Team"] = "scheduling"
        response = await call_next(request)
        assert response.request is request
        return response

    mock.get(MEETING_URL, status=503)
    mock.get(MEETING_URL, payload=sample("mavera_meeting_done.json"))
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY, middlewares=[tag]) as s:
        await s.mavera.meetings.get("meeting_123")
    assert seen == [(1, True), (2, True)]
    assert all(
        c.kwargs["headers"]["X-Team"] == "scheduling" for c in sent(mock, "GET", MEETING_URL)
    )


async def test_get_retried_then_succeeds(
    session: lm.AsyncSession, mock: aioresponses, sleeps: list[float]
) -> None:
    """A GET that meets 500 then 502 succeeds on the third attempt, with backoff between."""
    mock.get(MEETING_URL, status=500)
    mock.get(MEETING_URL, status=502, body="<html>bad gateway</html>")
    mock.get(MEETING_URL, payload=sample("mavera_meeting_done.json"))
    meeting = await session.mavera.meetings.get("meeting_123")
    assert meeting.status is lm.mavera.MeetingStatus.DONE
    assert len(sent(mock, "GET", MEETING_URL)) == 3
    assert len(sleeps) == 2 and all(0 <= s <= session.retry.wait_max for s in sleeps)


async def test_get_gives_up_after_attempts(session: lm.AsyncSession, mock: aioresponses) -> None:
    """After `attempts` failures the last error is raised."""
    for _ in range(3):
        mock.get(
            MEETING_URL,
            status=503,
            payload={"error": {"message": "busy", "code": "service_unavailable"}},
        )
    with pytest.raises(lm.ServerError) as info:
        await session.mavera.meetings.get("meeting_123")
    assert info.value.code == "service_unavailable"
    assert len(sent(mock, "GET", MEETING_URL)) == 3


async def test_post_not_retried_after_500(session: lm.AsyncSession, mock: aioresponses) -> None:
    """A create that got a 500 may have created a bot: it is not sent again."""
    mock.post(
        CREATE_URL, status=500, payload={"error": {"message": "boom", "code": "internal_error"}}
    )
    mock.post(CREATE_URL, payload=sample("mavera_meeting_created.json"))
    with pytest.raises(lm.ServerError):
        await session.mavera.meetings.create("https://zoom.us/j/123456789")
    assert len(sent(mock, "POST", CREATE_URL)) == 1


async def test_post_retried_when_unsafe_allowed(mock: aioresponses) -> None:
    """retry_unsafe=True retries a POST after a 500."""
    mock.post(CREATE_URL, status=500)
    mock.post(CREATE_URL, payload=sample("mavera_meeting_created.json"))
    async with lm.AsyncSession(
        mavera_api_key=MAVERA_KEY, retry=lm.RetryPolicy(retry_unsafe=True)
    ) as s:
        meeting = await s.mavera.meetings.create("https://zoom.us/j/123456789")
    assert meeting.id == "meeting_123"


async def test_post_retried_when_connection_refused(
    session: lm.AsyncSession, mock: aioresponses
) -> None:
    """A POST whose connection was refused never reached the server: it is retried."""
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("app.mavera.io", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    mock.post(CREATE_URL, exception=refused)
    mock.post(CREATE_URL, payload=sample("mavera_meeting_created.json"))
    meeting = await session.mavera.meetings.create("https://zoom.us/j/123456789")
    assert meeting.id == "meeting_123"
    assert len(sent(mock, "POST", CREATE_URL)) == 2


async def test_post_not_retried_after_disconnect(
    session: lm.AsyncSession, mock: aioresponses
) -> None:
    """A POST whose connection dropped after sending raises, marked as possibly sent."""
    mock.post(CREATE_URL, exception=aiohttp.ServerDisconnectedError())
    mock.post(CREATE_URL, payload=sample("mavera_meeting_created.json"))
    with pytest.raises(lm.APIConnectionError) as info:
        await session.mavera.meetings.create("https://zoom.us/j/123456789")
    assert info.value.sent is True
    assert "may have processed" in str(info.value)
    assert len(sent(mock, "POST", CREATE_URL)) == 1


async def test_post_not_retried_after_read_timeout(
    session: lm.AsyncSession, mock: aioresponses
) -> None:
    """A timed-out POST is an APITimeoutError and is not repeated."""
    mock.post(CREATE_URL, exception=aiohttp.SocketTimeoutError())
    with pytest.raises(lm.APITimeoutError) as info:
        await session.mavera.meetings.create("https://zoom.us/j/123456789")
    assert info.value.sent is True
    assert len(sent(mock, "POST", CREATE_URL)) == 1


async def test_post_retried_after_connect_timeout(
    session: lm.AsyncSession, mock: aioresponses
) -> None:
    """A connect timeout means nothing was sent, so even a POST is retried."""
    mock.post(CREATE_URL, exception=aiohttp.ConnectionTimeoutError())
    mock.post(CREATE_URL, payload=sample("mavera_meeting_created.json"))
    assert (await session.mavera.meetings.create("https://zoom.us/j/123456789")).id == "meeting_123"


async def test_get_retried_after_timeout(session: lm.AsyncSession, mock: aioresponses) -> None:
    """A GET that timed out is simply asked again."""
    mock.get(MEETING_URL, exception=TimeoutError())
    mock.get(MEETING_URL, payload=sample("mavera_meeting_done.json"))
    assert (await session.mavera.meetings.get("meeting_123")).id == "meeting_123"


async def test_retry_after_is_honoured(
    session: lm.AsyncSession, mock: aioresponses, sleeps: list[float]
) -> None:
    """A 429's Retry-After is the wait before the next attempt, even for a POST."""
    mock.post(
        CREATE_URL,
        status=429,
        headers={"Retry-After": "7"},
        payload={"error": {"message": "slow", "code": "rate_limit_exceeded"}},
    )
    mock.post(CREATE_URL, payload=sample("mavera_meeting_created.json"))
    await session.mavera.meetings.create("https://zoom.us/j/123456789")
    assert sleeps == [7.0]


async def test_retry_after_beyond_cap_raises(mock: aioresponses, sleeps: list[float]) -> None:
    """A Retry-After longer than max_retry_after raises at once with retry_after set."""
    mock.get(
        MEETING_URL,
        status=429,
        headers={"Retry-After": "600", "X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0"},
    )
    async with lm.AsyncSession(
        mavera_api_key=MAVERA_KEY, retry=lm.RetryPolicy(max_retry_after=30)
    ) as s:
        with pytest.raises(lm.RateLimitError) as info:
            await s.mavera.meetings.get("meeting_123")
    assert info.value.retry_after == 600.0
    assert info.value.rate_limit is not None and info.value.rate_limit.remaining == 0
    assert sleeps == []
    assert len(sent(mock, "GET", MEETING_URL)) == 1


async def test_attempts_one_disables_retry(mock: aioresponses) -> None:
    """RetryPolicy(attempts=1) sends exactly once."""
    mock.get(MEETING_URL, status=503)
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY, retry=lm.RetryPolicy(attempts=1)) as s:
        with pytest.raises(lm.ServerError):
            await s.mavera.meetings.get("meeting_123")
    assert len(sent(mock, "GET", MEETING_URL)) == 1


async def test_logs_are_metadata_only(
    session: lm.AsyncSession, mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG logs name method, path, status and attempt, never the key or the body."""
    mock.get(MEETING_URL, status=503)
    mock.get(MEETING_URL, payload=sample("mavera_meeting_done.json"))
    with caplog.at_level(logging.DEBUG, logger="lyra_mavera"):
        await session.mavera.meetings.get("meeting_123")
    lines = [r.getMessage() for r in caplog.records if r.name == "lyra_mavera"]
    assert len(lines) == 2
    assert "GET /meetings/meeting_123 -> 503 attempt=1" in lines[0]
    assert "-> 200 attempt=2" in lines[1]
    for line in lines:
        assert_no_secret(line)
        assert "Sales Discovery" not in line


async def test_oversized_response_refused(mock: aioresponses) -> None:
    """A body above max_response_bytes is a ResponseValidationError, not a memory spike."""
    mock.get(MEETING_URL, body=b"x" * 5_000)
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY, max_response_bytes=1_000) as s:
        with pytest.raises(lm.ResponseValidationError, match="max_response_bytes"):
            await s.mavera.meetings.get("meeting_123")


async def test_escape_hatch_request(session: lm.AsyncSession, mock: aioresponses) -> None:
    """session.request() reaches endpoints the SDK does not wrap, with the same chain."""
    mock.get(f"{MAVERA}/personas?limit=1", payload={"object": "list", "data": []})
    response = await session.request("mavera", "GET", "/personas", params={"limit": "1"})
    assert response.ok and response.json() == {"object": "list", "data": []}
    assert "Bearer" in repr(
        sent(mock, "GET", f"{MAVERA}/personas?limit=1")[0].kwargs["headers"]["Authorization"]
    )


async def test_per_attempt_timeout_against_silent_server() -> None:
    """A server that never answers costs `timeout` per attempt, then APITimeoutError."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        async with lm.AsyncSession(
            mavera_api_key=MAVERA_KEY,
            mavera_base_url=f"http://127.0.0.1:{port}/api/v1",
            timeout=0.2,
            retry=lm.RetryPolicy(attempts=2),
        ) as s:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(lm.APITimeoutError):
                await s.mavera.meetings.get("meeting_123")
            elapsed = loop.time() - started
        assert 0.35 < elapsed < 5
    finally:
        listener.close()


async def test_connection_refused_is_typed() -> None:
    """Nothing listening: APIConnectionError marked as not sent, after the retries."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    async with lm.AsyncSession(
        mavera_api_key=MAVERA_KEY, mavera_base_url=f"http://127.0.0.1:{port}/v1"
    ) as s:
        with pytest.raises(lm.APIConnectionError) as info:
            await s.mavera.meetings.create("https://zoom.us/j/85000001")
    assert info.value.sent is False
    assert "not sent" in str(info.value)


async def test_callback_sees_json_body(session: lm.AsyncSession, mock: aioresponses) -> None:
    """The body is compact JSON built from the arguments."""
    bodies: list[Any] = []

    def capture(url: Any, **kwargs: Any) -> CallbackResult:
        bodies.append(kwargs["data"])
        return CallbackResult(payload=sample("mavera_meeting_created.json"))

    mock.post(CREATE_URL, callback=capture)
    await session.mavera.meetings.create("https://zoom.us/j/123456789", title="Q4 review")
    assert bodies == [b'{"meeting_url":"https://zoom.us/j/123456789","title":"Q4 review"}']
