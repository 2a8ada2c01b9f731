"""The one polling step every engine shares: pure, plain data in and out."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lyra_mavera as lm
from lyra_mavera.mavera import _step
from lyra_mavera.mavera._step import STATUS_RANK

P = lm.PollPolicy(jitter=0)


def _answer(state: _step.StepState, status: str, now: float = 0.0, **kw: float) -> _step.Step:
    return _step.on_answer(state, status, now=now, wall=now, policy=P, rand=0.5, **kw)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("done", "done"),
        ("fatal", "failed"),
        ("cancelled", "failed"),
        ("media_expired", "failed"),
        ("in_call_recording", None),
        ("recording_permission_denied", None),
        ("something_new", None),
    ],
)
def test_terminal_statuses(status: str, outcome: str | None) -> None:
    """done succeeds, fatal/cancelled/media_expired fail, anything else goes on."""
    assert _answer(_step.start(), status)["outcome"] == outcome


def test_permission_denied_fails_only_after_its_grace() -> None:
    """recording_permission_denied fails once it has lasted the grace, and the poll in
    between is never later than the grace's end."""
    first = _answer(_step.start(), "recording_permission_denied", now=100.0)
    assert first["outcome"] is None and first["delay"] <= P.permission_denied_grace
    later = _answer(first["state"], "recording_permission_denied", now=100.0 + 119)
    assert later["outcome"] is None and later["delay"] == pytest.approx(1.0)
    assert _answer(later["state"], "recording_permission_denied", now=220.0)["outcome"] == "failed"


def test_pending_bot_is_held_until_join_at() -> None:
    """A pending bot with join_at an hour ahead is polled join_lead before it."""
    state = _step.start(join_at=3600.0)
    assert _step.first_delay(state, wall=0.0, policy=P) == 3600 - P.join_lead
    step = _answer(state, "pending")
    assert step["delay"] == 3600 - P.join_lead


def test_failed_polls_back_off_then_end() -> None:
    """Transient failures back off longer each time; max_errors in a row ends with
    outcome error; a good answer resets the count; a permanent error ends at once."""
    state = _step.start()
    delays = []
    for _ in range(P.max_errors - 1):
        step = _step.on_error(state, transient=True, policy=P, rand=0.5)
        assert step["outcome"] is None
        delays.append(step["delay"])
        state = step["state"]
    assert delays == sorted(delays)
    assert _step.on_error(state, transient=True, policy=P, rand=0.5)["outcome"] == "error"
    assert _answer(state, "pending")["state"]["errors"] == 0
    assert _step.on_error(_step.start(), transient=False, policy=P, rand=0.5)["outcome"] == "error"
    floor = _step.on_error(_step.start(), transient=True, policy=P, rand=0.5, retry_after=30)
    assert floor["delay"] == 30


@pytest.mark.parametrize(
    ("delay", "now", "deadline", "want"),
    [
        (5, 0, None, (5, False)),
        (5, 0, 10, (5, False)),
        (5, 8, 10, (2, True)),
        (5, 11, 10, (0, True)),
    ],
)
def test_no_wait_runs_past_the_deadline(
    delay: float, now: float, deadline: float | None, want: tuple[float, bool]
) -> None:
    """before_deadline cuts a wait at the deadline and says the bot then times out."""
    assert _step.before_deadline(delay, now, deadline) == want


@given(st.lists(st.sampled_from([*STATUS_RANK, "something_new"]), max_size=30))
def test_status_on_record_never_moves_backwards(statuses: list[str]) -> None:
    """Whatever order answers come in, the rank on record never decreases, and state
    and decisions survive a JSON round trip unchanged."""
    state = _step.start()
    for n, status in enumerate(statuses):
        step = _answer(state, status, now=float(n))
        assert step["state"]["rank"] >= state["rank"]
        assert json.loads(json.dumps(step)) == step
        state = step["state"]
