"""The Lyra provider: verify and create, their bodies and their errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from aioresponses import aioresponses

import lyra_mavera as lm
from tests.conftest import LYRA, sent

MEETING = {
    "type": "lyra_video",
    "id": "meeting_123",
    "password": "",
    "url": "https://app.lyra.so/meeting/abc-def-ghi",
}


def _body(mock: aioresponses) -> dict[str, object]:
    (call,) = sent(mock, "POST", f"{LYRA}/meeting")
    return json.loads(call.kwargs["data"])  # type: ignore[no-any-return]


async def test_verify(session: lm.AsyncSession, mock: aioresponses) -> None:
    """verify() returns who the key belongs to."""
    mock.post(f"{LYRA}/auth", payload={"valid": True, "userId": "user_123", "orgId": "org_123"})
    identity = await session.lyra.auth.verify()
    assert identity == lm.lyra.Identity(valid=True, user_id="user_123", org_id="org_123")
    (call,) = sent(mock, "POST", f"{LYRA}/auth")
    assert call.kwargs["data"] is None


async def test_verify_invalid_key(session: lm.AsyncSession, mock: aioresponses) -> None:
    """An invalid key is an AuthenticationError carrying Lyra's message."""
    mock.post(f"{LYRA}/auth", status=401, payload={"valid": False, "error": "Invalid API key"})
    with pytest.raises(lm.AuthenticationError) as info:
        await session.lyra.auth.verify()
    assert info.value.message == "Invalid API key" and info.value.provider == "lyra"


async def test_create_minimal(session: lm.AsyncSession, mock: aioresponses) -> None:
    """Only the title is sent when nothing else is given."""
    mock.post(f"{LYRA}/meeting", payload=MEETING)
    meeting = await session.lyra.meetings.create("Customer kickoff")
    assert meeting == lm.lyra.Meeting(
        type="lyra_video", id="meeting_123", password="", url=MEETING["url"]
    )
    assert not meeting.has_password
    assert _body(mock) == {"title": "Customer kickoff"}


async def test_create_full(session: lm.AsyncSession, mock: aioresponses) -> None:
    """start goes out as UTC with milliseconds; attendees always as a list."""
    mock.post(f"{LYRA}/meeting", payload=MEETING)
    start = datetime(2026, 2, 3, 16, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    await session.lyra.meetings.create("Kickoff", start=start, attendees="alex@acme.com")
    assert _body(mock) == {
        "title": "Kickoff",
        "start": "2026-02-03T15:00:00.123Z",
        "attendees": ["alex@acme.com"],
    }


async def test_create_many_attendees(session: lm.AsyncSession, mock: aioresponses) -> None:
    """An iterable of attendees is sent as a list in order."""
    mock.post(f"{LYRA}/meeting", payload=MEETING)
    await session.lyra.meetings.create(
        "Kickoff", attendees=(a for a in ["alex@acme.com", "sam@acme.com"])
    )
    assert _body(mock)["attendees"] == ["alex@acme.com", "sam@acme.com"]


async def test_create_empty_attendees_omitted(session: lm.AsyncSession, mock: aioresponses) -> None:
    """An empty attendee list is the same as none: the field is omitted."""
    mock.post(f"{LYRA}/meeting", payload=MEETING)
    await session.lyra.meetings.create("Kickoff", attendees=[])
    assert "attendees" not in _body(mock)


@pytest.mark.parametrize("password", [None, "MISSING", "s3cret"])
async def test_password_variants(
    session: lm.AsyncSession, mock: aioresponses, password: str | None
) -> None:
    """A missing or null password reads as "", a real one is kept."""
    body = dict(MEETING)
    if password == "MISSING":
        del body["password"]
    else:
        body["password"] = password  # type: ignore[assignment]
    mock.post(f"{LYRA}/meeting", payload=body)
    meeting = await session.lyra.meetings.create("Kickoff")
    assert meeting.password == (password if password == "s3cret" else "")


async def test_scope_error(session: lm.AsyncSession, mock: aioresponses) -> None:
    """A 403 for a missing OAuth scope is PermissionDeniedError."""
    mock.post(
        f"{LYRA}/meeting", status=403, payload={"error": "Insufficient scope: meeting.create"}
    )
    with pytest.raises(lm.PermissionDeniedError, match=r"meeting\.create"):
        await session.lyra.meetings.create("Kickoff")


async def test_server_error_not_retried(session: lm.AsyncSession, mock: aioresponses) -> None:
    """Lyra's 500 "could not create" is raised once, not retried (it may exist)."""
    mock.post(f"{LYRA}/meeting", status=500, payload={"error": "Failed to create meeting"})
    with pytest.raises(lm.ServerError, match="Failed to create meeting"):
        await session.lyra.meetings.create("Kickoff")
    assert len(sent(mock, "POST", f"{LYRA}/meeting")) == 1


async def test_response_missing_field(session: lm.AsyncSession, mock: aioresponses) -> None:
    """A created meeting without an id is a ResponseValidationError naming $.id."""
    mock.post(
        f"{LYRA}/meeting", payload={"type": "lyra_video", "url": "https://app.lyra.so/meeting/x"}
    )
    with pytest.raises(lm.ResponseValidationError) as info:
        await session.lyra.meetings.create("Kickoff")
    assert any("$.id" in p for p in info.value.path)


async def test_unknown_fields_tolerated(session: lm.AsyncSession, mock: aioresponses) -> None:
    """Fields Lyra adds later are ignored."""
    mock.post(f"{LYRA}/meeting", payload={**MEETING, "host": {"id": "u1"}, "type": "lyra_audio"})
    meeting = await session.lyra.meetings.create("Kickoff")
    assert meeting.type == "lyra_audio"


def test_meeting_request_normalises_attendees() -> None:
    """MeetingRequest accepts one email or many and stores a tuple."""
    assert lm.lyra.MeetingRequest("T", attendees="a@b.co").attendees == ("a@b.co",)
    assert lm.lyra.MeetingRequest("T", attendees=["a@b.co", "c@d.co"]).attendees == (
        "a@b.co",
        "c@d.co",
    )
    assert lm.lyra.MeetingRequest("T", start=datetime(2026, 1, 1, tzinfo=UTC)).attendees == ()
