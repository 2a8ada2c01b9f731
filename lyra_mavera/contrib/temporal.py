"""Following and creating Mavera bots with Temporal (``pip install 'lyra-mavera[temporal]'``).

- :class:`FollowBot`: one workflow per bot (id ``lyra-mavera-follow-<meeting id>``;
  :func:`follow` attaches to the running one instead of starting a second). It polls
  through an activity and sleeps on durable timers, deciding with the same pure step as
  ``wait``/``wait_many`` and the arq jobs (:mod:`lyra_mavera.mavera._step`): never
  backwards, the permission-denied grace, ``join_at`` (a pending bot is held until
  ``join_lead`` before it) and the error backoff. It survives worker crashes and
  restarts, continues as new every :data:`POLLS_PER_RUN` polls (or sooner, when Temporal
  suggests it), and returns ``{"meeting_id", "outcome", "meeting"}`` (plain data;
  outcome ``done``, ``failed``, ``timeout``, ``error`` or ``cancelled``). The ``cancel``
  signal (:func:`cancel`) cancels the bot on Mavera and ends the workflow.
- :class:`CreateBot`: exactly-once creation keyed by a caller-chosen id
  (:func:`create_bot`). The create activity is never retried blindly; an ambiguous
  failure goes through ``create_many``'s reconciliation, and when that cannot tell, the
  workflow fails with ``AmbiguousCreateError``. A retry, a crash or a second start never
  makes a second bot. It can chain into :class:`FollowBot`.
- The "on finished" hook: an activity you name (``hook="record_final"``), run once per
  bot by its :class:`FollowBot` with the result dict, after the final state. Temporal
  records that it was scheduled once; *at-least-once caveat*: an attempt that fails or
  times out is retried, and that includes a worker that dies while running the hook, or
  after the hook finished but before the worker reported it -- then the hook runs again
  for the same bot. Make it idempotent (keyed by the meeting id).
- The key's rate limit across the fleet: Mavera's activities run on their own task
  queue (``<task_queue>-mavera``) with Temporal's task-queue activity rate limit
  (``max_task_queue_activities_per_second``, enforced by the server for every worker
  at once). A poll, a create or a cancel sends one request (the worker's default
  session does not retry: the workflow's step backs off instead); a baseline or
  reconcile scan reads one page per 100 of the key's meetings of the last minutes. Size
  ``requests_per_second`` with that headroom: the fleet test runs 25 activities per
  second on a key of 50 requests per second and meets no 429. The session's own limiter
  stays on, but it is per process: at 40 activities per second the fleet reached ~45
  requests per second and met 429s from the overlap of three processes.
- Every activity attempt ends before its ``start_to_close_timeout`` (less a margin):
  rate-limit waits that would outlast it fail at once with nothing sent, and a request
  still in flight is abandoned and reported as possibly made. Temporal does not stop a
  timed-out activity, so a create must never send after the workflow has given up on
  it and looked for its bot.

Start a worker (one :class:`~lyra_mavera.AsyncSession` per process, closed with it)::

    import asyncio
    from lyra_mavera.contrib import temporal

    async def main() -> None:
        client = await temporal.client("localhost:7233")
        async with temporal.worker(client, requests_per_second=1.0):
            await asyncio.Event().wait()

    asyncio.run(main())
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from .._errors import ValidationError
from .._retry import RetryPolicy
from .._session import AsyncSession
from ..mavera._models import BotRequest
from ..mavera._poll import PollPolicy
from ..mavera._step import policy_data
from ._temporal_activities import MaveraActivities, request_body
from ._temporal_workflows import POLLS_PER_RUN, CreateBot, FollowBot, follow_id

__all__ = [
    "POLLS_PER_RUN",
    "CreateBot",
    "FollowBot",
    "MaveraActivities",
    "cancel",
    "client",
    "create_bot",
    "follow",
    "follow_id",
    "follow_job",
    "mavera_queue",
    "worker",
]

DEFAULT_QUEUE = "lyra-mavera"


def mavera_queue(task_queue: str) -> str:
    """The task queue of the Mavera activities (the rate-limited one)."""
    return f"{task_queue}-mavera"


async def client(target_host: str = "localhost:7233", **options: Any) -> Client:
    """``temporalio.client.Client.connect`` (``namespace=`` and the rest pass through)."""
    return await Client.connect(target_host, **options)


@contextlib.asynccontextmanager
async def worker(
    client: Client,
    *,
    task_queue: str = DEFAULT_QUEUE,
    session_factory: Callable[[], AsyncSession] | None = None,
    requests_per_second: float | None = None,
    activities: Sequence[Callable[..., Any]] = (),
    **options: Any,
) -> AsyncIterator[MaveraActivities]:
    """Run the workflows (on ``task_queue``, with your ``activities``, e.g. the hook)
    and the Mavera activities (on :func:`mavera_queue`, rate-limited fleet-wide to
    ``requests_per_second``) until the block exits; one session for the process.

    ``session_factory`` builds the session (default: keys and URLs from the
    environment, no retries of its own). Other keyword arguments go to both
    ``temporalio.worker.Worker`` (e.g. ``workflow_failure_exception_types``).
    """
    session = (
        session_factory()
        if session_factory is not None
        else AsyncSession(retry=RetryPolicy(attempts=1))
    )
    async with session:
        mavera = MaveraActivities(session)
        # The SDK passes through the sandbox whole: re-importing it (aiohttp, cattrs...)
        # for every workflow run costs seconds of CPU each; its workflow code reads no
        # clock and draws no random number of its own.
        runner = SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("lyra_mavera")
        )
        workflows = Worker(
            client,
            task_queue=task_queue,
            workflows=[FollowBot, CreateBot],
            activities=list(activities),
            workflow_runner=options.pop("workflow_runner", runner),
            **options,
        )
        requests = Worker(
            client,
            task_queue=mavera_queue(task_queue),
            activities=mavera.all(),
            max_task_queue_activities_per_second=requests_per_second,
            **options,
        )
        async with workflows, requests:
            yield mavera


def follow_job(
    task_queue: str = DEFAULT_QUEUE,
    *,
    timeout: float | None = None,
    join_at: datetime | None = None,
    hook: str | None = None,
    hook_task_queue: str | None = None,
    poll: PollPolicy | None = None,
    activity_timeout: float = 30.0,
) -> dict[str, Any]:
    """A :class:`FollowBot` input without its ``meeting_id`` (plain data), for starting
    the workflow yourself."""
    return {
        "policy": policy_data(poll or PollPolicy()),
        "timeout": timeout,
        "join_at": join_at.timestamp() if join_at is not None else None,
        "hook": hook,
        "hook_task_queue": hook_task_queue,
        "mavera_queue": mavera_queue(task_queue),
        "activity_timeout": activity_timeout,
    }


async def follow(
    client: Client,
    meeting_id: str,
    *,
    task_queue: str = DEFAULT_QUEUE,
    timeout: float | None = None,
    join_at: datetime | None = None,
    hook: str | None = None,
    hook_task_queue: str | None = None,
    poll: PollPolicy | None = None,
    activity_timeout: float = 30.0,
) -> WorkflowHandle[Any, dict[str, Any]]:
    """Start following a bot, or attach to the :class:`FollowBot` already following it.
    ``await handle.result()`` is ``{"meeting_id", "outcome", "meeting"}``."""
    job = follow_job(
        task_queue,
        timeout=timeout,
        join_at=join_at,
        hook=hook,
        hook_task_queue=hook_task_queue,
        poll=poll,
        activity_timeout=activity_timeout,
    )
    return await client.start_workflow(
        FollowBot.run,
        {**job, "meeting_id": meeting_id},
        id=follow_id(meeting_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def create_bot(
    client: Client,
    key: str,
    request: BotRequest,
    *,
    task_queue: str = DEFAULT_QUEUE,
    follow: bool = True,
    timeout: float | None = None,
    hook: str | None = None,
    hook_task_queue: str | None = None,
    poll: PollPolicy | None = None,
    activity_timeout: float = 30.0,
) -> WorkflowHandle[Any, dict[str, Any]]:
    """Create a bot once for the caller's ``key`` (workflow id ``lyra-mavera-create-<key>``):
    a second call with the same key attaches to the first, running or finished, and
    never sends again. ``await handle.result()`` is ``{"meeting", "adopted"}``; with
    ``follow``, the bot's :class:`FollowBot` starts as soon as it exists."""
    if not isinstance(request, BotRequest):
        raise ValidationError("request", f"must be a mavera.BotRequest, got {type(request)}")
    data = {
        "meeting_url": request.meeting_url,
        "title": request.title,
        "bot_name": request.bot_name,
        "join_at": request.join_at.isoformat() if request.join_at is not None else None,
        "workspace_id": request.workspace_id,
    }
    request_body(data)  # refuse a bad request here, not in a workflow
    job: dict[str, Any] = {
        "request": data,
        "mavera_queue": mavera_queue(task_queue),
        "activity_timeout": activity_timeout,
        "follow": None,
    }
    if follow:
        job["follow"] = follow_job(
            task_queue,
            timeout=timeout,
            join_at=request.join_at,
            hook=hook,
            hook_task_queue=hook_task_queue,
            poll=poll,
            activity_timeout=activity_timeout,
        )
    try:
        return await client.start_workflow(
            CreateBot.run,
            job,
            id=f"lyra-mavera-create-{key}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A finished (or failed: maybe created) one is never run again.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(f"lyra-mavera-create-{key}")


async def cancel(client: Client, meeting_id: str, reason: str | None = None) -> None:
    """Signal the bot's :class:`FollowBot` to cancel it on Mavera and end."""
    await client.get_workflow_handle(follow_id(meeting_id)).signal(FollowBot.cancel, reason)
