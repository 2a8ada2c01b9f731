"""Checked by mypy --strict in test_readme.py (never run): what the public types promise."""

from __future__ import annotations

from typing import assert_never, assert_type

import lyra_mavera as lm
from lyra_mavera.mavera import MeetingStatus, UnknownStatus


def status_is_members_or_unknown(meeting: lm.mavera.Meeting) -> None:
    assert_type(meeting.status, MeetingStatus | UnknownStatus)
    if meeting.status == MeetingStatus.DONE or meeting.status == "done":
        return
    match meeting.status:
        case MeetingStatus.PENDING | MeetingStatus.JOINING_CALL:
            return
        case MeetingStatus():
            assert_type(meeting.status.value, str)
        case str():
            assert_type(meeting.status, UnknownStatus)
        case _:
            assert_never(meeting.status)


def cancellation_status(c: lm.mavera.Cancellation) -> bool:
    return c.status is MeetingStatus.CANCELLED


def models_take_plain_strings() -> lm.mavera.Meeting:
    return lm.mavera.Meeting("bot_1", "done")


def bulk_results_narrow(results: list[lm.BulkResult[lm.mavera.Meeting]]) -> list[str]:
    ids = []
    for r in results:
        assert_type(r.value, lm.mavera.Meeting | None)
        if r.ok:
            assert_type(r.value, lm.mavera.Meeting)
            assert_type(r.error, None)
            ids.append(r.value.id)
        else:
            assert_type(r.error, lm.LyraMaveraError)
            assert_type(r.value, None)
        match r:
            case lm.BulkOk(value=meeting):
                assert_type(meeting, lm.mavera.Meeting)
            case lm.BulkFailed(error=error):
                assert_type(error, lm.LyraMaveraError)
            case _:
                assert_never(r)
    return ids


async def lyra_results_narrow(s: lm.AsyncSession) -> None:
    results = await s.lyra.meetings.create_many([lm.lyra.MeetingRequest("Kickoff")])
    print([r.value.url if r.ok else str(r.error) for r in results])
