"""One polling step, shared by every engine that follows a bot.

Given what was known of a bot (a :class:`StepState`) and one answer to "what is its
status?" -- a status or a failed poll -- :func:`on_answer` and :func:`on_error` decide,
and nothing else: the bot is finished with an outcome (``done``, ``failed``, ``error``),
or it is polled again after ``delay`` seconds. They read no clock, draw no random
number, log nothing and never touch the network: time (``now``), Unix time (``wall``)
and randomness (``rand``) come in as arguments, so a Temporal workflow can run them
deterministically on replay. State and decisions are plain JSON-friendly dicts, so they
cross process boundaries as they are (arq job arguments, Temporal payloads).

``wait``/``watch`` and ``wait_many`` (through :class:`~lyra_mavera.mavera._poll.Follow`),
:mod:`lyra_mavera.contrib.arq` and :mod:`lyra_mavera.contrib.temporal` all decide here:
"never backwards", the ``recording_permission_denied`` grace, ``join_at`` and the
error backoff are written once.

Rules:

- Terminal statuses: ``done`` is success; ``fatal``, ``cancelled`` and ``media_expired``
  are failures; ``recording_permission_denied`` fails once it has lasted
  ``PollPolicy.permission_denied_grace``. Unknown statuses are followed as in progress.
- A status ranked below the one on record (a lagging replica) is ignored: the bot is
  followed on at the cadence of the status on record.
- A ``pending`` bot with ``join_at`` ahead is not polled until ``join_lead`` before it.
- A failed poll backs off by the count of failed polls in a row (and at least as long as
  the server asked); the ``max_errors``-th in a row, or a permanent error, ends the bot
  with outcome ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from ._models import MeetingStatus
from ._policy import PollPolicy

__all__ = [
    "FAILED",
    "STATUS_RANK",
    "Outcome",
    "Step",
    "StepState",
    "before_deadline",
    "finished",
    "first_delay",
    "next_delay",
    "on_answer",
    "on_error",
    "policy_data",
    "policy_from",
    "start",
]

S = MeetingStatus
#: Position along the lifecycle; equal ranks may replace each other.
STATUS_RANK: dict[str, int] = {
    S.PENDING: 0,
    S.JOINING_CALL: 1,
    S.IN_WAITING_ROOM: 2,
    S.IN_CALL_NOT_RECORDING: 3,
    S.RECORDING_PERMISSION_DENIED: 4,
    S.IN_CALL_RECORDING: 4,
    S.CALL_ENDED: 5,
    S.RECORDING_DONE: 6,
    S.DONE: 7,
    S.MEDIA_EXPIRED: 8,
    S.FATAL: 9,
    S.CANCELLED: 9,
}
FAILED = frozenset({S.FATAL, S.CANCELLED, S.MEDIA_EXPIRED})

Outcome = Literal["done", "failed", "error"]


class StepState(TypedDict):
    """What is known of one bot between polls (plain data)."""

    #: The status on record (the best ranked seen; ``None`` before the first answer).
    status: str | None
    #: Its rank in :data:`STATUS_RANK` (-1: none yet; unknown statuses keep the last).
    rank: int
    #: Polls in a row that found the status unchanged (slows ``growing`` statuses).
    unchanged: int
    #: When ``recording_permission_denied`` was first seen (on the ``now`` clock).
    denied_since: float | None
    #: Failed polls in a row.
    errors: int
    #: The bot's ``join_at`` as Unix seconds, when known.
    join_at: float | None


class Step(TypedDict):
    """A decision: ``outcome`` set means finished; else poll again in ``delay`` s."""

    state: StepState
    outcome: Outcome | None
    delay: float
    #: The answer moved the status on record (worth reporting).
    changed: bool
    #: The answer was older than the status on record and was ignored.
    stale: bool


def start(join_at: float | None = None) -> StepState:
    """The state of a bot nothing is known of yet."""
    return {
        "status": None,
        "rank": -1,
        "unchanged": 0,
        "denied_since": None,
        "errors": 0,
        "join_at": join_at,
    }


def first_delay(state: Mapping[str, Any], *, wall: float, policy: PollPolicy) -> float:
    """Seconds before the first poll: none, unless ``join_at`` is further ahead than
    ``join_lead`` (a bot is held until shortly before it joins)."""
    join_at = state.get("join_at")
    if join_at is None:
        return 0.0
    return max(0.0, (float(join_at) - wall - policy.join_lead) / policy.time_scale)


def on_answer(
    state: Mapping[str, Any],
    status: str,
    *,
    join_at: float | None = None,
    now: float,
    wall: float,
    policy: PollPolicy,
    rand: float,
) -> Step:
    """Take in one answer (the bot's ``status`` and ``join_at`` as Unix seconds) at
    ``now`` (durations) / ``wall`` (Unix seconds, compared with ``join_at``)."""
    new: StepState = {**state}  # type: ignore[typeddict-item]  # a copy of the same keys
    if join_at is not None:
        new["join_at"] = join_at
    rank = STATUS_RANK.get(status)
    stale = rank is not None and rank < state["rank"]
    changed = False
    if not stale:
        new["errors"] = 0
        if status == state["status"]:
            new["unchanged"] = state["unchanged"] + 1
        else:
            changed = True
            new["status"] = status
            new["unchanged"] = 0
            if rank is not None:
                new["rank"] = rank
            new["denied_since"] = now if status == S.RECORDING_PERMISSION_DENIED else None
    outcome = finished(new, now, policy)
    delay = 0.0
    if outcome is None:
        delay = next_delay(new, now=now, wall=wall, policy=policy, rand=rand)
    return {"state": new, "outcome": outcome, "delay": delay, "changed": changed, "stale": stale}


def on_error(
    state: Mapping[str, Any],
    *,
    transient: bool,
    policy: PollPolicy,
    rand: float,
    retry_after: float | None = None,
) -> Step:
    """Take in a failed poll: ``transient`` failures (connection, 5xx, 429, a garbled
    answer, a timeout) back off; a permanent one or the ``max_errors``-th in a row ends
    the bot with outcome ``error``. ``retry_after`` (already scaled to the engine's
    time) is a floor for the backoff."""
    new: StepState = {**state}  # type: ignore[typeddict-item]
    new["errors"] = state["errors"] + 1
    if not transient or new["errors"] >= policy.max_errors:
        return {"state": new, "outcome": "error", "delay": 0.0, "changed": False, "stale": False}
    delay = policy.error_delay(new["errors"], rand)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return {"state": new, "outcome": None, "delay": delay, "changed": False, "stale": False}


def before_deadline(delay: float, now: float, deadline: float | None) -> tuple[float, bool]:
    """How long to wait, and whether the deadline comes first (then wait that long and
    end the bot with ``timeout``): no wait runs past a deadline."""
    if deadline is None:
        return delay, False
    left = deadline - now
    if left <= 0:
        return 0.0, True
    if delay >= left:
        return left, True
    return delay, False


def finished(state: Mapping[str, Any], now: float, policy: PollPolicy) -> Outcome | None:
    """The outcome of a bot in ``state`` at ``now``, or ``None`` while it goes on."""
    status = state["status"]
    if status == S.DONE:
        return "done"
    if status in FAILED:
        return "failed"
    since = state["denied_since"]
    grace = policy.permission_denied_grace / policy.time_scale
    if since is not None and now - since >= grace:
        return "failed"
    return None


def next_delay(
    state: Mapping[str, Any], *, now: float, wall: float, policy: PollPolicy, rand: float
) -> float:
    """Seconds until a bot in ``state`` (not finished) is polled again."""
    status = state["status"]
    if status is None:
        return 0.0
    delay = policy.interval(status, state["unchanged"], rand)
    join_at = state["join_at"]
    if status == S.PENDING and join_at is not None:
        delay = max(delay, (join_at - wall - policy.join_lead) / policy.time_scale)
    since = state["denied_since"]
    if since is not None:
        grace_left = since + policy.permission_denied_grace / policy.time_scale - now
        delay = min(delay, max(grace_left, 0.0))
    return delay


def policy_data(policy: PollPolicy) -> dict[str, Any]:
    """A :class:`PollPolicy` as plain JSON-friendly data (see :func:`policy_from`)."""
    import attrs  # only engines that ship policies across processes

    data = attrs.asdict(policy)
    data["intervals"] = dict(policy.intervals)
    data["growing"] = sorted(policy.growing)
    return data


def policy_from(data: Mapping[str, Any] | None) -> PollPolicy:
    """The :class:`PollPolicy` that :func:`policy_data` wrote (``None``: the default)."""
    if data is None:
        return PollPolicy()
    return PollPolicy(**{**data, "growing": frozenset(data.get("growing", ()))})
