"""Promise 9 of the reliability issue: paths and inputs.

An id always stays one path segment: ``.`` and ``..`` are refused before anything is
sent (URL normalisation would turn them into another route), and every other id is
sent percent-encoded so the server reads back exactly what was given. ``create_many``
refuses a string, bytes, a dict or a single request instead of iterating it. Zoom
``/j/`` links must carry a numeric meeting id (``reference/meeting-urls.md``), and
the documented link forms stay accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web

import lyra_mavera as lm
from lyra_mavera.lyra import MeetingRequest
from lyra_mavera.mavera import BotRequest
from lyra_mavera.testing import FakeServer
from tests.adversary import Adversary
from tests.conftest import MAVERA_KEY

GUARD = 20.0
X = object()  # where the id under test sits in the expected path

IdCall = Callable[[lm.AsyncSession, str], Awaitable[object]]

# name: (the call, the parameter it must name, the path segments it must send)
ID_CALLS: dict[str, tuple[IdCall, str, list[Any]]] = {
    "meetings.get": (lambda s, v: s.mavera.meetings.get(v), "meeting_id", ["meetings", X]),
    "meetings.cancel": (
        lambda s, v: s.mavera.meetings.cancel(v),
        "meeting_id",
        ["meetings", X, "cancel"],
    ),
    "meetings.transcript": (
        lambda s, v: s.mavera.meetings.transcript(v),
        "meeting_id",
        ["meetings", X, "transcript"],
    ),
    "meetings.analysis": (
        lambda s, v: s.mavera.meetings.analysis(v),
        "meeting_id",
        ["meetings", X, "analysis"],
    ),
    "meetings.run_schema(meeting_id)": (
        lambda s, v: s.mavera.meetings.run_schema(v, "sch_1"),
        "meeting_id",
        ["meetings", X, "schemas", "sch_1", "run"],
    ),
    "meetings.run_schema(schema_id)": (
        lambda s, v: s.mavera.meetings.run_schema("mtg_1", v),
        "schema_id",
        ["meetings", "mtg_1", "schemas", X, "run"],
    ),
    "meetings.wait": (
        lambda s, v: s.mavera.meetings.wait(v, timeout=5),
        "meeting_id",
        ["meetings", X],
    ),
    "workspaces.get": (
        lambda s, v: s.mavera.workspaces.get(v),
        "workspace_id",
        ["workspaces", X],
    ),
}


@pytest.mark.parametrize("meeting_id", [".", ".."])
@pytest.mark.parametrize("call", list(ID_CALLS))
async def test_dot_segment_ids_are_refused_before_sending(call: str, meeting_id: str) -> None:
    """An id of '.' or '..' raises ValidationError naming the parameter, and nothing
    reaches the server."""
    run, param, _ = ID_CALLS[call]
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.ValidationError) as info:
                await run(s, meeting_id)
        assert info.value.param == param
        assert fake.requests == [], [f"{r.method} {r.path}" for r in fake.requests]


async def test_dot_segment_ids_in_wait_many_are_refused_before_sending() -> None:
    """wait_many refuses '..' among its ids up front, naming its position."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.ValidationError) as info:
                await s.mavera.meetings.wait_many(["mtg_1", ".."], timeout=5)
        assert info.value.param == "meeting_ids[1]"
        assert fake.requests == []


ODD_IDS = [
    "a/b",
    "a?b",
    "a#b",
    "a b",
    "mé",
    "会議",
    "%2e",
    "%2e%2e",
    "%2F",
    "./x",
    "../x",
    "a/../b",
    "a;b",
    "a\\b",
    "...",
]


async def not_found(request: web.Request, adversary: Adversary) -> web.StreamResponse:
    error = {"message": "no such thing", "type": "invalid_request_error", "code": "nf"}
    return web.json_response({"error": error}, status=404)


@pytest.mark.parametrize("meeting_id", ODD_IDS)
@pytest.mark.parametrize("call", list(ID_CALLS))
async def test_odd_ids_are_refused_or_sent_as_exactly_one_segment(
    call: str, meeting_id: str
) -> None:
    """An id with '/', '?', '#', spaces, dots, percent signs or non-ASCII letters is
    either refused (naming the parameter, nothing sent) or sent percent-encoded as one
    path segment that decodes back to the id."""
    run, param, shape = ID_CALLS[call]
    async with (
        Adversary(not_found) as adversary,
        lm.AsyncSession(mavera_api_key=MAVERA_KEY, mavera_base_url=adversary.base_url) as s,
    ):
        refused: lm.ValidationError | None = None
        async with asyncio.timeout(GUARD):
            try:
                await run(s, meeting_id)
            except lm.ValidationError as exc:
                refused = exc
            except lm.LyraMaveraError:
                pass  # the server's 404: what matters is what was sent
    if refused is not None:
        assert refused.param == param
        assert adversary.requests == []
        return
    assert len(adversary.requests) == 1
    raw = adversary.requests[0].raw_path.split("?", 1)[0]
    assert raw.startswith("/api/v1/")
    segments = raw[len("/api/v1/") :].split("/")
    assert len(segments) == len(shape), raw
    for got, want in zip(segments, shape, strict=True):
        if want is X:
            assert unquote(got) == meeting_id, raw
        else:
            assert got == want, raw


# -- create_many takes a collection of requests, nothing else -------------------------


NOT_A_COLLECTION: dict[str, dict[str, Any]] = {
    "mavera": {
        "str": "https://zoom.us/j/1234567890",
        "bytes": b"https://zoom.us/j/1234567890",
        "dict": {"meeting_url": "https://zoom.us/j/1234567890"},
        "one-request": BotRequest("https://zoom.us/j/1234567890"),
        "None": None,
        "int": 5,
    },
    "lyra": {
        "str": "Kickoff",
        "bytes": b"Kickoff",
        "dict": {"title": "Kickoff"},
        "one-request": MeetingRequest("Kickoff"),
        "None": None,
        "int": 5,
    },
}


@pytest.mark.parametrize("shape", list(NOT_A_COLLECTION["mavera"]))
@pytest.mark.parametrize("provider", ["mavera", "lyra"])
async def test_create_many_refuses_anything_but_a_collection_of_requests(
    provider: str, shape: str
) -> None:
    """create_many given a string, bytes, a dict, one request, None or a number raises
    ValidationError naming `requests`, and sends nothing."""
    requests = NOT_A_COLLECTION[provider][shape]
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        api = s.mavera.meetings if provider == "mavera" else s.lyra.meetings
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.ValidationError) as info:
                await api.create_many(requests)
        assert info.value.param == "requests"
        assert fake.requests == []


# -- Zoom links: /j/ needs a numeric meeting id --------------------------------------


MALFORMED_ZOOM = [
    "https://zoom.us/j/abc",
    "https://zoom.us/j/[/b]",
    "https://zoom.us/j/",
    "https://zoom.us/j/12a34",
    "https://zoom.us/j/12a34?pwd=abc",
    "https://us02web.zoom.us/j/meeting?pwd=abc",
]

DOCUMENTED_LINKS = [
    "https://zoom.us/j/1234567890",
    "https://us02web.zoom.us/j/85012345678?pwd=abc",
    "https://zoom.us/j/123456789",
    "https://zoom.us/j/12345678901",
    "https://zoom.us/j/1234567890?pwd=abc&tk=xyz",
    "https://acme.zoom.us/j/1234567890",
    "https://zoom.com/j/1234567890",
    "https://zoomgov.com/j/1612345678",
    "https://zoom.us/w/1234567890",
    "https://zoom.us/wc/join/1234567890",
    "https://zoom.us/wc/1234567890/join",
    "https://zoom.us/my/acme.sales",
    "<https://zoom.us/j/1234567890>.",
    "https://meet.google.com/abc-defg-hij",
    "https://acme.webex.com/meet/jdoe",
]


@pytest.mark.parametrize("link", MALFORMED_ZOOM)
async def test_a_zoom_join_link_without_a_numeric_id_is_refused_before_sending(
    link: str,
) -> None:
    """create and create_many refuse a Zoom /j/ link whose meeting id is not digits,
    naming meeting_url, and send nothing."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.ValidationError) as info:
                await s.mavera.meetings.create(link)
            [result] = await s.mavera.meetings.create_many([BotRequest(link)])
        assert info.value.param == "meeting_url"
        assert isinstance(result.error, lm.ValidationError)
        assert result.error.param == "requests[0].meeting_url"
        assert fake.requests == []


@pytest.mark.parametrize("link", DOCUMENTED_LINKS)
async def test_documented_meeting_links_are_still_accepted(link: str) -> None:
    """Every link form meeting-urls.md documents (Zoom /j/ with 9-11 digits and a
    passcode, /w/, /wc/join/, /my/ personal links, mail-wrapped links) is sent once."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        async with asyncio.timeout(GUARD):
            meeting = await s.mavera.meetings.create(link)
        assert meeting.id
        assert len(fake.requests_to("POST", "/meetings")) == 1
