"""Bad input is refused before any request is sent, naming the parameter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aioresponses import aioresponses

import lyra_mavera as lm
from lyra_mavera.mavera._links import check_meeting_url
from lyra_mavera.testing import FakeServer

AWARE = datetime(2030, 1, 1, 12, tzinfo=UTC)
NAIVE = datetime(2030, 1, 1, 12)
ZOOM = "https://zoom.us/j/123456789"

Call = Callable[[lm.AsyncSession], Awaitable[Any]]

BAD_CALLS: list[tuple[str, Call, str]] = [
    ("lyra title empty", lambda s: s.lyra.meetings.create(""), "title"),
    ("lyra title blank", lambda s: s.lyra.meetings.create("   \t"), "title"),
    ("lyra title not str", lambda s: s.lyra.meetings.create(42), "title"),  # type: ignore[arg-type]
    ("lyra title 100KB", lambda s: s.lyra.meetings.create("x" * 100_000), "title"),
    ("lyra title newline", lambda s: s.lyra.meetings.create("a\nb"), "title"),
    ("lyra naive start", lambda s: s.lyra.meetings.create("T", start=NAIVE), "start"),
    (
        "lyra start string",
        lambda s: s.lyra.meetings.create("T", start="2030-01-01T00:00:00Z"),
        "start",
    ),  # type: ignore[arg-type]
    (
        "lyra bad email",
        lambda s: s.lyra.meetings.create("T", attendees="not-an-email"),
        "attendees",
    ),
    (
        "lyra bad email in list",
        lambda s: s.lyra.meetings.create("T", attendees=["a@b.co", "x@"]),
        "attendees[1]",
    ),
    ("lyra email not str", lambda s: s.lyra.meetings.create("T", attendees=[1]), "attendees[0]"),  # type: ignore[list-item]
    ("lyra attendees int", lambda s: s.lyra.meetings.create("T", attendees=5), "attendees"),  # type: ignore[arg-type]
    (
        "mavera http link",
        lambda s: s.mavera.meetings.create("http://zoom.us/j/85000001"),
        "meeting_url",
    ),
    (
        "mavera look-alike host",
        lambda s: s.mavera.meetings.create("https://zoom.us.evil.example/j/1"),
        "meeting_url",
    ),
    (
        "mavera look-alike meet",
        lambda s: s.mavera.meetings.create("https://meet.google.com.evil.example/abc-defg-hij"),
        "meeting_url",
    ),
    (
        "mavera unsupported host",
        lambda s: s.mavera.meetings.create("https://whereby.com/room"),
        "meeting_url",
    ),
    (
        "mavera zoom start link",
        lambda s: s.mavera.meetings.create("https://zoom.us/s/123456789"),
        "meeting_url",
    ),
    (
        "mavera meet lookup",
        lambda s: s.mavera.meetings.create("https://meet.google.com/lookup/abc"),
        "meeting_url",
    ),
    ("mavera link not str", lambda s: s.mavera.meetings.create(None), "meeting_url"),  # type: ignore[arg-type]
    ("mavera naive join_at", lambda s: s.mavera.meetings.create(ZOOM, join_at=NAIVE), "join_at"),
    ("mavera blank title", lambda s: s.mavera.meetings.create(ZOOM, title=" "), "title"),
    (
        "mavera bot name newline",
        lambda s: s.mavera.meetings.create(ZOOM, bot_name="Bot\r\nX-Evil: 1"),
        "bot_name",
    ),
    (
        "mavera workspace blank",
        lambda s: s.mavera.meetings.create(ZOOM, workspace_id=""),
        "workspace_id",
    ),
    ("mavera get empty id", lambda s: s.mavera.meetings.get(""), "meeting_id"),
    ("mavera get id newline", lambda s: s.mavera.meetings.get("m1\n"), "meeting_id"),
    ("mavera get id int", lambda s: s.mavera.meetings.get(123), "meeting_id"),  # type: ignore[arg-type]
    (
        "mavera cancel long reason",
        lambda s: s.mavera.meetings.cancel("m1", reason="r" * 501),
        "reason",
    ),
    (
        "mavera transcript format",
        lambda s: s.mavera.meetings.transcript("m1", format="pdf"),
        "format",
    ),
    (
        "mavera transcript negative",
        lambda s: s.mavera.meetings.transcript("m1", start_time=-1),
        "start_time",
    ),
    (
        "mavera transcript window",
        lambda s: s.mavera.meetings.transcript("m1", start_time=5, end_time=5),
        "end_time",
    ),
    (
        "mavera transcript nan",
        lambda s: s.mavera.meetings.transcript("m1", end_time=float("nan")),
        "end_time",
    ),
    ("mavera schema id blank", lambda s: s.mavera.meetings.run_schema("m1", " "), "schema_id"),
    (
        "mavera temperature high",
        lambda s: s.mavera.meetings.run_schema("m1", "s1", temperature=2.5),
        "temperature",
    ),
    (
        "mavera temperature bool",
        lambda s: s.mavera.meetings.run_schema("m1", "s1", temperature=True),
        "temperature",
    ),
    (
        "mavera force_new str",
        lambda s: s.mavera.meetings.run_schema("m1", "s1", force_new="false"),
        "force_new",
    ),  # type: ignore[arg-type]
    ("mavera workspace get blank", lambda s: s.mavera.workspaces.get(""), "workspace_id"),
    (
        "mavera include_members str",
        lambda s: s.mavera.workspaces.list(include_members="yes"),
        "include_members",
    ),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("case", "call", "param"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
async def test_bad_input_sends_nothing(
    session: lm.AsyncSession, mock: aioresponses, case: str, call: Call, param: str
) -> None:
    """Each bad argument raises ValidationError naming it, and no request leaves."""
    with pytest.raises(lm.ValidationError) as info:
        await call(session)
    assert info.value.param == param, str(info.value)
    assert str(info.value).startswith(param + ":")
    assert not mock.requests


@pytest.mark.parametrize(("case", "call", "param"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
async def test_bad_input_reaches_no_server(case: str, call: Call, param: str) -> None:
    """The same table against the real FakeServer: its request log stays empty."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        with pytest.raises(lm.ValidationError):
            await call(s)
        assert fake.requests == []


MORE_BAD_CALLS: list[tuple[str, Call, str]] = [
    ("lyra create_many not iterable", lambda s: s.lyra.meetings.create_many(3), "requests"),  # type: ignore[arg-type]
    (
        "lyra create_many concurrency",
        lambda s: s.lyra.meetings.create_many([], concurrency=0),
        "concurrency",
    ),
    (
        "mavera create_many concurrency bool",
        lambda s: s.mavera.meetings.create_many([], concurrency=True),
        "concurrency",
    ),
    ("mavera wait timeout str", lambda s: s.mavera.meetings.wait("m1", timeout="5"), "timeout"),  # type: ignore[arg-type]
    ("mavera wait id blank", lambda s: s.mavera.meetings.wait(" "), "meeting_id"),
    ("mavera wait_many str", lambda s: s.mavera.meetings.wait_many("m1"), "meeting_ids"),
    (
        "mavera wait_many bad id",
        lambda s: s.mavera.meetings.wait_many(["m1", None]),
        "meeting_ids[1]",
    ),  # type: ignore[list-item]
    (
        "mavera transcript start str",
        lambda s: s.mavera.meetings.transcript("m1", start_time="0"),
        "start_time",
    ),  # type: ignore[arg-type]
    (
        "mavera run_schema model blank",
        lambda s: s.mavera.meetings.run_schema("m1", "s1", model=""),
        "model",
    ),
    (
        "mavera cancel reason newline",
        lambda s: s.mavera.meetings.cancel("m1", reason="a\r\nX-Evil: 1"),
        "reason",
    ),
]


@pytest.mark.parametrize(
    ("case", "call", "param"), MORE_BAD_CALLS, ids=[c[0] for c in MORE_BAD_CALLS]
)
async def test_more_bad_input(case: str, call: Call, param: str) -> None:
    """Bulk and polling arguments are checked too, before anything is sent."""
    async with FakeServer(rpm=None) as fake, fake.session() as s:
        with pytest.raises(lm.ValidationError) as info:
            await call(s)
        assert info.value.param == param
        assert fake.requests == []


def test_error_says_how_to_fix() -> None:
    """The naive-datetime message shows the fix."""
    from lyra_mavera._validate import check_aware_datetime

    with pytest.raises(lm.ValidationError, match=r"tzinfo=datetime\.timezone\.utc"):
        check_aware_datetime("start", NAIVE)


GOOD_LINKS = [
    ("https://zoom.us/j/123456789?pwd=abcDEF", "zoom"),
    ("https://us02web.zoom.us/j/85512345678?pwd=x", "zoom"),
    ("https://acme.zoom.us/my/alex", "zoom"),
    ("https://zoom.us/w/123?tk=abc", "zoom"),
    ("https://zoom.us/wc/join/123", "zoom"),
    ("https://zoomgov.com/j/1612345678", "zoom"),
    ("https://meet.google.com/abc-defg-hij", "google_meet"),
    (
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9v%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%2c%22Oid%22%3a%22o%22%7d",
        "microsoft_teams",
    ),
    ("https://teams.live.com/meet/9876543210?p=AbCdEf", "microsoft_teams"),
    (
        "https://teams.microsoft.com/dl/launcher/launcher.html?url=%2F_%23%2Fl%2Fmeetup-join%2F19%3Ameeting_x%40thread.v2%2F0&type=meetup-join",
        "microsoft_teams",
    ),
    ("https://gov.teams.microsoft.us/meet/123?p=x", "microsoft_teams"),
    ("https://acme.webex.com/meet/alex", "webex"),
    ("https://acme.my.webex.com/join/alex", "webex"),
    ("https://acme.webex.com/acme/j.php?MTID=m0123456789abcdef", "webex"),
    ("<https://zoom.us/j/123456789>", "zoom"),
    ("https://zoom.us/j/123456789.", "zoom"),
    ("https%3A%2F%2Fzoom.us%2Fj%2F123456789", "zoom"),
    ("https%253A%252F%252Fmeet.google.com%252Fabc-defg-hij", "google_meet"),
    ("HTTPS://ZOOM.US/j/123456789", "zoom"),
]


@pytest.mark.parametrize(("link", "platform"), GOOD_LINKS)
def test_links_accepted(link: str, platform: str) -> None:
    """Real link forms of the four platforms pass, cleaned of mail-client wrapping."""
    cleaned, found = check_meeting_url("meeting_url", link)
    assert found == platform
    assert cleaned.lower().startswith("https://")


BAD_LINKS = [
    "https://zoom.us.evil.example/j/1",
    "https://evilzoom.us/j/85000001",
    "https://meet.google.com.evil.example/abc-defg-hij",
    "https://notmeet.google.com/abc-defg-hij",
    "https://teams.microsoft.com.evil.example/l/meetup-join/x",
    "https://webex.com.evil.example/meet/x",
    "https://webex.com/meet/x",
    "https://zoom.us/s/123456789",
    "https://acme.zoom.us/s/123?zak=abc",
    "https://meet.google.com/lookup/abcdef",
    "https://meet.google.com/new",
    "https://meet.google.com/",
    "http://meet.google.com/abc-defg-hij",
    "javascript:alert(1)",
    "https://user:pw@zoom.us/j/85000001",
    "https://zoom.us/j/85000001?redirect=https://evil.example",
    "https://zoom.us/j/85000001 2",
    "zoom.us/j/8500000123",
    "https://zoom.us:99999/j/1",
    "",
]


@pytest.mark.parametrize("link", BAD_LINKS)
def test_links_refused(link: str) -> None:
    """Look-alike hosts, start links, plain http and redirect wrappers are refused."""
    with pytest.raises(lm.ValidationError) as info:
        check_meeting_url("meeting_url", link)
    assert info.value.param == "meeting_url"


async def test_skip_link_check(session: lm.AsyncSession, mock: aioresponses) -> None:
    """skip_link_check=True sends a link the local check would refuse."""
    mock.post("https://app.mavera.io/api/v1/meetings", payload={"id": "m1", "status": "pending"})
    meeting = await session.mavera.meetings.create(
        "https://meet.newvendor.example/room", skip_link_check=True
    )
    assert meeting.id == "m1"


async def test_past_join_at_is_sent(session: lm.AsyncSession, mock: aioresponses) -> None:
    """A join_at in the past is sent unchanged: Mavera then joins right away (documented)."""
    mock.post("https://app.mavera.io/api/v1/meetings", payload={"id": "m1", "status": "pending"})
    await session.mavera.meetings.create(ZOOM, join_at=datetime(2001, 1, 1, tzinfo=UTC))
    assert len(mock.requests) == 1
