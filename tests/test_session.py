"""AsyncSession: lifecycle, configuration, the middleware chain, retries and timeouts.

Calls go to FakeServer (real sockets), with its injected faults for failed attempts and
its request log to see what was sent. Transport failures are real too: a port that
refuses, a listener whose accept queue is full, a server that never answers; a
middleware aims only a call's first attempt there, so the retry reaches the fake.
Answers FakeServer never gives (exact rate-limit headers, a body of a given size, an
endpoint the SDK does not wrap) come from an :class:`~tests.adversary.Adversary`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

import lyra_mavera as lm
from lyra_mavera.testing import FakeServer
from tests.adversary import (
    Adversary,
    RawServer,
    answering,
    full_backlog_port,
    meeting_json,
    silent,
)
from tests.conftest import LYRA_KEY, MAVERA_KEY, assert_no_secret

ZOOM = "https://zoom.us/j/123456789"
GET_MEETING = "GET /meetings/{id}"
#: Fake seconds after which a bot on FakeServer's default script is done (it takes 96).
DONE_AFTER = 1000


def mavera_at(adversary: Adversary, **options: Any) -> lm.AsyncSession:
    """A session whose Mavera calls go to ``adversary``."""
    return lm.AsyncSession(mavera_api_key=MAVERA_KEY, mavera_base_url=adversary.base_url, **options)


async def bot_on(fake: FakeServer, **fields: Any) -> str:
    """A bot made by a session of its own, so the test's session sends (and logs) only
    what the test is about."""
    async with fake.session() as s:
        return (await s.mavera.meetings.create(ZOOM, **fields)).id


class FirstAttemptElsewhere:
    """A middleware that sends each call's first attempt to ``base`` instead of the
    fake (with its own ``timeout``, if given) and lets later attempts reach the fake;
    it records every attempt's number."""

    def __init__(self, fake: FakeServer, base: str, *, timeout: float | None = None) -> None:
        self._fake = fake
        self._base = base
        self._timeout = timeout
        self.attempts: list[int] = []

    async def __call__(self, request: lm.Request, call_next: lm.Handler) -> lm.Response:
        self.attempts.append(request.attempt)
        if request.attempt == 1:
            assert request.url.startswith(self._fake.base_url)
            request.url = self._base + request.url[len(self._fake.base_url) :]
            if self._timeout is not None:
                request.timeout = self._timeout
        return await call_next(request)


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: every connect to it is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def test_async_with_closes_owned_client(fake: FakeServer) -> None:
    """Leaving `async with` closes the aiohttp session the SDK created."""
    bot_id = await bot_on(fake)
    async with fake.session() as s:
        await s.mavera.meetings.get(bot_id)
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


async def test_borrowed_client_is_never_closed(fake: FakeServer) -> None:
    """A borrowed aiohttp session stays open after the SDK session closes."""
    bot_id = await bot_on(fake)
    async with aiohttp.ClientSession() as client:
        async with fake.session(client_session=client) as s:
            meeting = await s.mavera.meetings.get(bot_id)
            assert s.client_session is client
        assert meeting.id == bot_id
        assert not client.closed


async def test_client_is_created_lazily_with_connection_limit(fake: FakeServer) -> None:
    """No aiohttp session exists before the first call; then its limit is max_connections."""
    bot_id = await bot_on(fake)
    async with fake.session(max_connections=7) as s:
        assert s.client_session is None
        await s.mavera.meetings.get(bot_id)
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


async def test_keys_from_environment(monkeypatch: pytest.MonkeyPatch, fake: FakeServer) -> None:
    """Keys and base URLs default to the environment variables."""
    fake.add_key("mavera", MAVERA_KEY, rpm=60)
    monkeypatch.setenv("MAVERA_API_KEY", MAVERA_KEY)
    monkeypatch.setenv("MAVERA_BASE_URL", fake.mavera_base_url + "/")
    async with lm.AsyncSession() as s:
        usage = await s.mavera.usage.get()
    assert usage.rate_limit is not None and usage.rate_limit.requests_per_minute == 60
    (call,) = fake.requests_to("GET", "/usage")
    assert call.path == "/mavera/api/v1/usage"  # the trailing slash joined without a double
    assert CIMultiDict(call.headers)["Authorization"] == f"Bearer {MAVERA_KEY}"


async def test_missing_key_names_the_variable(fake: FakeServer) -> None:
    """A call without a key raises ConfigurationError naming the env var; nothing is sent."""
    async with fake.session(lyra_api_key=None) as s:
        with pytest.raises(lm.ConfigurationError, match="LYRA_API_KEY"):
            await s.lyra.auth.verify()
    assert not fake.requests


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


async def test_headers_sent(fake: FakeServer) -> None:
    """Each request carries auth, a descriptive User-Agent and JSON headers."""
    fake.add_key("lyra", LYRA_KEY)
    async with fake.session(lyra_api_key=LYRA_KEY) as s:
        await s.lyra.meetings.create("Kickoff")
    (call,) = fake.requests_to("POST", "/meeting")
    headers = CIMultiDict(call.headers)
    assert headers["Authorization"] == f"Bearer {LYRA_KEY}"
    assert re.match(r"lyra-mavera/\S+ CPython/3\.\d+\.\d+ aiohttp/\d", headers["User-Agent"])
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["Idempotency-Key"])


async def test_idempotency_key_is_stable_across_attempts(fake: FakeServer) -> None:
    """Every attempt of one POST carries the same Idempotency-Key; a new POST gets a new one."""
    fake.inject("status", status=429, retry_after=0, route="POST /meetings", times=1)
    async with fake.session() as s:
        await s.mavera.meetings.create(ZOOM)
        await s.mavera.meetings.create(ZOOM)
    posts = fake.requests_to("POST", "/meetings")
    keys = [CIMultiDict(c.headers)["Idempotency-Key"] for c in posts]
    assert len(keys) == 3
    assert keys[0] == keys[1] != keys[2]


async def test_get_has_no_idempotency_key(fake: FakeServer) -> None:
    """Only POSTs carry an Idempotency-Key."""
    bot_id = await bot_on(fake)
    async with fake.session() as s:
        await s.mavera.meetings.get(bot_id)
    (call,) = fake.requests_to("GET", "/meetings/{id}")
    assert "Idempotency-Key" not in CIMultiDict(call.headers)


async def test_user_middleware_sees_every_attempt(fake: FakeServer) -> None:
    """User middlewares run on each attempt, after auth, and may add headers."""
    seen: list[tuple[int, bool]] = []

    async def tag(request: lm.Request, call_next: lm.Handler) -> lm.Response:
        seen.append((request.attempt, "Authorization" in request.headers))
        request.headers["X-Team"] = "scheduling"
        response = await call_next(request)
        assert response.request is request
        return response

    bot_id = await bot_on(fake)
    fake.inject("status", status=503, route=GET_MEETING, times=1)
    async with fake.session(middlewares=[tag]) as s:
        await s.mavera.meetings.get(bot_id)
    assert seen == [(1, True), (2, True)]
    gets = fake.requests_to("GET", "/meetings/{id}")
    assert [CIMultiDict(c.headers)["X-Team"] for c in gets] == ["scheduling", "scheduling"]


async def test_what_a_middleware_changes_on_one_attempt_does_not_leak_into_the_next(
    fake: FakeServer,
) -> None:
    """Each attempt starts from the request as the SDK built it: a middleware that
    appends to a header and rewrites the URL on attempt 1 does not see its own changes
    on attempt 2."""
    seen: list[tuple[str | None, str]] = []

    async def stamp(request: lm.Request, call_next: lm.Handler) -> lm.Response:
        seen.append((request.headers.get("X-Trail"), request.url))
        request.headers["X-Trail"] = request.headers.get("X-Trail", "") + "x"
        if request.attempt == 1:
            request.url = request.url + "?attempt=1"
        return await call_next(request)

    bot_id = await bot_on(fake)
    fake.inject("status", status=503, route=GET_MEETING, times=1)
    async with fake.session(middlewares=[stamp]) as s:
        await s.mavera.meetings.get(bot_id)
    assert [trail for trail, _ in seen] == [None, None]
    assert seen[0][1] == seen[1][1] and "attempt" not in seen[1][1]


async def test_get_retried_then_succeeds(fake: FakeServer, sleeps: list[float]) -> None:
    """A GET that meets 500 then 502 succeeds on the third attempt, with backoff between."""
    bot_id = await bot_on(fake)
    fake.clock.advance(DONE_AFTER)
    fake.inject("status", status=500, route=GET_MEETING, times=1)
    fake.inject("html", status=502, route=GET_MEETING, times=1)  # a proxy's HTML page
    async with fake.session() as s:
        meeting = await s.mavera.meetings.get(bot_id)
        wait_max = s.retry.wait_max
    assert meeting.status is lm.mavera.MeetingStatus.DONE
    assert [c.status for c in fake.requests_to("GET", "/meetings/{id}")] == [500, 502, 200]
    assert len(sleeps) == 2 and all(0 <= s <= wait_max for s in sleeps)


async def test_get_gives_up_after_attempts(fake: FakeServer) -> None:
    """After `attempts` failures the last error is raised."""
    bot_id = await bot_on(fake)
    fake.inject("status", status=503, route=GET_MEETING)
    async with fake.session() as s:
        with pytest.raises(lm.ServerError) as info:
            await s.mavera.meetings.get(bot_id)
    assert info.value.code == "service_unavailable"
    assert len(fake.requests_to("GET", "/meetings/{id}")) == 3


async def test_post_not_retried_after_500(fake: FakeServer) -> None:
    """A create that got a 500 may have created a bot: it is not sent again."""
    fake.inject("status", status=500, route="POST /meetings", times=1)
    async with fake.session() as s:
        with pytest.raises(lm.ServerError):
            await s.mavera.meetings.create(ZOOM)
    assert len(fake.requests_to("POST", "/meetings")) == 1


async def test_post_retried_when_unsafe_allowed(fake: FakeServer) -> None:
    """retry_unsafe=True retries a POST after a 500."""
    fake.inject("status", status=500, route="POST /meetings", times=1)
    async with fake.session(retry=lm.RetryPolicy(retry_unsafe=True)) as s:
        meeting = await s.mavera.meetings.create(ZOOM)
    (bot,) = fake.bots
    assert meeting.id == bot.id
    assert len(fake.requests_to("POST", "/meetings")) == 2


async def test_post_retried_when_connection_refused(fake: FakeServer) -> None:
    """A POST whose connection was refused never reached the server: it is retried."""
    with refusing_port() as port:
        aim = FirstAttemptElsewhere(fake, f"http://127.0.0.1:{port}")
        async with fake.session(middlewares=[aim]) as s:
            meeting = await s.mavera.meetings.create(ZOOM)
    (bot,) = fake.bots
    assert meeting.id == bot.id
    assert aim.attempts == [1, 2]  # refused, then sent to the fake
    assert len(fake.requests_to("POST", "/meetings")) == 1


async def test_post_not_retried_after_disconnect(fake: FakeServer) -> None:
    """A POST whose connection dropped after sending raises, marked as possibly sent."""
    fake.inject("drop", route="POST /meetings")  # processed, then the connection closed
    async with fake.session() as s:
        with pytest.raises(lm.APIConnectionError) as info:
            await s.mavera.meetings.create(ZOOM)
    assert info.value.sent is True
    assert "may have processed" in str(info.value)
    assert len(fake.requests_to("POST", "/meetings")) == 1


async def test_post_not_retried_after_read_timeout() -> None:
    """A timed-out POST is an APITimeoutError and is not repeated."""

    async def read_then_wait(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        await adversary.state["answer"].wait()  # the body is read; the answer comes too late
        return web.json_response(meeting_json("late"), status=201)

    async with Adversary(read_then_wait) as adversary:
        adversary.state["answer"] = asyncio.Event()
        try:
            async with mavera_at(adversary, timeout=0.5) as s:
                with pytest.raises(lm.APITimeoutError) as info:
                    await s.mavera.meetings.create(ZOOM)
        finally:
            adversary.state["answer"].set()
    assert info.value.sent is True
    assert adversary.count("POST", "/meetings") == 1


async def test_post_retried_after_connect_timeout(fake: FakeServer) -> None:
    """A connect timeout means nothing was sent, so even a POST is retried."""
    with full_backlog_port() as port:  # a connect there never completes
        aim = FirstAttemptElsewhere(fake, f"http://127.0.0.1:{port}", timeout=0.5)
        async with fake.session(middlewares=[aim]) as s:
            meeting = await s.mavera.meetings.create(ZOOM)
    (bot,) = fake.bots
    assert meeting.id == bot.id
    assert aim.attempts == [1, 2]
    assert len(fake.requests_to("POST", "/meetings")) == 1


async def test_get_retried_after_timeout(fake: FakeServer) -> None:
    """A GET that timed out is simply asked again."""
    bot_id = await bot_on(fake)
    async with RawServer(silent) as never_answers:  # reads the request, never answers
        aim = FirstAttemptElsewhere(fake, f"http://127.0.0.1:{never_answers.port}", timeout=0.5)
        async with fake.session(middlewares=[aim]) as s:
            assert (await s.mavera.meetings.get(bot_id)).id == bot_id
    assert aim.attempts == [1, 2]
    assert never_answers.accepts == 1


async def test_retry_after_is_honoured(fake: FakeServer, sleeps: list[float]) -> None:
    """A 429's Retry-After is the wait before the next attempt, even for a POST."""
    fake.inject("status", status=429, retry_after=7, route="POST /meetings", times=1)
    async with fake.session() as s:
        await s.mavera.meetings.create(ZOOM)
    assert sleeps == [7.0]


async def test_retry_after_beyond_cap_raises(sleeps: list[float]) -> None:
    """A Retry-After longer than max_retry_after raises at once with retry_after set."""
    limited = answering(
        body=b"",
        status=429,
        headers={"Retry-After": "600", "X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0"},
    )
    async with (
        Adversary(limited) as adversary,
        mavera_at(adversary, retry=lm.RetryPolicy(max_retry_after=30)) as s,
    ):
        with pytest.raises(lm.RateLimitError) as info:
            await s.mavera.meetings.get("meeting_123")
    assert info.value.retry_after == 600.0
    assert info.value.rate_limit is not None and info.value.rate_limit.remaining == 0
    assert sleeps == []
    assert adversary.count("GET", "/meetings/meeting_123") == 1


async def test_attempts_one_disables_retry(fake: FakeServer) -> None:
    """RetryPolicy(attempts=1) sends exactly once."""
    bot_id = await bot_on(fake)
    fake.inject("status", status=503, route=GET_MEETING)
    async with fake.session(retry=lm.RetryPolicy(attempts=1)) as s:
        with pytest.raises(lm.ServerError):
            await s.mavera.meetings.get(bot_id)
    assert len(fake.requests_to("GET", "/meetings/{id}")) == 1


async def test_logs_are_metadata_only(fake: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG logs name method, path, status and attempt, never the key or the body."""
    bot_id = await bot_on(fake, title="Sales Discovery Call")  # in every answer's body
    fake.inject("status", status=503, route=GET_MEETING, times=1)
    before = len(caplog.records)  # the create's own records stay for the key guard
    with caplog.at_level(logging.DEBUG, logger="lyra_mavera"):
        async with fake.session() as s:
            await s.mavera.meetings.get(bot_id)
    lines = [r.getMessage() for r in caplog.records[before:] if r.name == "lyra_mavera"]
    assert len(lines) == 2
    assert f"GET /meetings/{bot_id} -> 503 attempt=1" in lines[0]
    assert "-> 200 attempt=2" in lines[1]
    for line in lines:
        assert_no_secret(line)
        assert "Sales Discovery" not in line


async def test_oversized_response_refused() -> None:
    """A body above max_response_bytes is a ResponseValidationError, not a memory spike."""
    async with (
        Adversary(answering(body=b"x" * 5_000)) as adversary,
        mavera_at(adversary, max_response_bytes=1_000) as s,
    ):
        with pytest.raises(lm.ResponseValidationError, match="max_response_bytes"):
            await s.mavera.meetings.get("meeting_123")


async def test_escape_hatch_request() -> None:
    """session.request() reaches endpoints the SDK does not wrap, with the same chain."""
    personas = answering({"object": "list", "data": []})
    async with Adversary(personas) as adversary, mavera_at(adversary) as s:
        response = await s.request("mavera", "GET", "/personas", params={"limit": "1"})
    assert response.ok and response.json() == {"object": "list", "data": []}
    (seen,) = adversary.requests
    assert (seen.method, seen.path, seen.query) == ("GET", "/personas", {"limit": "1"})
    assert "Bearer" in repr(CIMultiDict(seen.headers)["Authorization"])


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


async def test_callback_sees_json_body(fake: FakeServer) -> None:
    """The body is compact JSON built from the arguments."""
    async with fake.session() as s:
        await s.mavera.meetings.create(ZOOM, title="Q4 review")
    bodies = [c.body for c in fake.requests_to("POST", "/meetings")]
    assert bodies == [b'{"meeting_url":"https://zoom.us/j/123456789","title":"Q4 review"}']


def test_request_ids_are_uuid4_shaped_unique_and_fresh_after_fork() -> None:
    """Request ids (a POST's Idempotency-Key) are UUID4-shaped and never repeat, in this
    process or in a forked child (which would otherwise continue its parent's series)."""
    import os
    import uuid

    from lyra_mavera._ids import new_request_id

    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids[:100])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write its next id and leave at once
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert child not in ids and child[:23] != new_request_id()[:23]
