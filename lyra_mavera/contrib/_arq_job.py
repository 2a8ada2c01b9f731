"""The arq job behind :mod:`lyra_mavera.contrib.arq`: :func:`follow_bot`, one poll per job,
and the per-bot state it keeps in Redis. May import the SDK core, ``mavera/``,
``_arq_limiter``, arq and redis. Imported through :mod:`lyra_mavera.contrib.arq`, whose
import check names the missing extra.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from arq.connections import ArqRedis
from arq.worker import Retry
from redis.exceptions import RedisError

from .. import _clock
from .._convert import converter
from .._errors import LyraMaveraError
from .._session import AsyncSession
from ..mavera import _step
from ..mavera._models import Meeting, MeetingStatus
from ..mavera._poll import STATUS_RANK, TRANSIENT_ERRORS, PollPolicy
from ._arq_limiter import PREFIX, Deferred

__all__ = ["FINAL_HOOK_ID", "OBSERVE", "follow_bot"]

logger = logging.getLogger("lyra_mavera")

FINAL_HOOK_ID = PREFIX + ":final:{meeting_id}"
_STATE_TTL = 7 * 24 * 3600

# Keep the best rank seen; answer whether this observation moved the bot forward, and
# the status and rank now on record.
OBSERVE = """
local rank = tonumber(ARGV[1])
local best = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if rank >= 0 and rank < best then
  return {0, redis.call('HGET', KEYS[1], 'status'), best}
end
local changed = 0
if redis.call('HGET', KEYS[1], 'status') ~= ARGV[2] then changed = 1 end
if rank >= 0 then best = rank end
redis.call('HSET', KEYS[1], 'rank', best, 'status', ARGV[2], 'seen_at', ARGV[3])
if changed == 1 then redis.call('HSET', KEYS[1], 'changed_at', ARGV[3]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {changed, ARGV[2], best}
"""


@attrs.frozen
class _Finish:
    """End the bot: the hook gets ``outcome`` (and ``meeting``, when there is one)."""

    outcome: str
    meeting: Meeting | None = None


@attrs.frozen
class _Again:
    """Enqueue the successor ``delay`` seconds from now; the job returns ``label``."""

    label: str
    delay: float
    unchanged: int
    errors: int


async def follow_bot(
    ctx: dict[str, Any],
    meeting_id: str,
    *,
    deadline: float | None = None,
    hook: str | None = None,
    generation: int = 0,
    unchanged: int = 0,
    errors: int = 0,
) -> str:
    """The arq job: one status request, then finish the bot or enqueue the next
    generation -- exactly one of the two on every path (:func:`_decide` chooses,
    :func:`_carry_out` does it). Returns the outcome (``done``, ``failed``, ``timeout``,
    ``error``) or why it goes on (``pending:<status>``, ``stale:<status>``, ``retry``,
    ``deferred``)."""
    policy: PollPolicy = ctx.get("lyra_mavera_poll") or PollPolicy()
    try:
        step = await _decide(ctx, policy, meeting_id, deadline, unchanged, errors)
    except Exception:  # a bug or a Redis hiccup must not end the chain silently
        logger.exception("mavera bot %s: following failed", meeting_id)
        step = _after_failure(policy, meeting_id, unchanged, errors, None)
    return await _carry_out(ctx, meeting_id, step, deadline, hook, generation)


async def _decide(
    ctx: dict[str, Any],
    policy: PollPolicy,
    meeting_id: str,
    deadline: float | None,
    unchanged: int,
    errors: int,
) -> _Finish | _Again:
    if deadline is not None and time.time() >= deadline:
        return _Finish("timeout")
    session: AsyncSession = ctx["lyra_mavera_session"]
    try:
        async with asyncio.timeout(ctx.get("lyra_mavera_budget")):
            meeting = await session.mavera.meetings.get(meeting_id)
    except Deferred as exc:  # nothing was sent: not a failed poll
        return _Again("deferred", _unless_testing(exc.retry_after or 0.0), unchanged, errors)
    except (*TRANSIENT_ERRORS, TimeoutError) as exc:
        return _after_failure(policy, meeting_id, unchanged, errors, exc)
    except LyraMaveraError as exc:
        logger.info("mavera bot %s: poll failed for good (%s)", meeting_id, type(exc).__name__)
        return _Finish("error")

    state_key = f"{PREFIX}:bot:{meeting_id}"
    prior = await _on_record(ctx["redis"], state_key, unchanged, errors)
    now = time.time()
    step = _step.on_answer(
        prior,
        str(meeting.status),
        join_at=meeting.join_at.timestamp() if meeting.join_at is not None else None,
        now=now,
        wall=now,
        policy=policy,
        rand=random.random(),
    )
    state = step["state"]
    if step["stale"]:
        # An older status than the one on record (a lagging replica): record nothing,
        # and poll again at the cadence of the status on record.
        return _Again(f"stale:{state['status']}", step["delay"], state["unchanged"], 0)
    # Record atomically: should a racing job have recorded a later status meanwhile,
    # the record keeps it (never backwards across workers).
    await ctx["lyra_mavera_observe"](
        keys=[state_key],
        args=[STATUS_RANK.get(meeting.status, -1), state["status"], now, _STATE_TTL],
    )
    if step["outcome"] is not None:
        return _Finish(step["outcome"], meeting)
    return _Again(f"pending:{state['status']}", step["delay"], state["unchanged"], 0)


async def _on_record(
    redis: ArqRedis, state_key: str, unchanged: int, errors: int
) -> _step.StepState:
    """The step state of a bot: its status on record in Redis (shared by every worker),
    the counts from the job's arguments."""
    record: dict[bytes, bytes] = await redis.hgetall(state_key)  # type: ignore[misc]  # redis-py's sync|async union
    state = _step.start()
    state["unchanged"], state["errors"] = unchanged, errors
    if b"status" in record:
        state["status"] = record[b"status"].decode()
        state["rank"] = int(record[b"rank"])
        if state["status"] == MeetingStatus.RECORDING_PERMISSION_DENIED and b"changed_at" in record:
            state["denied_since"] = float(record[b"changed_at"])
    return state


def _after_failure(
    policy: PollPolicy,
    meeting_id: str,
    unchanged: int,
    errors: int,
    exc: BaseException | None,
) -> _Finish | _Again:
    """A failed poll: the ``max_errors``-th in a row ends the bot, any other backs off by
    the count (and at least as long as the server asked)."""
    name = type(exc).__name__ if exc is not None else "unexpected error"
    retry_after = getattr(exc, "retry_after", None)
    step = _step.on_error(
        {**_step.start(), "unchanged": unchanged, "errors": errors},
        transient=True,
        policy=policy,
        rand=random.random(),
        retry_after=None if retry_after is None else _unless_testing(retry_after),
    )
    if step["outcome"] is not None:
        logger.info(
            "mavera bot %s: gave up after %d failed polls in a row (%s)",
            meeting_id,
            step["state"]["errors"],
            name,
        )
        return _Finish("error")
    logger.info("mavera bot %s: poll failed (%s); trying again", meeting_id, name)
    return _Again("retry", step["delay"], unchanged, step["state"]["errors"])


def _unless_testing(seconds: float) -> float:
    # Jobs are deferred on Redis' clock, which a virtual clock cannot move: testing mode
    # shortens these waits to nothing.
    return 0.0 if _clock.is_testing() else seconds


async def _carry_out(
    ctx: dict[str, Any],
    meeting_id: str,
    step: _Finish | _Again,
    deadline: float | None,
    hook: str | None,
    generation: int,
) -> str:
    """The one place a job ends: finish the bot, or enqueue its successor. Should Redis
    refuse either, arq runs this same job again (same id, same arguments) later."""
    redis: ArqRedis = ctx["redis"]
    try:
        if isinstance(step, _Finish):
            await _finish(
                redis, meeting_id, step.meeting, step.outcome, hook, ctx.get("lyra_mavera_hook")
            )
            return step.outcome
        await _next(
            redis, meeting_id, step.delay, deadline, hook, generation, step.unchanged, step.errors
        )
        return step.label
    except RedisError as exc:
        logger.warning("mavera bot %s: redis failed (%s); job retried", meeting_id, exc)
        raise Retry(defer=1 + random.random()) from exc


async def _next(
    redis: ArqRedis,
    meeting_id: str,
    delay: float,
    deadline: float | None,
    hook: str | None,
    generation: int,
    unchanged: int,
    errors: int,
) -> None:
    if deadline is not None:
        delay = min(delay, max(deadline - time.time(), 0.0))
    await redis.enqueue_job(
        "follow_bot",
        meeting_id,
        deadline=deadline,
        hook=hook,
        generation=generation + 1,
        unchanged=unchanged,
        errors=errors,
        _job_id=f"{PREFIX}:follow:{meeting_id}:{generation + 1}",
        _defer_by=delay or None,
    )


async def _finish(
    redis: ArqRedis,
    meeting_id: str,
    meeting: Meeting | None,
    outcome: str,
    hook: str | None,
    coroutine_hook: Callable[[str, Meeting | None, str], Awaitable[Any]] | None,
) -> None:
    payload = json.dumps(converter.unstructure(meeting)) if meeting is not None else None
    if hook is not None:
        # arq refuses a second job under this id while the first or its result exists.
        await redis.enqueue_job(
            hook, meeting_id, payload, outcome, _job_id=FINAL_HOOK_ID.format(meeting_id=meeting_id)
        )
    if coroutine_hook is not None and await redis.set(
        f"{PREFIX}:final-called:{meeting_id}", "1", nx=True, ex=_STATE_TTL
    ):
        await coroutine_hook(meeting_id, meeting, outcome)
