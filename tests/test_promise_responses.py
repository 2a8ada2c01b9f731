"""Promise 11 of the reliability issue, and bad responses in general: whatever a
server sends, a call ends in a typed ``LyraMaveraError`` -- never a raw ``KeyError``
or ``TypeError``, a hang, an endless loop or unbounded memory.

- Paginators meet servers that ignore ``cursor``/``offset`` and say ``has_more``
  forever: listing must stop with ``ResponseValidationError`` after a few requests.
- Odd ``Retry-After`` values, endless or malformed bodies and headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

import lyra_mavera as lm
from tests.adversary import (
    Adversary,
    RawServer,
    http_response,
    meeting_json,
    read_http_request,
)
from tests.conftest import MAVERA_KEY

GUARD = 10.0
#: The adversaries end their endless answers after this many requests, so a test of
#: code that loops forever fails quickly instead of at the guard.
BREAKER = 50


def session_for(base_url: str, **options: Any) -> lm.AsyncSession:
    return lm.AsyncSession(mavera_api_key=MAVERA_KEY, mavera_base_url=base_url, **options)


# -- promise 11: no endless loops -----------------------------------------------------


MEETINGS = [meeting_json("mtg_1"), meeting_json("mtg_2")]
WORKSPACES = [{"id": "ws_1", "object": "workspace"}, {"id": "ws_2", "object": "workspace"}]


def endless_pages(kind: str, items: list[dict[str, Any]]) -> Callable[..., Any]:
    """A list endpoint that ignores ``cursor`` and ``offset`` and always has more."""

    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        n = len(adversary.requests)
        if n > BREAKER:
            return web.json_response({"object": "list", "data": [], "has_more": False})
        page: dict[str, Any] = {"object": "list", "data": items, "has_more": True}
        if kind == "same-cursor":
            page["next_cursor"] = "cur_1"
        elif kind == "cursor-cycle":
            page["next_cursor"] = f"cur_{n % 2}"
        elif kind == "fresh-cursor":
            page["next_cursor"] = f"cur_{n}"
        elif kind == "offset":
            page.update(next_cursor=None, offset=0, total=10_000, limit=100)
        elif kind == "empty-fresh-cursor":
            page.update(data=[], next_cursor=f"cur_{n}")
        elif kind == "empty-same-cursor":
            page.update(data=[], next_cursor="cur_1")
        elif kind == "empty-offset":
            page.update(data=[], next_cursor=None, offset=0, total=10_000)
        return web.json_response(page)

    return handler


REPEATING = ["same-cursor", "cursor-cycle", "fresh-cursor", "offset"]
EMPTY = ["empty-fresh-cursor", "empty-same-cursor", "empty-offset"]


async def list_meetings(s: lm.AsyncSession) -> list[Any]:
    return [m async for m in s.mavera.meetings.list()]


async def list_workspaces(s: lm.AsyncSession) -> list[Any]:
    return await s.mavera.workspaces.list()


LISTINGS: dict[str, tuple[Callable[[lm.AsyncSession], Awaitable[list[Any]]], list[Any]]] = {
    "meetings.list": (list_meetings, MEETINGS),
    "workspaces.list": (list_workspaces, WORKSPACES),
}


@pytest.mark.parametrize("kind", REPEATING)
@pytest.mark.parametrize("listing", list(LISTINGS))
async def test_a_server_that_repeats_its_page_forever_ends_the_listing(
    listing: str, kind: str
) -> None:
    """Listing against a server that ignores paging and repeats the same page with
    has_more=true ends in ResponseValidationError after at most 5 requests."""
    run, items = LISTINGS[listing]
    async with (
        Adversary(endless_pages(kind, items)) as adversary,
        session_for(adversary.base_url) as s,
        asyncio.timeout(GUARD),
    ):
        with pytest.raises(lm.ResponseValidationError):
            await run(s)
    assert adversary.count() <= 5, f"{adversary.count()} requests"


@pytest.mark.parametrize("kind", EMPTY)
@pytest.mark.parametrize("listing", list(LISTINGS))
async def test_a_server_that_sends_empty_pages_forever_ends_the_listing(
    listing: str, kind: str
) -> None:
    """Listing against a server whose pages are empty but always have more ends after
    at most 5 requests, with no items or with ResponseValidationError."""
    run, _ = LISTINGS[listing]
    async with (
        Adversary(endless_pages(kind, [])) as adversary,
        session_for(adversary.base_url) as s,
        asyncio.timeout(GUARD),
    ):
        try:
            items = await run(s)
        except lm.ResponseValidationError:
            items = []
    assert items == []
    assert adversary.count() <= 5, f"{adversary.count()} requests"


# -- odd Retry-After values ---------------------------------------------------------


ODD_RETRY_AFTER = ["-5", "nan", "inf", "-inf", "1e400", "-1e308", "abc", "", "0x10", "1,5"]


def failing_with(status: int, retry_after: str) -> Callable[..., Any]:
    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        if len(adversary.requests) > 1 and status == 429:
            return web.json_response(meeting_json("mtg_1"))
        error = {"message": "busy", "type": "api_error", "code": "busy"}
        return web.json_response(
            {"error": error}, status=status, headers={"Retry-After": retry_after}
        )

    return handler


@pytest.mark.parametrize("retry_after", [*ODD_RETRY_AFTER, "1e308"])
async def test_odd_retry_after_on_a_503_ends_in_server_error(retry_after: str) -> None:
    """A 503 whose Retry-After is negative, NaN, infinite, huge or not a number is
    retried within the policy and ends in ServerError."""
    async with (
        Adversary(failing_with(503, retry_after)) as adversary,
        session_for(adversary.base_url) as s,
        asyncio.timeout(GUARD),
    ):
        with pytest.raises(lm.ServerError):
            await s.mavera.meetings.get("mtg_1")
    assert adversary.count() <= 3


@pytest.mark.parametrize("retry_after", ODD_RETRY_AFTER)
async def test_odd_retry_after_on_a_429_neither_crashes_nor_parks_the_key(
    real_waits: None, retry_after: str
) -> None:
    """A 429 whose Retry-After is negative, NaN, infinite, huge or not a number raises
    RateLimitError, and the next call on the key goes out promptly."""
    async with (
        Adversary(failing_with(429, retry_after)) as adversary,
        session_for(adversary.base_url, retry=lm.RetryPolicy(attempts=1)) as s,
    ):
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.RateLimitError):
                await s.mavera.meetings.get("mtg_1")
        async with asyncio.timeout(GUARD):
            meeting = await s.mavera.meetings.get("mtg_1")
    assert meeting.id == "mtg_1"
    assert adversary.count() == 2


# -- bodies and heads that never end or do not parse -------------------------------


async def write_forever(writer: asyncio.StreamWriter, piece: bytes, pause: float = 0.0) -> None:
    """Write ``piece`` until the client hangs up (then drain raises and the handler
    ends)."""
    while True:
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(pause)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def endless_chunked(status: int) -> Callable[..., Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_http_request(reader)
        writer.write(
            b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % status
        )
        writer.write(chunk(b'{"id":"mtg_1","status":"pending","padding":"'))
        await write_forever(writer, chunk(b"x" * 65536))

    return handle


async def endless_until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_http_request(reader)
    writer.write(b"HTTP/1.1 200 X\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    await write_forever(writer, b" " * 65536)


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_http_request(reader)
    writer.write(
        b"HTTP/1.1 200 X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    await write_forever(writer, chunk(b" "), pause=0.02)


def canned(raw: bytes) -> Callable[..., Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_http_request(reader)
        writer.write(raw)
        await writer.drain()

    return handle


BODY = b'{"id":"mtg_1","object":"meeting","status":"pending"}'

BAD_ANSWERS: dict[str, tuple[Callable[..., Awaitable[None]], type[lm.LyraMaveraError]]] = {
    "endless-chunked-200": (endless_chunked(200), lm.ResponseValidationError),
    "endless-chunked-503": (endless_chunked(503), lm.LyraMaveraError),
    "endless-until-close": (endless_until_close, lm.ResponseValidationError),
    "content-length-1e20": (
        canned(b"HTTP/1.1 200 X\r\nContent-Length: 100000000000000000000\r\n\r\n" + BODY),
        lm.LyraMaveraError,
    ),
    "content-length-negative": (
        canned(b"HTTP/1.1 200 X\r\nContent-Length: -1\r\n\r\n" + BODY),
        lm.LyraMaveraError,
    ),
    "short-body-then-close": (
        canned(b"HTTP/1.1 200 X\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n" + BODY),
        lm.APIConnectionError,
    ),
    "header-line-of-100-kb": (
        canned(b"HTTP/1.1 200 X\r\nX-Junk: " + b"j" * 100_000 + b"\r\n\r\n"),
        lm.LyraMaveraError,
    ),
    "garbage-status-line": (canned(b"HTTP/1.1 abc OK\r\n\r\n" + BODY), lm.LyraMaveraError),
    "not-http-at-all": (canned(b"\x00\xff" * 64), lm.LyraMaveraError),
    "json-null": (canned(http_response(200, b"null")), lm.ResponseValidationError),
    "json-list": (canned(http_response(200, b"[1, 2]")), lm.ResponseValidationError),
    "json-deeply-nested": (
        canned(http_response(200, b"[" * 100_000 + b"]" * 100_000)),
        lm.ResponseValidationError,
    ),
}


@pytest.mark.parametrize("answer", list(BAD_ANSWERS))
async def test_a_broken_answer_becomes_a_typed_error(answer: str) -> None:
    """An endless, oversized, truncated or unparsable answer ends the call with a typed
    LyraMaveraError (the response size capped by max_response_bytes)."""
    handle, expected = BAD_ANSWERS[answer]
    async with (
        RawServer(handle) as server,
        session_for(
            server.url(), max_response_bytes=1024 * 1024, retry=lm.RetryPolicy(attempts=1)
        ) as s,
    ):
        async with asyncio.timeout(GUARD):
            with pytest.raises(Exception) as info:  # noqa: PT011 -- the type is the test
                await s.mavera.meetings.get("mtg_1")
    assert isinstance(info.value, expected), repr(info.value)
    assert server.accepts == 1


async def test_a_deadline_ends_an_attempt_whose_body_trickles(real_waits: None) -> None:
    """A call's deadline bounds its attempt as a whole, not only its phases: with a 10 s
    per-phase timeout and a 2 s deadline, a body sent a byte at a time ends in
    APITimeoutError at the deadline (the attempt's own bound would be 20 s, and a
    per-phase timeout cut to the deadline still allowed 4)."""
    async with (
        RawServer(trickle) as server,
        session_for(server.url(), timeout=10.0, retry=lm.RetryPolicy(attempts=3)) as s,
    ):
        call = s.with_options(deadline=2.0).mavera.meetings.get("mtg_1")
        async with asyncio.timeout(3.4):  # between the deadline and twice it
            with pytest.raises(lm.APITimeoutError):
                await call
    assert server.accepts == 1


async def test_a_body_that_trickles_forever_ends_in_a_timeout() -> None:
    """A body that never ends, sent a byte at a time, is cut by the per-attempt timeout
    with APITimeoutError."""
    async with (
        RawServer(trickle) as server,
        session_for(server.url(), timeout=0.5, retry=lm.RetryPolicy(attempts=1)) as s,
        asyncio.timeout(GUARD),
    ):
        with pytest.raises(lm.APITimeoutError):
            await s.mavera.meetings.get("mtg_1")
    assert server.accepts == 1
