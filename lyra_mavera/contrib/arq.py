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

import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

try:
    from arq.connections import ArqRedis
except ImportError as exc:
    raise ImportError(
        "lyra_mavera.contrib.arq needs arq, which the SDK does not install by itself: "
        "pip install 'lyra-mavera[arq]' (from a checkout: pip install '.[arq]')",
        name=exc.name,
    ) from exc

from .._session import AsyncSession
from ..mavera._models import Meeting
from ..mavera._poll import PollPolicy
from ._arq_job import FINAL_HOOK_ID, OBSERVE, follow_bot
from ._arq_limiter import PREFIX, RedisRateLimiter

__all__ = [
    "FINAL_HOOK_ID",
    "RedisRateLimiter",
    "follow",
    "follow_bot",
    "worker_settings",
]


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
        ctx["lyra_mavera_observe"] = ctx["redis"].register_script(OBSERVE)
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
