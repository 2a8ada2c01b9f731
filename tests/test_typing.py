"""Types that help, proven at run time through the public API (the static side is
tests/typecheck/, checked by test_readme.py): statuses are members or raw strings, and
bulk results are a BulkOk or a BulkFailed."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator

import attrs
import pytest
from aioresponses import aioresponses

import lyra_mavera as lm
from lyra_mavera.mavera import MeetingStatus
from lyra_mavera.testing import FakeServer
from tests.conftest import MAVERA


async def test_documented_statuses_are_members_and_unknown_ones_stay_raw_strings(
    mock: aioresponses, session: lm.AsyncSession
) -> None:
    """A status from the server is the MeetingStatus member when documented, and the exact
    raw str (not an enum, not a str subclass) when it is not."""
    url = MAVERA + "/meetings/bot_1"
    mock.get(url, payload={"id": "bot_1", "object": "meeting", "status": "done"})
    mock.get(url, payload={"id": "bot_1", "object": "meeting", "status": "paused_by_host"})
    known = await session.mavera.meetings.get("bot_1")
    unknown = await session.mavera.meetings.get("bot_1")
    assert known.status is MeetingStatus.DONE
    assert type(unknown.status) is str and unknown.status == "paused_by_host"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("done", MeetingStatus.DONE), (MeetingStatus.FATAL, MeetingStatus.FATAL)],
)
def test_models_built_by_hand_normalise_documented_statuses(
    given: str, expected: MeetingStatus
) -> None:
    """Meeting and Cancellation turn a documented plain string into its member."""
    assert lm.mavera.Meeting("bot_1", given).status is expected
    assert lm.mavera.Cancellation("bot_1", given).status is expected
    assert attrs.evolve(lm.mavera.Meeting("bot_1", "pending"), status=given).status is expected


def test_match_on_members_reads_naturally() -> None:
    """A match over MeetingStatus members picks the member; an unknown status falls to str()."""

    def kind(meeting: lm.mavera.Meeting) -> str:
        match meeting.status:
            case MeetingStatus.DONE:
                return "done"
            case MeetingStatus():
                return "known"
            case str():
                return "unknown"

    assert [kind(lm.mavera.Meeting("b", s)) for s in ("done", "joining_call", "x")] == [
        "done",
        "known",
        "unknown",
    ]


async def test_bulk_results_are_ok_or_failed(fake_for_bulk: FakeServer) -> None:
    """create_many gives a BulkOk (value set, error None) per created item and a BulkFailed
    (error set, value None) per failed one; both are BulkResults, match by kind, pickle."""
    requests = [lm.lyra.MeetingRequest("Fine"), lm.lyra.MeetingRequest("  ")]
    async with fake_for_bulk.session() as s:
        results = await s.lyra.meetings.create_many(requests)
    ok, failed = results
    assert isinstance(ok, lm.BulkOk) and isinstance(failed, lm.BulkFailed)
    assert all(isinstance(r, lm.BulkResult) for r in results)
    assert (ok.ok, ok.error, ok.index, ok.request) == (True, None, 0, requests[0])
    assert ok.value is not None and ok.value.id in fake_for_bulk.lyra_meetings
    assert (failed.ok, failed.value, failed.index) == (False, None, 1)
    assert isinstance(failed.error, lm.ValidationError)
    kinds = []
    for r in results:
        match r:
            case lm.BulkOk(value=meeting):
                kinds.append(meeting.id)
            case lm.BulkFailed(error=error):
                kinds.append(type(error).__name__)
    assert kinds == [ok.value.id, "ValidationError"]
    assert pickle.loads(pickle.dumps(ok)) == ok
    assert lm.BulkResult[lm.lyra.Meeting] is not None  # usable as an annotation


@pytest.fixture
async def fake_for_bulk() -> AsyncIterator[FakeServer]:
    async with FakeServer(rpm=None) as server:
        yield server
