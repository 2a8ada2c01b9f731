"""The workflows of :mod:`lyra_mavera.contrib.temporal`: :class:`FollowBot` and
:class:`CreateBot`. Deterministic: time is ``workflow.time()``, randomness
``workflow.random()``, and every decision about a bot's status is the shared pure step
(:mod:`lyra_mavera.mavera._step`). Inputs and results are plain dicts.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from ..mavera import _step
    from ..mavera._bulk import CREATE_ROUNDS

__all__ = ["POLLS_PER_RUN", "CreateBot", "FollowBot", "follow_id"]

#: Polls in one run before ``continue_as_new`` (each poll adds ~6 history events;
#: Temporal suggests continuing well before its 50k-event limit, and so do we).
POLLS_PER_RUN = 500
_ONCE = RetryPolicy(maximum_attempts=1)
#: Read-only activities (looking up meetings, cancelling) may be retried freely, and
#: are, without limit: giving up would fail a create that may have made a bot.
_READS = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10))


def follow_id(meeting_id: str) -> str:
    """The one ``FollowBot`` workflow id of a bot."""
    return f"lyra-mavera-follow-{meeting_id}"


@workflow.defn(name="lyra_mavera.FollowBot")
class FollowBot:
    """Follow one bot to a final state on durable timers; then run the hook (if named)
    and return ``{"meeting_id", "outcome", "meeting", "polls"}``. Outcomes: ``done``, ``failed``,
    ``timeout``, ``error`` (``max_errors`` failed polls, or a permanent error) and
    ``cancelled`` (the :meth:`cancel` signal)."""

    def __init__(self) -> None:
        self._cancel: list[str | None] = []

    @workflow.signal
    def cancel(self, reason: str | None = None) -> None:
        """Cancel the bot on Mavera and end the workflow."""
        self._cancel.append(reason)

    @workflow.run
    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
        policy = _step.policy_from(job.get("policy"))
        state: Any = job.get("state") or _step.start(job.get("join_at"))
        deadline = job.get("deadline")
        if deadline is None and job.get("timeout") is not None:
            deadline = workflow.time() + float(job["timeout"])
        meeting = job.get("meeting")
        delay = job.get("delay")
        if delay is None:
            delay = _step.first_delay(state, wall=workflow.time(), policy=policy)
        polls = 0
        while True:
            wait, times_out = _step.before_deadline(delay, workflow.time(), deadline)
            if await self._sleep(wait):
                outcome = await self._cancel_bot(job)
                break
            if times_out:
                outcome = "timeout"
                break
            if polls >= job.get("polls_per_run", POLLS_PER_RUN) or (
                workflow.info().is_continue_as_new_suggested()
            ):
                carry = {
                    "state": state,
                    "meeting": meeting,
                    "deadline": deadline,
                    "delay": 0.0,
                    "polls_before": job.get("polls_before", 0) + polls,
                }
                workflow.continue_as_new({**job, **carry})
            polls += 1
            step = await self._poll(job, state, policy)
            state = step["state"]
            if "meeting" in step:
                meeting = step["meeting"]
            if step["outcome"] is not None:
                outcome = step["outcome"]
                break
            delay = step["delay"]
        result = {
            "meeting_id": job["meeting_id"],
            "outcome": outcome,
            "meeting": meeting,
            "polls": job.get("polls_before", 0) + polls,
        }
        if job.get("hook"):
            await workflow.execute_activity(
                job["hook"],
                result,
                task_queue=job.get("hook_task_queue") or workflow.info().task_queue,
                start_to_close_timeout=timedelta(seconds=job.get("hook_timeout", 60)),
            )
        return result

    async def _sleep(self, seconds: float) -> bool:
        """A durable timer that the cancel signal cuts short; True when cancelled."""
        if not self._cancel and seconds > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: bool(self._cancel), timeout=seconds)
        return bool(self._cancel)

    async def _poll(self, job: dict[str, Any], state: Any, policy: Any) -> dict[str, Any]:
        """One poll activity, decided by the shared step (a crashed or timed-out
        activity is a transient failed poll)."""
        rand = workflow.random().random()
        try:
            answer = await workflow.execute_activity(
                "lyra_mavera.poll",
                job["meeting_id"],
                task_queue=job["mavera_queue"],
                start_to_close_timeout=timedelta(seconds=job.get("activity_timeout", 30)),
                retry_policy=_ONCE,
                result_type=dict,
            )
        except ActivityError:
            answer = {"error": "ActivityError", "transient": True}
        if "error" in answer:
            return dict(
                _step.on_error(
                    state,
                    transient=answer["transient"],
                    policy=policy,
                    rand=rand,
                    retry_after=answer.get("retry_after"),
                )
            )
        now = workflow.time()
        step: dict[str, Any] = dict(
            _step.on_answer(
                state,
                answer["status"],
                join_at=answer.get("join_at"),
                now=now,
                wall=now,
                policy=policy,
                rand=rand,
            )
        )
        if not step["stale"]:
            step["meeting"] = answer["meeting"]
        return step

    async def _cancel_bot(self, job: dict[str, Any]) -> str:
        await workflow.execute_activity(
            "lyra_mavera.cancel",
            args=[job["meeting_id"], self._cancel[0]],
            task_queue=job["mavera_queue"],
            start_to_close_timeout=timedelta(seconds=job.get("activity_timeout", 30)),
            retry_policy=_READS,  # cancelling twice is harmless
        )
        return "cancelled"


@workflow.defn(name="lyra_mavera.CreateBot")
class CreateBot:
    """Create one bot exactly once, keyed by the caller's workflow id. The create
    activity is never retried blindly: after an ambiguous failure (a 5xx, a dropped
    connection after sending, a crashed or timed-out activity) the bot is looked for
    under ``create_many``'s reconciliation rules, and sent again only when surely none
    was made. When it cannot be told, the workflow fails with an ``ApplicationError``
    of type ``AmbiguousCreateError``. With ``follow``, it starts the bot's
    :class:`FollowBot` (abandoned: it outlives this workflow)."""

    @workflow.run
    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
        request, queue = job["request"], job["mavera_queue"]
        timeout = timedelta(seconds=job.get("activity_timeout", 30))
        baseline = await workflow.execute_activity(
            "lyra_mavera.baseline",
            request,
            task_queue=queue,
            start_to_close_timeout=timeout,
            retry_policy=_READS,
            result_type=dict,
        )
        meeting, adopted, why = None, False, ""
        rounds = waits = 0
        while rounds < CREATE_ROUNDS:
            sent = await _send(request, queue, timeout)
            if "meeting" in sent:
                meeting = sent["meeting"]
                break
            if not sent["ambiguous"]:
                if not sent["transient"]:
                    raise ApplicationError(sent["message"], type=sent["error"], non_retryable=True)
                # Surely not sent (a full rate-limit window, no connection): send again
                # after a pause, without spending one of the ambiguous rounds.
                waits += 1
                await workflow.sleep(max(sent.get("retry_after") or 0.0, min(2.0**waits, 30.0)))
                continue
            rounds += 1
            why = sent["message"]
            found = await workflow.execute_activity(
                "lyra_mavera.reconcile",
                args=[request, baseline],
                task_queue=queue,
                start_to_close_timeout=timeout,
                retry_policy=_READS,
                result_type=dict,
            )
            if "meeting" in found:
                meeting, adopted = found["meeting"], True
                break
            if "unknown" in found:
                why = f"{why}; {found['unknown']}"
                break
        if meeting is None:
            raise ApplicationError(
                f"mavera: the bot may have been created ({why}); it could not be found "
                "among the key's new meetings and was not sent again",
                type="AmbiguousCreateError",
                non_retryable=True,
            )
        if job.get("follow") is not None:
            await _start_follow(meeting["id"], job["follow"])
        return {"meeting": meeting, "adopted": adopted}


async def _send(request: dict[str, Any], queue: str, timeout: timedelta) -> dict[str, Any]:
    """One create activity, never retried by Temporal: its answer, or an ambiguous
    error when the activity crashed or timed out (it may have sent before it died)."""
    try:
        sent: dict[str, Any] = await workflow.execute_activity(
            "lyra_mavera.create",
            request,
            task_queue=queue,
            start_to_close_timeout=timeout,
            retry_policy=_ONCE,
            result_type=dict,
        )
    except ActivityError as exc:
        return {"error": "ActivityError", "message": str(exc), "ambiguous": True}
    return sent


async def _start_follow(meeting_id: str, follow: dict[str, Any]) -> None:
    # Already followed (started by someone else): that one goes on.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await workflow.start_child_workflow(
            FollowBot.run,
            {**follow, "meeting_id": meeting_id},
            id=follow_id(meeting_id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )
