"""The Mavera provider: every endpoint, pagination, and tolerant reading.

Endpoints are exercised against FakeServer (real sockets), its request log showing what
was sent. Answers FakeServer never gives -- a recorded meeting with every documented
field, statuses and fields Mavera may add later, offset pages, pages that lie, a
workspace list over two pages, bodies that do not fit -- come from an
:class:`~tests.adversary.Adversary` sending exactly that body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

import lyra_mavera as lm
from lyra_mavera.mavera import MeetingStatus
from lyra_mavera.testing import FakeServer
from tests.adversary import Adversary, answering
from tests.conftest import MAVERA_KEY, sample

ZOOM = "https://zoom.us/j/850000123"
#: Fake seconds after which a bot on FakeServer's default script is done (it takes 96).
DONE_AFTER = 1000


def mavera_at(adversary: Adversary) -> lm.AsyncSession:
    """A session whose Mavera calls go to ``adversary``."""
    return lm.AsyncSession(mavera_api_key=MAVERA_KEY, mavera_base_url=adversary.base_url)


def asked(adversary: Adversary) -> list[tuple[str, str, dict[str, str]]]:
    """Method, path and query of every request the adversary received, in order."""
    return [(r.method, r.path, r.query) for r in adversary.requests]


async def finished_bot(fake: FakeServer, s: lm.AsyncSession) -> str:
    """A bot whose meeting is over (status done), so its results can be read."""
    bot = await s.mavera.meetings.create(ZOOM)
    fake.clock.advance(DONE_AFTER)
    return bot.id


async def test_create(fake: FakeServer) -> None:
    """create() posts the given fields and reads the meeting_url object."""
    fake.workspaces["ws_abc123"] = {"name": "Sales", "type": "starter"}
    join_at = datetime(2026, 11, 7, 5, 31, 56, tzinfo=UTC)
    async with fake.session() as s:
        meeting = await s.mavera.meetings.create(
            "https://us02web.zoom.us/j/123456789?pwd=abc",
            title="Sales",
            bot_name="Notes",
            join_at=join_at,
            workspace_id="ws_abc123",
        )
    assert meeting.status is MeetingStatus.PENDING
    assert meeting.platform == "zoom"
    assert meeting.meeting_url == lm.mavera.MeetingUrl(meeting_id="123456789", platform="zoom")
    (call,) = fake.requests_to("POST", "/meetings")
    assert call.status == 201
    assert call.json() == {
        "meeting_url": "https://us02web.zoom.us/j/123456789?pwd=abc",
        "title": "Sales",
        "bot_name": "Notes",
        "join_at": "2026-11-07T05:31:56.000Z",
        "workspace_id": "ws_abc123",
    }


async def test_get_full_meeting() -> None:
    """get() reads every documented field of a finished meeting."""
    recorded = answering(sample("mavera_meeting_done.json"))
    async with Adversary(recorded) as adversary, mavera_at(adversary) as s:
        m = await s.mavera.meetings.get("meeting_123")
    assert asked(adversary) == [("GET", "/meetings/meeting_123", {})]
    assert m.status is MeetingStatus.DONE and m.is_terminal
    assert m.meeting_url == "https://zoom.us/j/123456789"
    assert m.completed_at == datetime(2026, 11, 7, 6, 31, 56, tzinfo=UTC)
    assert m.participants[0].email == "alex@acme.com"
    assert m.transcript is not None and m.transcript.total_words == 8000
    assert m.analysis is not None and m.analysis.version == 1
    assert m.tasks[0].due_date_confidence == 0.8 and m.decisions[0].statement == "Go with plan B"
    assert m.platform is None  # get carries no platform


async def test_get_quotes_the_id() -> None:
    """An id with reserved characters is percent-encoded into one path segment."""
    odd = answering({"id": "a/b?c", "status": "pending"})
    async with Adversary(odd) as adversary, mavera_at(adversary) as s:
        assert (await s.mavera.meetings.get("a/b?c")).id == "a/b?c"
    (seen,) = adversary.requests
    assert seen.raw_path == "/api/v1/meetings/a%2Fb%3Fc"


async def test_unknown_status_kept_raw() -> None:
    """A status Mavera adds later is kept as its raw string and is not terminal."""
    newer = answering(
        {"id": "m1", "object": "meeting", "status": "in_breakout_room", "new_field": 1}
    )
    async with Adversary(newer) as adversary, mavera_at(adversary) as s:
        m = await s.mavera.meetings.get("m1")
    assert asked(adversary) == [("GET", "/meetings/m1", {})]
    assert m.status == "in_breakout_room" and not isinstance(m.status, MeetingStatus)
    assert not m.is_terminal


async def test_not_found(fake: FakeServer) -> None:
    """An unknown id is NotFoundError with Mavera's code."""
    async with fake.session() as s:
        with pytest.raises(lm.NotFoundError) as info:
            await s.mavera.meetings.get("nope")
    assert info.value.code == "resource_not_found"


async def test_list_follows_cursors(fake: FakeServer) -> None:
    """list() yields every meeting across cursor pages and stops when has_more is false."""
    async with fake.session() as s:
        await s.mavera.meetings.create(ZOOM)  # in the default workspace: not listed
        made = []
        for i in range(101):
            link = f"https://zoom.us/j/85000{i:04d}"
            made.append((await s.mavera.meetings.create(link, workspace_id="ws_sales")).id)
        ids = [m.id async for m in s.mavera.meetings.list(workspace_id="ws_sales")]
    assert ids == made[::-1]  # newest first, two pages of 100 and 1
    first, second = fake.requests_to("GET", "/meetings")  # no third page asked for
    assert first.query == {"limit": "100", "workspace_id": "ws_sales"}
    last_of_first_page = fake.bots.get(ids[99])
    assert last_of_first_page is not None
    assert second.query == {
        "limit": "100",
        "workspace_id": "ws_sales",
        "cursor": f"cur_{last_of_first_page.seq}",
    }


OFFSET_PAGES: dict[str | None, dict[str, Any]] = {
    None: {
        "object": "list",
        "data": [{"id": "m1", "status": "pending"}, {"id": "m2", "status": "done"}],
        "has_more": True,
        "total": 3,
        "offset": 0,
        "limit": 2,
    },
    "2": {
        "object": "list",
        "data": [{"id": "m3", "status": "done"}],
        "has_more": False,
        "total": 3,
        "offset": 2,
        "limit": 2,
    },
}


async def test_list_follows_offsets() -> None:
    """Without a cursor, list() pages by offset while has_more is true."""

    async def by_offset(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        return web.json_response(OFFSET_PAGES[request.query.get("offset")])

    async with Adversary(by_offset) as adversary, mavera_at(adversary) as s:
        assert [m.id async for m in s.mavera.meetings.list(page_size=2)] == ["m1", "m2", "m3"]
    assert asked(adversary) == [
        ("GET", "/meetings", {"limit": "2"}),
        ("GET", "/meetings", {"limit": "2", "offset": "2"}),
    ]


async def test_list_stops_on_empty_page() -> None:
    """A page with no data ends the listing even if has_more claims otherwise."""
    empty = answering({"object": "list", "data": [], "has_more": True, "next_cursor": "c"})
    async with Adversary(empty) as adversary, mavera_at(adversary) as s:
        assert [m async for m in s.mavera.meetings.list()] == []
    assert asked(adversary) == [("GET", "/meetings", {"limit": "100"})]


async def test_list_refuses_cursor_loop() -> None:
    """A server repeating a cursor cannot make list() loop forever."""
    page = {
        "object": "list",
        "data": [{"id": "m1", "status": "done"}],
        "has_more": True,
        "next_cursor": "same",
    }
    async with Adversary(answering(page)) as adversary, mavera_at(adversary) as s:
        with pytest.raises(lm.ResponseValidationError, match="twice"):
            _ = [m async for m in s.mavera.meetings.list()]
    first, *rest = asked(adversary)
    assert first == ("GET", "/meetings", {"limit": "100"})
    assert rest and all(r == ("GET", "/meetings", {"limit": "100", "cursor": "same"}) for r in rest)


async def test_list_validates_before_iterating(session: lm.AsyncSession) -> None:
    """Bad list() arguments raise at the call, not at the first iteration."""
    with pytest.raises(lm.ValidationError, match="page_size"):
        session.mavera.meetings.list(page_size=101)
    with pytest.raises(lm.ValidationError, match="workspace_id"):
        session.mavera.meetings.list(workspace_id=" ")


async def test_cancel(fake: FakeServer) -> None:
    """cancel() sends the reason (or {}) and reads the cancellation."""
    async with fake.session() as s:
        # Two bots: the fake, like Mavera, refuses to cancel a cancelled one.
        first = await s.mavera.meetings.create(ZOOM)
        second = await s.mavera.meetings.create("https://zoom.us/j/850000124")
        c = await s.mavera.meetings.cancel(first.id, reason="Meeting rescheduled")
        assert c.status is MeetingStatus.CANCELLED and c.cancel_reason == "Meeting rescheduled"
        await s.mavera.meetings.cancel(second.id)
    bodies = [call.json() for call in fake.requests_to("POST", "/meetings/{id}/cancel")]
    assert bodies == [{"reason": "Meeting rescheduled"}, {}]


async def test_transcript(fake: FakeServer) -> None:
    """transcript() passes format and time window and reads segments."""
    async with fake.session() as s:
        bot_id = await finished_bot(fake, s)
        t = await s.mavera.meetings.transcript(bot_id, start_time=0, end_time=4.5)
    (call,) = fake.requests_to("GET", "/meetings/{id}/transcript")
    assert call.query == {"format": "segments", "start_time": "0", "end_time": "4.5"}
    assert t.segments[0].word_timestamps[1].word == "everyone"
    assert t.text == "Thanks everyone for joining"  # the one segment within 0..4.5 s


async def test_transcript_text_format(fake: FakeServer) -> None:
    """The text format carries its content."""
    async with fake.session() as s:
        bot_id = await finished_bot(fake, s)
        t = await s.mavera.meetings.transcript(bot_id, format="srt")
    (call,) = fake.requests_to("GET", "/meetings/{id}/transcript")
    assert call.query == {"format": "srt"}
    assert t.text.startswith("1\n") and t.segments == ()


async def test_analysis_keeps_everything(fake: FakeServer) -> None:
    """analysis() reads known fields and keeps the whole undocumented body."""
    async with fake.session() as s:
        bot_id = await finished_bot(fake, s)
        a = await s.mavera.meetings.analysis(bot_id)
    assert a.summary == "The team reviewed the plan and agreed next steps." and a.version == 1
    assert a["coaching"]["questions_asked"] == 2


async def test_run_schema(fake: FakeServer) -> None:
    """run_schema() sends only the options given and reads the result."""
    async with fake.session() as s:
        bot_id = await finished_bot(fake, s)
        r = await s.mavera.meetings.run_schema(
            bot_id, "schema_sales_discovery", model="gpt-5.4", temperature=0.2, force_new=True
        )
        assert r.field_values[0].value == "Send the plan" and r.evidence[0].timestamp_end == 14.5
        await s.mavera.meetings.run_schema(bot_id, "schema_sales_discovery")
    calls = fake.requests_to("POST", "/meetings/{id}/schemas/{schemaId}/run")
    bodies = [c.json() for c in calls]
    assert bodies == [{"model": "gpt-5.4", "temperature": 0.2, "force_new": True}, {}]


async def test_workspaces() -> None:
    """workspaces.list() gathers all pages; get() reads one."""
    ws = sample("mavera_workspace.json")
    pages = {
        None: {"object": "list", "data": [ws], "has_more": True, "next_cursor": "n"},
        "n": {
            "object": "list",
            "data": [{**ws, "id": "ws_2"}],
            "has_more": False,
            "next_cursor": None,
        },
    }

    async def two_pages(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        if request.path.endswith("/workspaces/ws_abc123"):
            return web.json_response(ws)
        return web.json_response(pages[request.query.get("cursor")])

    async with Adversary(two_pages) as adversary, mavera_at(adversary) as s:
        listed = await s.mavera.workspaces.list(include_members=True)
        assert [w.id for w in listed] == ["ws_abc123", "ws_2"]
        one = await s.mavera.workspaces.get("ws_abc123")
    assert one.members[0].role == "owner" and one.is_owner
    assert asked(adversary) == [
        ("GET", "/workspaces", {"include_members": "true", "limit": "100"}),
        ("GET", "/workspaces", {"include_members": "true", "limit": "100", "cursor": "n"}),
        ("GET", "/workspaces/ws_abc123", {}),
    ]


async def test_usage(fake: FakeServer) -> None:
    """usage.get() reads the nested usage object."""
    async with fake.session() as s:
        u = await s.mavera.usage.get()
    assert u.credits is not None and u.credits.remaining == 500
    assert u.limits is not None and u.limits.usage_limit is None


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"object": "meeting", "status": "done"}, "$.id"),
        ({"id": None, "status": "done"}, "$.id"),
        ({"id": 5, "status": "done"}, "$.id"),
        ({"id": "m1", "status": 3}, "$.status"),
        ({"id": "m1", "status": "done", "join_at": "yesterday"}, "$.join_at"),
        ({"id": "m1", "status": "done", "participant_count": "3"}, "$.participant_count"),
        ({"id": "m1", "status": "done", "has_transcript": "yes"}, "$.has_transcript"),
        ({"id": "m1", "status": "done", "participants": [{"name": 1}]}, "$.participants[0].name"),
        ({"id": "m1", "status": "done", "meeting_url": 12}, "$.meeting_url"),
    ],
)
async def test_misfit_names_the_field(payload: object, where: str) -> None:
    """A response that does not fit says which field, never a bare KeyError/TypeError."""
    async with Adversary(answering(payload)) as adversary, mavera_at(adversary) as s:
        with pytest.raises(lm.ResponseValidationError) as info:
            await s.mavera.meetings.get("m1")
    assert any(where in line for line in info.value.path), info.value.path
    assert asked(adversary) == [("GET", "/meetings/m1", {})]


@pytest.mark.parametrize("body", [b"[]", b'"m1"', b"{trunc", b"", b"\xff\xfe", b"<html>ok</html>"])
async def test_unreadable_success_body(body: bytes) -> None:
    """A 200 whose body is not a meeting is a ResponseValidationError."""
    # Each body is sent byte for byte by a real server (a 200 under text/html).
    unreadable = answering(body=body, content_type="text/html")
    async with Adversary(unreadable) as adversary, mavera_at(adversary) as s:
        with pytest.raises(lm.ResponseValidationError):
            await s.mavera.meetings.get("m1")
    assert asked(adversary) == [("GET", "/meetings/m1", {})]
