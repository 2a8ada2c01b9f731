"""Following Mavera bots from a fleet of arq workers (``pip install 'lyra-mavera[arq]'``).

Each bot is followed by a chain of short jobs: :func:`follow_bot` asks for the bot's
status once and then does exactly one of two things, whatever the answer: it finishes
the bot (terminal status, deadline passed, a permanent error, or
``PollPolicy.max_errors`` failed polls in a row) or it enqueues its successor -- after
the :class:`~lyra_mavera.PollPolicy` cadence for the status on record, or after a
backoff that grows with the number of failed polls in a row. No job sleeps in a loop,
so a worker that dies costs at most one job timeout: arq hands the job to another
worker once its in-progress mark expires. A job never waits inside itself for longer
than part of the worker's ``job_timeout`` either: a long fleet-wide pause (a 429 with a
long ``Retry-After``) or a full rate-limit window re-enqueues the job, deferred, instead.

arq traps handled here:

- A running job cannot re-enqueue itself under its own id, and a finished job's id stays
  taken while its result is kept: successors get generation-suffixed ids
  (``lyra-mavera:follow:<id>:<n>``).
- The real deadline and the count of failed polls in a row travel in the job's
  arguments, not in arq's retry count.
- A job that overruns ``job_timeout`` is failed by arq and never run again, which would
  end the chain: the poll gets a budget of half the job timeout, and running out of it
  counts as a failed poll.

Per-bot state lives in Redis (``lyra-mavera:bot:<id>``: best status rank, status, when it
was seen), updated atomically, so a job that runs twice is harmless and the status never
moves backwards across workers: an answer ranked below the status on record (a lagging
replica) is not recorded, and the bot is followed on at the cadence of the status on
record. The terminal hook runs once per bot even when workers
race: an arq function hook is enqueued under the deterministic id
``lyra-mavera:final:<id>`` (arq refuses a second job with that id while the first or its
result exists). One case no queue can settle: a worker killed *while running the hook
job* -- arq then runs that job again elsewhere, so write hooks to be idempotent (e.g.
keyed by the meeting id). A coroutine hook (``on_final``) is guarded by ``SET NX``
instead: at most once, and a worker that dies between the guard and the call loses it.

Every worker shares one Redis sliding-window limiter per API key, so the fleet together
stays within the key's requests per minute. Its clock is Redis' (``TIME`` inside the
scripts), never a worker's, so workers whose clocks disagree still share one window.

Redis cost of one poll (a :func:`follow_bot` run): one limiter script call (plus one
more each time it must wait), one state script call, and one enqueue (arq's own
pipeline: WATCH, EXISTS, MULTI/PSETEX/ZADD), plus one script call re-stamping the
limiter slot when the answer arrives -- about six round trips; arq adds its own
bookkeeping around each job (in-progress key, result).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

try:
    from arq.connections import ArqRedis
    from arq.worker import Retry
    from redis.exceptions import RedisError
except ImportError as exc:
    raise ImportError(
        "lyra_mavera.contrib.arq needs arq, which the SDK does not install by itself: "
        "pip install 'lyra-mavera[arq]' (from a checkout: pip install '.[arq]')",
        name=exc.name,
    ) from exc

from .. import _clock
from .._convert import converter
from .._errors import LyraMaveraError
from .._session import AsyncSession
from ..mavera import _step
from ..mavera._models import Meeting, MeetingStatus
from ..mavera._poll import STATUS_RANK, TRANSIENT_ERRORS, PollPolicy
from ._arq_limiter import PREFIX, Deferred, RedisRateLimiter

__all__ = [
    "FINAL_HOOK_ID",
    "RedisRateLimiter",
    "follow",
    "follow_bot",
    "worker_settings",
]

logger = logging.getLogger("lyra_mavera")

FINAL_HOOK_ID = PREFIX + ":final:{meeting_id}"
_STATE_TTL = 7 * 24 * 3600

# Keep the best rank seen; answer whether this observation moved the bot forward, and
# the status and rank now on record.
_OBSERVE = """
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


async def follow(
    redis: ArqRedis,
    meeting_id: str,
    *,
    join_at: datetime | None = None,
    deadline: float | None = None,
    hook: str | None = None,
    poll: PollPolicy | None = None,
) -> bool:
    """Start following a bot: enqueue its first :func:`follow_bot` job, deferred until
    shortly (``poll.join_lead``) before ``join_at``. ``deadline`` is Unix time; ``hook``
    names an arq function enqueued once with ``(meeting_json_or_None, outcome)`` when the
    bot ends (``outcome``: ``done``, ``failed``, ``timeout`` or ``error``). Returns False
    if the bot is already being followed."""
    policy = poll or PollPolicy()
    defer = 0.0
    if join_at is not None:
        defer = max(0.0, (join_at.timestamp() - time.time() - policy.join_lead) / policy.time_scale)
    job = await redis.enqueue_job(
        "follow_bot",
        meeting_id,
        deadline=deadline,
        hook=hook,
        generation=0,
        _job_id=f"{PREFIX}:follow:{meeting_id}:0",
        _defer_by=defer or None,
    )
    return job is not None


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


def worker_settings(
    *,
    session_factory: Callable[[], AsyncSession] | None = None,
    functions: Sequence[Any] = (),
    poll: PollPolicy | None = None,
    rpm: int = 60,
    window: float = 60.0,
    on_final: Callable[[str, Meeting | None, str], Awaitable[Any]] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """arq ``WorkerSettings`` (as a dict: ``WorkerSettings = type("WS", (), worker_settings(...))``
    or ``arq.run_worker(worker_settings(...))``) wiring an :class:`AsyncSession` into
    the worker's start-up and shutdown, with the shared Redis limiter in front of Mavera.

    ``session_factory`` builds the session (default: keys and URLs from the
    environment). ``functions`` are your own arq functions (e.g. the hook). ``on_final``
    is a coroutine hook ``(meeting_id, meeting, outcome)``. Other keyword arguments go
    to arq (``redis_settings``, ``job_timeout``, ``max_jobs``...).

    A poll may take half of ``job_timeout`` (arq's default: 300 s), of which waiting for
    the shared limiter at most a quarter; past that the job re-enqueues itself.
    """
    job_timeout = settings.get("job_timeout", 300)
    if isinstance(job_timeout, timedelta):
        job_timeout = job_timeout.total_seconds()
    budget = float(job_timeout) / 2

    async def startup(ctx: dict[str, Any]) -> None:
        session = session_factory() if session_factory is not None else AsyncSession()
        fingerprint = session.key_fingerprint("mavera")
        if fingerprint is not None:
            limiter = RedisRateLimiter(
                ctx["redis"], fingerprint, rpm=rpm, window=window, max_wait=budget / 2
            )
            session.set_rate_limiter("mavera", limiter)
        ctx["lyra_mavera_session"] = session
        ctx["lyra_mavera_observe"] = ctx["redis"].register_script(_OBSERVE)
        ctx["lyra_mavera_poll"] = poll
        ctx["lyra_mavera_hook"] = on_final
        ctx["lyra_mavera_budget"] = budget

    async def shutdown(ctx: dict[str, Any]) -> None:
        session = ctx.get("lyra_mavera_session")
        if session is not None:
            await session.aclose()

    return {
        "functions": [follow_bot, *functions],
        "on_startup": startup,
        "on_shutdown": shutdown,
        **settings,
    }
