"""The Lyra provider: verify and create, their bodies and their errors.

Requests go to FakeServer (real sockets); answers it never gives -- a missing or null
password, a field Lyra may add later, a created meeting without an id, Lyra's own 500
text -- come from an :class:`~tests.adversary.Adversary` sending exactly that body.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import lyra_mavera as lm
from lyra_mavera.testing import FakeServer
from tests.adversary import Adversary, answering
from tests.conftest import LYRA_KEY

MEETING = {
    "type": "lyra_video",
    "id": "meeting_123",
    "password": "",
    "url": "https://app.lyra.so/meeting/abc-def-ghi",
}


def lyra_at(adversary: Adversary) -> lm.AsyncSession:
    """A session whose Lyra calls go to ``adversary``."""
    return lm.AsyncSession(lyra_api_key=LYRA_KEY, lyra_base_url=adversary.base_url)


def _body(fake: FakeServer) -> dict[str, Any]:
    """The JSON body of the one POST /meeting the fake received."""
    (call,) = fake.requests_to("POST", "/meeting")
    return call.json()  # type: ignore[no-any-return]


async def test_verify(fake: FakeServer) -> None:
    """verify() returns who the key belongs to."""
    async with fake.session() as s:
        identity = await s.lyra.auth.verify()
    info = fake.key_info(fake.lyra_api_key)
    assert identity == lm.lyra.Identity(valid=True, user_id=info.user_id, org_id=info.org_id)
    (call,) = fake.requests_to("POST", "/auth")
    assert call.body == b""


async def test_verify_invalid_key(fake: FakeServer) -> None:
    """An invalid key is an AuthenticationError carrying Lyra's message."""
    async with fake.session(lyra_api_key=LYRA_KEY) as s:  # a key the fake never issued
        with pytest.raises(lm.AuthenticationError) as info:
            await s.lyra.auth.verify()
    assert info.value.message == "Missing or invalid token" and info.value.provider == "lyra"


async def test_create_minimal(fake: FakeServer) -> None:
    """Only the title is sent when nothing else is given."""
    async with fake.session() as s:
        meeting = await s.lyra.meetings.create("Customer kickoff")
    (meeting_id,) = fake.lyra_meetings
    assert meeting == lm.lyra.Meeting(
        type="lyra_video", id=meeting_id, password="", url=meeting.url
    )
    assert re.fullmatch(r"https://app\.lyra\.so/meeting/\w{3}-\w{3}-\w{3}", meeting.url)
    assert not meeting.has_password
    assert _body(fake) == {"title": "Customer kickoff"}


async def test_create_full(fake: FakeServer) -> None:
    """start goes out as UTC with milliseconds; attendees always as a list."""
    start = datetime(2026, 2, 3, 16, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    async with fake.session() as s:
        await s.lyra.meetings.create("Kickoff", start=start, attendees="alex@acme.com")
    assert _body(fake) == {
        "title": "Kickoff",
        "start": "2026-02-03T15:00:00.123Z",
        "attendees": ["alex@acme.com"],
    }


async def test_create_many_attendees(fake: FakeServer) -> None:
    """An iterable of attendees is sent as a list in order."""
    async with fake.session() as s:
        await s.lyra.meetings.create(
            "Kickoff", attendees=(a for a in ["alex@acme.com", "sam@acme.com"])
        )
    assert _body(fake)["attendees"] == ["alex@acme.com", "sam@acme.com"]


async def test_create_empty_attendees_omitted(fake: FakeServer) -> None:
    """An empty attendee list is the same as none: the field is omitted."""
    async with fake.session() as s:
        await s.lyra.meetings.create("Kickoff", attendees=[])
    assert "attendees" not in _body(fake)


@pytest.mark.parametrize("password", [None, "MISSING", "s3cret"])
async def test_password_variants(password: str | None) -> None:
    """A missing or null password reads as "", a real one is kept."""
    body = dict(MEETING)
    if password == "MISSING":
        del body["password"]
    else:
        body["password"] = password  # type: ignore[assignment]
    async with Adversary(answering(body)) as adversary, lyra_at(adversary) as s:
        meeting = await s.lyra.meetings.create("Kickoff")
    assert meeting.password == (password if password == "s3cret" else "")


async def test_scope_error(fake: FakeServer) -> None:
    """A 403 for a missing OAuth scope is PermissionDeniedError."""
    read_only = fake.add_key("lyra", scopes=frozenset({"meeting.read"}))
    async with fake.session(lyra_api_key=read_only) as s:
        with pytest.raises(lm.PermissionDeniedError, match=r"meeting\.create"):
            await s.lyra.meetings.create("Kickoff")


async def test_server_error_not_retried() -> None:
    """Lyra's 500 "could not create" is raised once, not retried (it may exist)."""
    failed = answering({"error": "Failed to create meeting"}, status=500)
    async with Adversary(failed) as adversary, lyra_at(adversary) as s:
        with pytest.raises(lm.ServerError, match="Failed to create meeting"):
            await s.lyra.meetings.create("Kickoff")
    assert adversary.count("POST", "/meeting") == 1


async def test_response_missing_field() -> None:
    """A created meeting without an id is a ResponseValidationError naming $.id."""
    no_id = answering({"type": "lyra_video", "url": "https://app.lyra.so/meeting/x"})
    async with Adversary(no_id) as adversary, lyra_at(adversary) as s:
        with pytest.raises(lm.ResponseValidationError) as info:
            await s.lyra.meetings.create("Kickoff")
    assert any("$.id" in p for p in info.value.path)


async def test_unknown_fields_tolerated() -> None:
    """Fields Lyra adds later are ignored."""
    newer = answering({**MEETING, "host": {"id": "u1"}, "type": "lyra_audio"})
    async with Adversary(newer) as adversary, lyra_at(adversary) as s:
        meeting = await s.lyra.meetings.create("Kickoff")
    assert meeting.type == "lyra_audio"


def test_meeting_request_normalises_attendees() -> None:
    """MeetingRequest accepts one email or many and stores a tuple."""
    assert lm.lyra.MeetingRequest("T", attendees="a@b.co").attendees == ("a@b.co",)
    assert lm.lyra.MeetingRequest("T", attendees=["a@b.co", "c@d.co"]).attendees == (
        "a@b.co",
        "c@d.co",
    )
    assert lm.lyra.MeetingRequest("T", start=datetime(2026, 1, 1, tzinfo=UTC)).attendees == ()
