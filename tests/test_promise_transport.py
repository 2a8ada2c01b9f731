"""Promises 3 and 4 of the reliability issue: a POST that never left is never reported
as "may have created" (and is retried), one that did leave is never retried, and a
certificate failure fails at once with a message that says so.

A connection pool exhausted by a slow request, a listener whose accept queue is full
(so a connect never completes), a TLS server that never finishes its handshake and
one with a self-signed certificate are all real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import lyra_mavera as lm
from tests.adversary import (
    Adversary,
    RawServer,
    TlsServer,
    full_backlog_port,
    meeting_json,
    self_signed_cert,
    silent,
)
from tests.conftest import LYRA_KEY, MAVERA_KEY

GUARD = 20.0
LINK = "https://zoom.us/j/1234567890"


def mavera_session(base_url: str, **options: Any) -> lm.AsyncSession:
    return lm.AsyncSession(mavera_api_key=MAVERA_KEY, mavera_base_url=base_url, **options)


# -- promise 3a: waiting for a pooled connection is not "sent" -------------------------


async def slow_get_fast_post(request: web.Request, adversary: Adversary) -> web.StreamResponse:
    """GET /meetings/slow holds its connection until the test sets ``release``; POSTs
    create at once; the meeting list is empty."""
    if request.method == "GET" and request.path.endswith("/meetings/slow"):
        adversary.state["arrived"].set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GUARD):
                await adversary.state["release"].wait()
        return web.json_response(meeting_json("slow"))
    if request.method == "POST":
        return web.json_response(meeting_json(f"mtg_{len(adversary.requests)}"), status=201)
    return web.json_response({"object": "list", "data": [], "has_more": False})


@contextlib.asynccontextmanager
async def pool_held_by_a_slow_get(
    **caller_options: Any,
) -> AsyncIterator[tuple[Adversary, lm.AsyncSession]]:
    """A session whose only pooled connection is held by a slow GET of another session
    borrowing the same aiohttp pool (``max_connections=1`` shared); yields the
    adversary and a caller session with ``timeout=0.5``."""
    async with Adversary(slow_get_fast_post) as adversary:
        adversary.state["release"] = asyncio.Event()
        adversary.state["arrived"] = asyncio.Event()
        shared = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        holder = mavera_session(
            adversary.base_url, client_session=shared, timeout=GUARD, rate_limit=False
        )
        caller = mavera_session(
            adversary.base_url, client_session=shared, timeout=0.5, **caller_options
        )
        slow = asyncio.create_task(holder.mavera.meetings.get("slow"))
        try:
            async with asyncio.timeout(GUARD):
                await adversary.state["arrived"].wait()
            yield adversary, caller
        finally:
            adversary.state["release"].set()
            with contextlib.suppress(Exception):
                await slow
            await caller.aclose()
            await holder.aclose()
            await shared.close()


async def test_a_create_that_timed_out_waiting_for_a_pooled_connection_was_not_sent() -> None:
    """A create whose attempt timed out while waiting for a free connection says it was
    not sent (sent=False), and the server saw no POST."""
    async with (
        pool_held_by_a_slow_get(retry=lm.RetryPolicy(attempts=1)) as (adversary, s),
        asyncio.timeout(GUARD),
    ):
        with pytest.raises(lm.APIConnectionError) as info:
            await s.mavera.meetings.create(LINK)
        assert info.value.sent is False, str(info.value)
        assert "not sent" in str(info.value)
        assert adversary.count("POST") == 0


async def test_a_create_that_waited_too_long_for_a_connection_is_retried_and_sent_once() -> None:
    """A create whose first attempt never got a connection is tried again, and goes out
    exactly once when the connection frees."""
    attempts: list[int] = []

    async def frees_the_pool_on_retry(
        request: lm.Request, call_next: Callable[[lm.Request], Awaitable[lm.Response]]
    ) -> lm.Response:
        attempts.append(request.attempt)
        if request.attempt >= 2:
            adversary.state["release"].set()  # the slow GET answers: its connection frees
        return await call_next(request)

    async with pool_held_by_a_slow_get(
        retry=lm.RetryPolicy(attempts=5), middlewares=[frees_the_pool_on_retry]
    ) as (adversary, s):
        async with asyncio.timeout(GUARD):
            meeting = await s.mavera.meetings.create(LINK)
        assert meeting.id.startswith("mtg_")
        assert adversary.count("POST", "/meetings") == 1
        assert attempts[:2] == [1, 2]


async def test_create_many_does_not_call_a_create_that_never_got_a_connection_ambiguous() -> None:
    """In create_many, an item whose create never got a connection fails with an error
    saying it was not sent, not with AmbiguousCreateError."""
    async with (
        pool_held_by_a_slow_get(retry=lm.RetryPolicy(attempts=1)) as (adversary, s),
        asyncio.timeout(GUARD),
    ):
        [result] = await s.mavera.meetings.create_many([lm.mavera.BotRequest(LINK)])
        assert not result.ok
        assert not isinstance(result.error, lm.AmbiguousCreateError), str(result.error)
        assert isinstance(result.error, lm.APIConnectionError)
        assert result.error.sent is False
        assert adversary.count("POST") == 0


# -- promise 3b: a connect that never completed is not "sent" --------------------------


async def test_a_connect_timeout_says_the_create_was_not_sent() -> None:
    """A create whose TCP connect never completes (the listener's accept queue is full)
    fails with APITimeoutError marked sent=False."""
    with full_backlog_port() as port:
        async with mavera_session(
            f"http://127.0.0.1:{port}/api/v1", timeout=0.5, retry=lm.RetryPolicy(attempts=1)
        ) as s:
            async with asyncio.timeout(GUARD):
                with pytest.raises(lm.APITimeoutError) as info:
                    await s.mavera.meetings.create(LINK)
    assert info.value.sent is False, str(info.value)


async def test_create_many_does_not_call_a_create_whose_connect_timed_out_ambiguous() -> None:
    """In create_many, an item whose connect never completed is not an
    AmbiguousCreateError: nothing can have been created."""
    with full_backlog_port() as port:
        async with mavera_session(
            f"http://127.0.0.1:{port}/api/v1", timeout=0.5, retry=lm.RetryPolicy(attempts=1)
        ) as s:
            async with asyncio.timeout(GUARD):
                [result] = await s.mavera.meetings.create_many([lm.mavera.BotRequest(LINK)])
    assert not result.ok
    assert not isinstance(result.error, lm.AmbiguousCreateError), str(result.error)
    assert isinstance(result.error, lm.APIConnectionError)
    assert result.error.sent is False


@pytest.mark.parametrize("attempts", [1, 3])
async def test_a_tls_handshake_that_never_completes_means_not_sent_and_is_retried(
    attempts: int,
) -> None:
    """A create to an https server that accepts the connection but never finishes the
    TLS handshake is marked sent=False and retried on a new connection each attempt."""
    async with RawServer(silent) as server:
        async with mavera_session(
            server.url("https"), timeout=0.5, retry=lm.RetryPolicy(attempts=attempts)
        ) as s:
            async with asyncio.timeout(GUARD):
                with pytest.raises(lm.APIConnectionError) as info:
                    await s.mavera.meetings.create(LINK)
        accepted = server.accepts
    assert info.value.sent is False, str(info.value)
    assert accepted == attempts


# -- promise 3c: a request that did leave is "sent", and a POST is not repeated --------


async def read_then_hang(request: web.Request, adversary: Adversary) -> web.StreamResponse:
    """A POST is read (the adversary already has its body), then never answered; reads
    answer at once (the meeting list is empty)."""
    if request.method != "POST":
        return web.json_response({"object": "list", "data": [], "has_more": False})
    await asyncio.sleep(GUARD)
    return web.json_response(meeting_json("late"), status=201)


async def test_a_read_timeout_after_sending_marks_the_create_sent_and_never_repeats_it() -> None:
    """A create whose body reached the server but got no answer in time raises
    APITimeoutError with sent=True, and is not sent again even with attempts left."""
    async with Adversary(read_then_hang) as adversary:
        async with mavera_session(
            adversary.base_url, timeout=0.5, retry=lm.RetryPolicy(attempts=5)
        ) as s:
            async with asyncio.timeout(GUARD):
                with pytest.raises(lm.APITimeoutError) as info:
                    await s.mavera.meetings.create(LINK)
        assert info.value.sent is True
        assert adversary.count("POST", "/meetings") == 1


async def test_create_many_reports_creates_that_timed_out_after_sending_as_ambiguous() -> None:
    """In create_many, items whose creates reached the server but got no answer (two
    items for the same link, so they can never be told apart) end in
    AmbiguousCreateError, each sent exactly once."""
    async with Adversary(read_then_hang) as adversary:
        async with mavera_session(
            adversary.base_url, timeout=0.5, retry=lm.RetryPolicy(attempts=5)
        ) as s:
            async with asyncio.timeout(GUARD):
                results = await s.mavera.meetings.create_many(
                    [lm.mavera.BotRequest(LINK), lm.mavera.BotRequest(LINK)]
                )
        assert [type(r.error) for r in results] == [lm.AmbiguousCreateError] * 2
        assert adversary.count("POST", "/meetings") == 2


async def test_a_connection_dropped_after_the_body_was_read_is_sent_and_not_repeated() -> None:
    """A create whose connection the server closed after reading it raises
    APIConnectionError with sent=True and is not sent again."""

    async def read_then_drop(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)

    async with (
        Adversary(read_then_drop) as adversary,
        mavera_session(adversary.base_url, retry=lm.RetryPolicy(attempts=5)) as s,
    ):
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.APIConnectionError) as info:
                await s.mavera.meetings.create(LINK)
        assert info.value.sent is True
        assert adversary.count("POST", "/meetings") == 1


# -- promise 4: certificate failures fail at once ------------------------------------


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1."""
    cert, key = self_signed_cert(Path(tmp_path_factory.mktemp("tls")))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def answer_ok(head: bytes) -> bytes:
    if b" /api/v1/auth " in head.split(b"\r\n")[0]:
        return b'{"valid":true,"userId":"u_1","orgId":"o_1"}'
    return b'{"id":"mtg_1","object":"meeting","status":"pending"}'


CALLS: dict[str, Callable[[lm.AsyncSession], Awaitable[object]]] = {
    "mavera-get": lambda s: s.mavera.meetings.get("mtg_1"),
    "mavera-create": lambda s: s.mavera.meetings.create(LINK),
    "lyra-verify": lambda s: s.lyra.auth.verify(),
}


@pytest.mark.parametrize("call", list(CALLS))
async def test_a_self_signed_certificate_fails_after_one_attempt_and_says_so(
    server_tls: ssl.SSLContext, call: str
) -> None:
    """An https server whose certificate does not verify is tried once, even with
    attempts=5, and the error says certificate verification failed for that host."""
    async with TlsServer(server_tls, answer_ok) as server:
        async with lm.AsyncSession(
            lyra_api_key=LYRA_KEY,
            mavera_api_key=MAVERA_KEY,
            lyra_base_url=server.url(),
            mavera_base_url=server.url(),
            retry=lm.RetryPolicy(attempts=5),
        ) as s:
            async with asyncio.timeout(GUARD):
                with pytest.raises(lm.APIConnectionError) as info:
                    await CALLS[call](s)
        accepted = server.accepts
    message = str(info.value).lower()
    assert accepted == 1, f"{accepted} connections for one call"
    assert "certificate" in message and "verif" in message, str(info.value)
    assert "127.0.0.1" in message, str(info.value)


async def test_verify_tls_false_reaches_a_self_signed_server_and_warns(
    server_tls: ssl.SSLContext,
) -> None:
    """verify_tls=False warns when the session is made, then talks to a server with a
    self-signed certificate."""
    async with TlsServer(server_tls, answer_ok) as server:
        with pytest.warns(UserWarning, match="verif"):
            s = mavera_session(server.url(), verify_tls=False)
        async with s, asyncio.timeout(GUARD):
            meeting = await s.mavera.meetings.get("mtg_1")
        accepted, served = server.accepts, server.served
    assert meeting.id == "mtg_1"
    assert (accepted, served) == (1, 1)
