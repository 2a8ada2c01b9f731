"""The Mavera provider: every endpoint, pagination, and tolerant reading."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aioresponses import aioresponses

import lyra_mavera as lm
from lyra_mavera.mavera import MeetingStatus
from tests.conftest import MAVERA, sample, sent


async def test_create(session: lm.AsyncSession, mock: aioresponses) -> None:
    """create() posts the given fields and reads the meeting_url object."""
    mock.post(f"{MAVERA}/meetings", status=201, payload=sample("mavera_meeting_created.json"))
    join_at = datetime(2026, 11, 7, 5, 31, 56, tzinfo=UTC)
    meeting = await session.mavera.meetings.create(
        "https://us02web.zoom.us/j/123456789?pwd=abc",
        title="Sales",
        bot_name="Notes",
        join_at=join_at,
        workspace_id="ws_abc123",
    )
    assert meeting.status is MeetingStatus.PENDING
    assert meeting.platform == "zoom"
    assert meeting.meeting_url == lm.mavera.MeetingUrl(meeting_id="123456789", platform="zoom")
    (call,) = sent(mock, "POST", f"{MAVERA}/meetings")
    assert json.loads(call.kwargs["data"]) == {
        "meeting_url": "https://us02web.zoom.us/j/123456789?pwd=abc",
        "title": "Sales",
        "bot_name": "Notes",
        "join_at": "2026-11-07T05:31:56.000Z",
        "workspace_id": "ws_abc123",
    }


async def test_get_full_meeting(session: lm.AsyncSession, mock: aioresponses) -> None:
    """get() reads every documented field of a finished meeting."""
    mock.get(f"{MAVERA}/meetings/meeting_123", payload=sample("mavera_meeting_done.json"))
    m = await session.mavera.meetings.get("meeting_123")
    assert m.status is MeetingStatus.DONE and m.is_terminal
    assert m.meeting_url == "https://zoom.us/j/123456789"
    assert m.completed_at == datetime(2026, 11, 7, 6, 31, 56, tzinfo=UTC)
    assert m.participants[0].email == "alex@acme.com"
    assert m.transcript is not None and m.transcript.total_words == 8000
    assert m.analysis is not None and m.analysis.version == 1
    assert m.tasks[0].due_date_confidence == 0.8 and m.decisions[0].statement == "Go with plan B"
    assert m.platform is None  # get carries no platform


async def test_get_quotes_the_id(session: lm.AsyncSession, mock: aioresponses) -> None:
    """An id with reserved characters is percent-encoded into one path segment."""
    mock.get(f"{MAVERA}/meetings/a%2Fb%3Fc", payload={"id": "a/b?c", "status": "pending"})
    assert (await session.mavera.meetings.get("a/b?c")).id == "a/b?c"


async def test_unknown_status_kept_raw(session: lm.AsyncSession, mock: aioresponses) -> None:
    """A status Mavera adds later is kept as its raw string and is not terminal."""
    mock.get(
        f"{MAVERA}/meetings/m1",
        payload={"id": "m1", "object": "meeting", "status": "in_breakout_room", "new_field": 1},
    )
    m = await session.mavera.meetings.get("m1")
    assert m.status == "in_breakout_room" and not isinstance(m.status, MeetingStatus)
    assert not m.is_terminal


async def test_not_found(session: lm.AsyncSession, mock: aioresponses) -> None:
    """An unknown id is NotFoundError with Mavera's code."""
    mock.get(
        f"{MAVERA}/meetings/nope",
        status=404,
        payload={
            "error": {
                "message": "Meeting not found",
                "type": "invalid_request_error",
                "code": "resource_not_found",
                "param": "id",
            }
        },
    )
    with pytest.raises(lm.NotFoundError) as info:
        await session.mavera.meetings.get("nope")
    assert info.value.code == "resource_not_found"


async def test_list_follows_cursors(session: lm.AsyncSession, mock: aioresponses) -> None:
    """list() yields every meeting across cursor pages and stops when has_more is false."""
    mock.get(
        f"{MAVERA}/meetings?limit=100&workspace_id=ws_1",
        payload={
            "object": "list",
            "data": [{"id": "m1", "status": "pending"}, {"id": "m2", "status": "done"}],
            "has_more": True,
            "next_cursor": "c2",
        },
    )
    mock.get(
        f"{MAVERA}/meetings?limit=100&workspace_id=ws_1&cursor=c2",
        payload={
            "object": "list",
            "data": [{"id": "m3", "status": "fatal"}],
            "has_more": False,
            "next_cursor": None,
        },
    )
    ids = [m.id async for m in session.mavera.meetings.list(workspace_id="ws_1")]
    assert ids == ["m1", "m2", "m3"]


async def test_list_follows_offsets(session: lm.AsyncSession, mock: aioresponses) -> None:
    """Without a cursor, list() pages by offset while has_more is true."""
    mock.get(
        f"{MAVERA}/meetings?limit=2",
        payload={
            "object": "list",
            "data": [{"id": "m1", "status": "pending"}, {"id": "m2", "status": "done"}],
            "has_more": True,
            "total": 3,
            "offset": 0,
            "limit": 2,
        },
    )
    mock.get(
        f"{MAVERA}/meetings?limit=2&offset=2",
        payload={
            "object": "list",
            "data": [{"id": "m3", "status": "done"}],
            "has_more": False,
            "total": 3,
            "offset": 2,
            "limit": 2,
        },
    )
    assert [m.id async for m in session.mavera.meetings.list(page_size=2)] == ["m1", "m2", "m3"]


async def test_list_stops_on_empty_page(session: lm.AsyncSession, mock: aioresponses) -> None:
    """A page with no data ends the listing even if has_more claims otherwise."""
    mock.get(
        f"{MAVERA}/meetings?limit=100",
        payload={"object": "list", "data": [], "has_more": True, "next_cursor": "c"},
    )
    assert [m async for m in session.mavera.meetings.list()] == []


async def test_list_refuses_cursor_loop(session: lm.AsyncSession, mock: aioresponses) -> None:
    """A server repeating a cursor cannot make list() loop forever."""
    page = {
        "object": "list",
        "data": [{"id": "m1", "status": "done"}],
        "has_more": True,
        "next_cursor": "same",
    }
    mock.get(f"{MAVERA}/meetings?limit=100", payload=page)
    mock.get(f"{MAVERA}/meetings?limit=100&cursor=same", payload=page, repeat=True)
    with pytest.raises(lm.ResponseValidationError, match="twice"):
        _ = [m async for m in session.mavera.meetings.list()]


async def test_list_validates_before_iterating(session: lm.AsyncSession) -> None:
    """Bad list() arguments raise at the call, not at the first iteration."""
    with pytest.raises(lm.ValidationError, match="page_size"):
        session.mavera.meetings.list(page_size=101)
    with pytest.raises(lm.ValidationError, match="workspace_id"):
        session.mavera.meetings.list(workspace_id=" ")


async def test_cancel(session: lm.AsyncSession, mock: aioresponses) -> None:
    """cancel() sends the reason (or {}) and reads the cancellation."""
    url = f"{MAVERA}/meetings/meeting_123/cancel"
    answer = {
        "id": "meeting_123",
        "object": "meeting",
        "status": "cancelled",
        "cancelled_at": "2026-11-07T05:35:00Z",
        "cancelled_by": "user_1",
        "cancel_reason": "Meeting rescheduled",
    }
    mock.post(url, payload=answer)
    mock.post(url, payload={**answer, "cancel_reason": None})
    c = await session.mavera.meetings.cancel("meeting_123", reason="Meeting rescheduled")
    assert c.status is MeetingStatus.CANCELLED and c.cancel_reason == "Meeting rescheduled"
    await session.mavera.meetings.cancel("meeting_123")
    bodies = [json.loads(call.kwargs["data"]) for call in sent(mock, "POST", url)]
    assert bodies == [{"reason": "Meeting rescheduled"}, {}]


async def test_transcript(session: lm.AsyncSession, mock: aioresponses) -> None:
    """transcript() passes format and time window and reads segments."""
    mock.get(
        f"{MAVERA}/meetings/meeting_123/transcript?format=segments&start_time=0&end_time=2.5",
        payload=sample("mavera_transcript.json"),
    )
    t = await session.mavera.meetings.transcript("meeting_123", start_time=0, end_time=2.5)
    assert t.segments[0].word_timestamps[1].word == "everyone"
    assert t.text == "Hello everyone"


async def test_transcript_text_format(session: lm.AsyncSession, mock: aioresponses) -> None:
    """The text format carries its content."""
    mock.get(
        f"{MAVERA}/meetings/m1/transcript?format=srt",
        payload={
            "object": "meeting.transcript",
            "meeting_id": "m1",
            "format": "srt",
            "content": "1\n00:00:00,000 --> 00:00:02,500\nHello",
        },
    )
    t = await session.mavera.meetings.transcript("m1", format="srt")
    assert t.text.startswith("1\n") and t.segments == ()


async def test_analysis_keeps_everything(session: lm.AsyncSession, mock: aioresponses) -> None:
    """analysis() reads known fields and keeps the whole undocumented body."""
    mock.get(f"{MAVERA}/meetings/meeting_123/analysis", payload=sample("mavera_analysis.json"))
    a = await session.mavera.meetings.analysis("meeting_123")
    assert a.summary == "The team agreed to go with plan B." and a.version == 1
    assert a["coaching"]["questions_asked"] == 7


async def test_run_schema(session: lm.AsyncSession, mock: aioresponses) -> None:
    """run_schema() sends only the options given and reads the result."""
    url = f"{MAVERA}/meetings/meeting_123/schemas/schema_456/run"
    mock.post(url, payload=sample("mavera_schema_result.json"))
    mock.post(url, payload=sample("mavera_schema_result.json"))
    r = await session.mavera.meetings.run_schema(
        "meeting_123", "schema_456", model="gpt-5.4", temperature=0.2, force_new=True
    )
    assert r.field_values[0].value == "50k" and r.evidence[0].timestamp_end == 14.5
    await session.mavera.meetings.run_schema("meeting_123", "schema_456")
    bodies = [json.loads(c.kwargs["data"]) for c in sent(mock, "POST", url)]
    assert bodies == [{"model": "gpt-5.4", "temperature": 0.2, "force_new": True}, {}]


async def test_workspaces(session: lm.AsyncSession, mock: aioresponses) -> None:
    """workspaces.list() gathers all pages; get() reads one."""
    ws = sample("mavera_workspace.json")
    mock.get(
        f"{MAVERA}/workspaces?include_members=true&limit=100",
        payload={"object": "list", "data": [ws], "has_more": True, "next_cursor": "n"},
    )
    mock.get(
        f"{MAVERA}/workspaces?include_members=true&limit=100&cursor=n",
        payload={
            "object": "list",
            "data": [{**ws, "id": "ws_2"}],
            "has_more": False,
            "next_cursor": None,
        },
    )
    mock.get(f"{MAVERA}/workspaces/ws_abc123", payload=ws)
    listed = await session.mavera.workspaces.list(include_members=True)
    assert [w.id for w in listed] == ["ws_abc123", "ws_2"]
    one = await session.mavera.workspaces.get("ws_abc123")
    assert one.members[0].role == "owner" and one.is_owner


async def test_usage(session: lm.AsyncSession, mock: aioresponses) -> None:
    """usage.get() reads the nested usage object."""
    mock.get(f"{MAVERA}/usage", payload=sample("mavera_usage.json"))
    u = await session.mavera.usage.get()
    assert u.credits is not None and u.credits.remaining == 380
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
async def test_misfit_names_the_field(
    session: lm.AsyncSession, mock: aioresponses, payload: object, where: str
) -> None:
    """A response that does not fit says which field, never a bare KeyError/TypeError."""
    mock.get(f"{MAVERA}/meetings/m1", payload=payload)
    with pytest.raises(lm.ResponseValidationError) as info:
        await session.mavera.meetings.get("m1")
    assert any(where in line for line in info.value.path), info.value.path


@pytest.mark.parametrize("body", [b"[]", b'"m1"', b"{trunc", b"", b"\xff\xfe", b"<html>ok</html>"])
async def test_unreadable_success_body(
    session: lm.AsyncSession, mock: aioresponses, body: bytes
) -> None:
    """A 200 whose body is not a meeting is a ResponseValidationError."""
    mock.get(f"{MAVERA}/meetings/m1", body=body, content_type="text/html")
    with pytest.raises(lm.ResponseValidationError):
        await session.mavera.meetings.get("m1")
