"""FakeServer behaves like the documented services: lifecycle, validation, limits, faults."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

import lyra_mavera as lm
from lyra_mavera.mavera import MeetingStatus
from lyra_mavera.testing import BotScript, FakeServer

ZOOM = "https://zoom.us/j/111222333"
HAPPY = [
    "pending",
    "joining_call",
    "in_waiting_room",
    "in_call_not_recording",
    "in_call_recording",
    "call_ended",
    "recording_done",
    "done",
]
# One fake second per step keeps the walk through the lifecycle short and exact.
STEP = BotScript(durations=dict.fromkeys(HAPPY[:-1], 10.0))


pytestmark = pytest.mark.fake(time_scale=1e-6, script=STEP, rpm=None)


@pytest.fixture
async def s(fake: FakeServer) -> AsyncIterator[lm.AsyncSession]:
    async with fake.session() as session:
        yield session


async def test_bot_walks_the_lifecycle(fake: FakeServer, s: lm.AsyncSession) -> None:
    """A bot moves through the eight happy-path statuses as the clock advances."""
    bot = await s.mavera.meetings.create(ZOOM)
    seen = []
    for _ in HAPPY:
        seen.append((await s.mavera.meetings.get(bot.id)).status)
        fake.clock.advance(10.0)
    assert seen == HAPPY
    assert (await s.mavera.meetings.get(bot.id)).status is MeetingStatus.DONE


async def test_join_at_holds_pending(fake: FakeServer, s: lm.AsyncSession) -> None:
    """A bot whose join_at is an hour away stays pending until then."""
    join_at = fake.clock.now_datetime() + timedelta(hours=1)
    bot = await s.mavera.meetings.create(ZOOM, join_at=join_at)
    assert bot.join_type == "scheduled"
    fake.clock.advance(3599)
    assert (await s.mavera.meetings.get(bot.id)).status == "pending"
    fake.clock.advance(11)
    assert (await s.mavera.meetings.get(bot.id)).status == "joining_call"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"fatal_at": "in_waiting_room"}, ["pending", "joining_call", "fatal", "fatal"]),
        (
            {"stuck_in_waiting_room": True},
            ["pending", "joining_call", "in_waiting_room", "in_waiting_room"],
        ),
        (
            {"permission_denied": True, "permission_denied_for": 10.0},
            ["in_call_not_recording", "recording_permission_denied", "fatal"],
        ),
        (
            {
                "permission_denied": True,
                "permission_denied_for": 10.0,
                "permission_then": "in_call_recording",
            },
            ["in_call_not_recording", "recording_permission_denied", "in_call_recording"],
        ),
        ({"media_expired_after": 10.0}, ["done", "media_expired"]),
    ],
)
async def test_scripted_outcomes(
    fake: FakeServer, s: lm.AsyncSession, options: dict[str, object], expected: list[str]
) -> None:
    """Per-link scripts produce fatal, permission-denied, stuck and expired bots."""
    fake.script(ZOOM, **options)
    bot = await s.mavera.meetings.create(ZOOM)
    skip = {"permission_denied": 3, "media_expired_after": 7}.get(next(iter(options)), 0)
    fake.clock.advance(10.0 * skip)
    seen = []
    for _ in expected:
        seen.append((await s.mavera.meetings.get(bot.id)).status)
        fake.clock.advance(10.0)
    assert seen == expected


async def test_scripts_apply_per_link(fake: FakeServer, s: lm.AsyncSession) -> None:
    """A script for one link leaves other links on the default script."""
    fake.script("https://meet.google.com/abc-defg-hij", fatal_at="joining_call")
    bad = await s.mavera.meetings.create("https://meet.google.com/abc-defg-hij")
    good = await s.mavera.meetings.create(ZOOM)
    fake.clock.advance(10.0)
    assert (await s.mavera.meetings.get(bad.id)).status == "fatal"
    assert (await s.mavera.meetings.get(good.id)).status == "joining_call"


async def test_cancel(fake: FakeServer, s: lm.AsyncSession) -> None:
    """Cancel stops a live bot; a final bot refuses with 400 meeting_not_cancellable."""
    bot = await s.mavera.meetings.create(ZOOM)
    fake.clock.advance(25)
    cancelled = await s.mavera.meetings.cancel(bot.id, reason="Rescheduled")
    assert cancelled.status is MeetingStatus.CANCELLED and cancelled.cancel_reason == "Rescheduled"
    fake.clock.advance(100)
    got = await s.mavera.meetings.get(bot.id)
    assert (
        got.status == "cancelled"
        and got.cancel_reason == "Rescheduled"
        and got.cancelled_at is not None
    )
    with pytest.raises(lm.BadRequestError) as info:
        await s.mavera.meetings.cancel(bot.id)
    assert info.value.code == "meeting_not_cancellable"


async def test_transcript_and_analysis_wait_for_done(fake: FakeServer, s: lm.AsyncSession) -> None:
    """Before done: 400 meeting_not_ready; after: transcript in three formats and analysis."""
    bot = await s.mavera.meetings.create(ZOOM)
    for call in (s.mavera.meetings.transcript(bot.id), s.mavera.meetings.analysis(bot.id)):
        with pytest.raises(lm.BadRequestError) as info:
            await call
        assert info.value.code == "meeting_not_ready"
    fake.clock.advance(70)
    segments = await s.mavera.meetings.transcript(bot.id)
    assert segments.segments and segments.segments[0].word_timestamps
    window = await s.mavera.meetings.transcript(bot.id, start_time=5, end_time=10)
    assert [seg.start for seg in window.segments] == [5.0]
    assert "Alex:" in (await s.mavera.meetings.transcript(bot.id, format="text")).text
    assert "-->" in (await s.mavera.meetings.transcript(bot.id, format="srt")).text
    assert (await s.mavera.meetings.analysis(bot.id))["coaching"]["questions_asked"] == 2


async def test_run_schema_reuses_unless_forced(fake: FakeServer, s: lm.AsyncSession) -> None:
    """A schema run is reused on repeat and recomputed with force_new."""
    bot = await s.mavera.meetings.create(ZOOM)
    fake.clock.advance(70)
    first = await s.mavera.meetings.run_schema(bot.id, "schema_sales_discovery")
    again = await s.mavera.meetings.run_schema(bot.id, "schema_sales_discovery", temperature=0.5)
    forced = await s.mavera.meetings.run_schema(bot.id, "schema_sales_discovery", force_new=True)
    assert first.id == again.id != forced.id
    with pytest.raises(lm.NotFoundError):
        await s.mavera.meetings.run_schema(bot.id, "schema_nope")


async def test_pagination_and_workspace_filter(fake: FakeServer, s: lm.AsyncSession) -> None:
    """250 bots come back newest first over three pages; workspace_id filters."""
    created = [
        await s.mavera.meetings.create(
            f"https://zoom.us/j/8500000{i}", workspace_id="ws_sales" if i % 5 == 0 else None
        )
        for i in range(250)
    ]
    listed = [m.id async for m in s.mavera.meetings.list()]
    assert listed == [b.id for b in reversed(created)]
    assert len(fake.requests_to("GET", "/meetings")) == 3
    sales = [m.workspace_id async for m in s.mavera.meetings.list(workspace_id="ws_sales")]
    assert len(sales) == 50 and set(sales) == {"ws_sales"}


async def test_other_keys_do_not_see_bots(fake: FakeServer, s: lm.AsyncSession) -> None:
    """Bots belong to the key that created them."""
    bot = await s.mavera.meetings.create(ZOOM)
    other_key = fake.add_key("mavera")
    async with fake.session(mavera_api_key=other_key) as other:
        assert [m async for m in other.mavera.meetings.list()] == []
        with pytest.raises(lm.NotFoundError):
            await other.mavera.meetings.get(bot.id)


async def test_unknown_workspace(s: lm.AsyncSession) -> None:
    """Creating into an unknown workspace is a 404 naming workspace_id."""
    with pytest.raises(lm.NotFoundError) as info:
        await s.mavera.meetings.create(ZOOM, workspace_id="ws_nope")
    assert info.value.param == "workspace_id"


async def test_server_refuses_unsupported_link(s: lm.AsyncSession) -> None:
    """With the local check skipped, the server is the judge: 400 invalid_field."""
    with pytest.raises(lm.BadRequestError) as info:
        await s.mavera.meetings.create("https://whereby.com/room", skip_link_check=True)
    assert (info.value.code, info.value.param) == ("invalid_field", "meeting_url")


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({}, "missing_field", "meeting_url"),
        ({"meeting_url": 5}, "invalid_field", "meeting_url"),
        ({"meeting_url": ZOOM, "join_at": "tomorrow"}, "invalid_field", "join_at"),
        ({"meeting_url": ZOOM, "join_at": "2026-01-01T10:00:00"}, "invalid_field", "join_at"),
        ({"meeting_url": ZOOM, "title": 7}, "invalid_field", "title"),
        ({"meeting_url": ZOOM, "colour": "red"}, "invalid_field", "colour"),
    ],
)
async def test_server_validates_create_bodies(
    fake: FakeServer, s: lm.AsyncSession, body: dict[str, object], code: str, param: str
) -> None:
    """Raw bodies the SDK would never send are refused in Mavera's error shape."""
    with pytest.raises(lm.BadRequestError) as info:
        await s.request("mavera", "POST", "/meetings", json_body=body)
    assert (info.value.code, info.value.param) == (code, param)
    assert len(fake.bots) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "T", "start": "soon"},
        {"title": "T", "attendees": "nope"},
        {"title": "T", "attendees": ["a@b.co", 3]},
    ],
)
async def test_lyra_validates_bodies(
    fake: FakeServer, s: lm.AsyncSession, body: dict[str, object]
) -> None:
    """Lyra answers 400 with {"error": "..."} for bad bodies."""
    with pytest.raises(lm.BadRequestError) as info:
        await s.request("lyra", "POST", "/meeting", json_body=body)
    assert info.value.code is None and info.value.message
    assert fake.lyra_meetings == {}


async def test_lyra_flow(s: lm.AsyncSession) -> None:
    """verify and create work against the fake Lyra."""
    identity = await s.lyra.auth.verify()
    assert identity.valid and identity.user_id.startswith("user_")
    meeting = await s.lyra.meetings.create(
        "Kickoff", start=datetime(2030, 1, 1, tzinfo=UTC), attendees=["a@b.co", "c@d.co"]
    )
    assert meeting.type == "lyra_video" and meeting.url.startswith("https://app.lyra.so/meeting/")


async def test_auth_errors(fake: FakeServer) -> None:
    """Missing, unknown and revoked keys get their documented 401 codes."""
    async with aiohttp.ClientSession() as raw:
        async with raw.get(fake.mavera_base_url + "/usage") as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "missing_api_key"
        async with raw.post(fake.lyra_base_url + "/auth") as resp:
            assert resp.status == 401 and await resp.json() == {
                "valid": False,
                "error": "Missing or invalid token",
            }
    async with fake.session(
        mavera_api_key="mvra_live_" + "0" * 32, lyra_api_key="lyra_" + "0" * 32
    ) as s:
        with pytest.raises(lm.AuthenticationError) as info:
            await s.mavera.usage.get()
        assert info.value.code == "invalid_api_key"
        with pytest.raises(lm.AuthenticationError):
            await s.lyra.auth.verify()
    revoked = fake.add_key("mavera")
    fake.revoke_key(revoked)
    async with fake.session(mavera_api_key=revoked) as s:
        with pytest.raises(lm.AuthenticationError) as info:
            await s.mavera.usage.get()
        assert info.value.code == "revoked_api_key"


async def test_rate_limit_headers_and_429(fake: FakeServer) -> None:
    """Every Mavera answer has X-RateLimit-*; past the limit comes 429 with Retry-After."""
    key = fake.add_key("mavera", rpm=3)
    async with fake.session(
        mavera_api_key=key, retry=lm.RetryPolicy(attempts=1), rate_limit=False
    ) as s:
        remaining = []
        for _ in range(3):
            response = await s.request("mavera", "GET", "/usage")
            assert response.headers["X-RateLimit-Limit"] == "3"
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining == [2, 1, 0]
        with pytest.raises(lm.RateLimitError) as info:
            await s.mavera.usage.get()
    err = info.value
    assert (
        err.code == "rate_limit_exceeded"
        and err.retry_after is not None
        and 1 <= err.retry_after <= 60
    )
    assert err.rate_limit is not None and (err.rate_limit.limit, err.rate_limit.remaining) == (3, 0)
    assert fake.counters["rate_limited"] == 1


async def test_usage_reports_the_key_limit(fake: FakeServer) -> None:
    """GET /usage reports the key's own requests-per-minute."""
    key = fake.add_key("mavera", rpm=600)
    async with fake.session(mavera_api_key=key) as s:
        usage = await s.mavera.usage.get()
    assert usage.rate_limit is not None and usage.rate_limit.requests_per_minute == 600


async def test_unknown_route_in_provider_shape(s: lm.AsyncSession) -> None:
    """An unknown route is a 404 in the provider's error shape."""
    with pytest.raises(lm.NotFoundError) as info:
        await s.request("mavera", "GET", "/nothing-here")
    assert info.value.code == "resource_not_found"


async def test_request_log(fake: FakeServer, s: lm.AsyncSession) -> None:
    """The fake records method, route, body and status of what it received."""
    await s.mavera.meetings.create(ZOOM, title="Logged")
    (record,) = fake.requests_to("POST", "/meetings")
    assert record.json() == {"meeting_url": ZOOM, "title": "Logged"}
    assert record.status == 201 and record.key == fake.mavera_api_key
    assert "Logged" not in repr(record)


async def test_key_only_in_authorization_header(fake: FakeServer, s: lm.AsyncSession) -> None:
    """Across every endpoint, the key reaches the server only in Authorization."""
    await s.lyra.auth.verify()
    await s.lyra.meetings.create("T")
    bot = await s.mavera.meetings.create(ZOOM, title="t")
    await s.mavera.meetings.get(bot.id)
    _ = [m async for m in s.mavera.meetings.list()]
    await s.mavera.meetings.cancel(bot.id, reason="r")
    await s.mavera.workspaces.list()
    await s.mavera.usage.get()
    assert len(fake.requests) == 8
    for record in fake.requests:
        key = fake.lyra_api_key if record.provider == "lyra" else fake.mavera_api_key
        assert record.headers["Authorization"] == f"Bearer {key}"
        elsewhere = (
            json.dumps(
                [
                    record.path,
                    record.query,
                    {k: v for k, v in record.headers.items() if k != "Authorization"},
                ]
            )
            + record.body.decode()
        )
        assert key not in elsewhere and key[10:] not in elsewhere
