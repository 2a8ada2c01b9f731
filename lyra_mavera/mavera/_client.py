"""The Mavera provider: ``s.mavera.meetings``, ``.workspaces`` and ``.usage``."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from .._bulk import BulkResult, OnResult, Progress
from .._errors import LyraMaveraError, ValidationError
from .._transport import Transport
from .._validate import check_bool, check_id, check_number, check_text
from ._account import Usage, Workspace
from ._body import bot_body
from ._bulk import create_bots
from ._models import BotRequest, Cancellation, Meeting, MeetingStatus
from ._pages import MAX_PAGE_SIZE, check_page_size, paginate
from ._poll import (
    OnStatus,
    PollPolicy,
    bot_failed,
    check_policy,
    check_timeout,
    follow,
    notify,
)
from ._results import Analysis, SchemaResult, Transcript
from ._wait_many import wait_many

__all__ = ["Mavera", "Meetings", "UsageAPI", "Workspaces"]

PROVIDER = "mavera"
MAX_REASON_LENGTH = 500
TRANSCRIPT_FORMATS = ("segments", "text", "srt")


def _id_path(param: str, value: object) -> str:
    return quote(check_id(param, value), safe="")


def _number_param(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Meetings:
    """``s.mavera.meetings``: send notetaker bots and read what they recorded."""

    def __init__(self, session: Transport) -> None:
        self._session = session

    async def create(
        self,
        meeting_url: str,
        *,
        title: str | None = None,
        bot_name: str | None = None,
        join_at: datetime | None = None,
        workspace_id: str | None = None,
        skip_link_check: bool = False,
    ) -> Meeting:
        """Send a bot into a Zoom, Google Meet, Microsoft Teams or Webex call.

        The link is checked locally first (https, exact platform host, no Zoom start
        links); ``skip_link_check=True`` leaves the judgement to Mavera. ``join_at`` must
        be timezone-aware; omitted or in the past, the bot joins right away.

        Not retried after it may have reached the server (see :class:`RetryPolicy`):
        a second attempt could send a second bot.
        """
        body = bot_body(
            meeting_url, title, bot_name, join_at, workspace_id, skip_link_check=skip_link_check
        )
        return await self._create_body(body)

    async def _create_body(self, body: dict[str, Any]) -> Meeting:
        """``POST /meetings`` with an already validated body."""
        return await self._session.call(PROVIDER, "POST", "/meetings", Meeting, json_body=body)

    async def create_many(
        self,
        requests: Iterable[BotRequest],
        *,
        concurrency: int = 10,
        on_progress: Progress | None = None,
        on_result: OnResult | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> list[BulkResult[Meeting]]:
        """Send many bots, at most ``concurrency`` at once; results in input order.

        No item's failure stops the others or raises out of here. Nothing is created
        twice: when a create fails in a way that leaves it unknown whether Mavera made
        the bot (timeout or dropped connection after sending, 5xx), the bot is first
        looked for among the key's recent meetings (same link and ``join_at``, and title
        and workspace when given) and adopted if found; only if it is not there is the
        create sent again (at most twice more). Items whose link and ``join_at`` repeat
        within the run cannot be told apart, so they are never re-sent: such an item
        ends in :class:`AmbiguousCreateError`. ``on_result(result)`` receives each item's
        result as soon as it is known and ``on_progress(done, total)`` follows it;
        ``on_start(index)`` is called just before an item is first sent (e.g. to journal
        it, so an interrupted run knows which items may exist).
        """
        return await create_bots(
            self._create_body,
            self.list,
            requests,
            concurrency=concurrency,
            on_progress=on_progress,
            on_result=on_result,
            on_start=on_start,
        )

    async def wait(
        self,
        meeting_id: str,
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        on_status: OnStatus | None = None,
    ) -> Meeting:
        """Poll the bot until it is ``done`` and return it.

        Raises :class:`BotFailedError` (with ``.meeting``) on ``fatal``, ``cancelled``,
        ``media_expired``, or ``recording_permission_denied`` that outlasts
        ``poll.permission_denied_grace``; :class:`WaitTimeoutError` (with the last meeting
        seen) when ``timeout`` seconds pass -- no sleep runs past it. ``on_status(meeting)``
        (plain or async) is called on each status change; the status never moves
        backwards.
        """
        last: Meeting | None = None
        async for meeting in self.watch(meeting_id, timeout=timeout, poll=poll):
            last = meeting
            await notify(on_status, meeting)
        assert last is not None
        if last.status == MeetingStatus.DONE:
            return last
        raise bot_failed(last)

    def watch(
        self,
        meeting_id: str,
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
    ) -> AsyncGenerator[Meeting, None]:
        """Yield the bot each time its status changes, ending after a terminal status
        (see :meth:`wait` for which are terminal). Arguments are checked now."""
        return follow(
            self.get,
            check_id("meeting_id", meeting_id),
            timeout=check_timeout(timeout),
            policy=check_policy(poll),
        )

    async def wait_many(
        self,
        meeting_ids: Iterable[str],
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        concurrency: int = 20,
        on_status: OnStatus | None = None,
    ) -> dict[str, Meeting | LyraMaveraError]:
        """Follow many bots at once with one scheduler and at most ``concurrency``
        requests in flight. Returns, per id, the ``done`` meeting or the error that ended
        it (:class:`BotFailedError`, :class:`WaitTimeoutError`, an API error). When many
        bots are due together, pages of ``GET /meetings`` (100 bots a request) replace
        single fetches; see :class:`PollPolicy` ``sweep_min``."""
        return await wait_many(
            self.get,
            self.list,
            meeting_ids,
            timeout=check_timeout(timeout),
            policy=check_policy(poll),
            concurrency=concurrency,
            on_status=on_status,
        )

    async def get(self, meeting_id: str) -> Meeting:
        """One meeting with its current bot status (``GET /meetings/{id}``)."""
        path = "/meetings/" + _id_path("meeting_id", meeting_id)
        return await self._session.call(PROVIDER, "GET", path, Meeting)

    def list(
        self, *, workspace_id: str | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncGenerator[Meeting, None]:
        """Every meeting, page by page (``GET /meetings``): ``async for m in ...list()``.

        Follows ``next_cursor`` (or advances ``offset`` when Mavera pages that way) until
        ``has_more`` is false. Arguments are checked now, before iteration starts.
        """
        params: dict[str, str] = {}
        if workspace_id is not None:
            params["workspace_id"] = check_id("workspace_id", workspace_id)
        return paginate(self._session, "/meetings", Meeting, params, check_page_size(page_size))

    async def cancel(self, meeting_id: str, *, reason: str | None = None) -> Cancellation:
        """Cancel a bot (``POST /meetings/{id}/cancel``); ``reason`` up to 500 characters."""
        path = "/meetings/" + _id_path("meeting_id", meeting_id) + "/cancel"
        body: dict[str, Any] = {}
        if reason is not None:
            body["reason"] = check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        return await self._session.call(PROVIDER, "POST", path, Cancellation, json_body=body)

    async def transcript(
        self,
        meeting_id: str,
        *,
        format: str = "segments",
        start_time: float | None = None,
        end_time: float | None = None,
    ) -> Transcript:
        """The transcript (ready once the bot is ``done``): ``format`` is ``"segments"``,
        ``"text"`` or ``"srt"``; ``start_time``/``end_time`` in seconds from the start."""
        path = "/meetings/" + _id_path("meeting_id", meeting_id) + "/transcript"
        if format not in TRANSCRIPT_FORMATS:
            raise ValidationError(
                "format", f"must be one of {', '.join(TRANSCRIPT_FORMATS)}; got {format!r}"
            )
        params = {"format": format}
        if start_time is not None:
            params["start_time"] = _number_param(check_number("start_time", start_time, minimum=0))
        if end_time is not None:
            params["end_time"] = _number_param(check_number("end_time", end_time, minimum=0))
        if start_time is not None and end_time is not None and end_time <= start_time:
            raise ValidationError("end_time", "must be greater than start_time")
        return await self._session.call(PROVIDER, "GET", path, Transcript, params=params)

    async def analysis(self, meeting_id: str) -> Analysis:
        """The meeting's analysis (summary, tasks, decisions, ...), ``GET .../analysis``."""
        path = "/meetings/" + _id_path("meeting_id", meeting_id) + "/analysis"
        return await self._session.call(PROVIDER, "GET", path, Analysis)

    async def run_schema(
        self,
        meeting_id: str,
        schema_id: str,
        *,
        model: str | None = None,
        temperature: float | None = None,
        force_new: bool | None = None,
    ) -> SchemaResult:
        """Run a structured-extraction schema on the meeting. Without ``force_new``,
        Mavera reuses an earlier result for the same schema."""
        path = (
            "/meetings/"
            + _id_path("meeting_id", meeting_id)
            + "/schemas/"
            + _id_path("schema_id", schema_id)
            + "/run"
        )
        body: dict[str, Any] = {}
        if model is not None:
            body["model"] = check_text("model", model, max_length=200)
        if temperature is not None:
            body["temperature"] = check_number("temperature", temperature, minimum=0, maximum=2)
        if force_new is not None:
            body["force_new"] = check_bool("force_new", force_new)
        return await self._session.call(PROVIDER, "POST", path, SchemaResult, json_body=body)


class Workspaces:
    """``s.mavera.workspaces``."""

    def __init__(self, session: Transport) -> None:
        self._session = session

    async def list(self, *, include_members: bool = False) -> list[Workspace]:
        """Every workspace the key can see (all pages)."""
        params = {
            "include_members": "true" if check_bool("include_members", include_members) else "false"
        }
        return [
            ws
            async for ws in paginate(self._session, "/workspaces", Workspace, params, MAX_PAGE_SIZE)
        ]

    async def get(self, workspace_id: str) -> Workspace:
        """One workspace (``GET /workspaces/{id}``)."""
        path = "/workspaces/" + _id_path("workspace_id", workspace_id)
        return await self._session.call(PROVIDER, "GET", path, Workspace)


class UsageAPI:
    """``s.mavera.usage``."""

    def __init__(self, session: Transport) -> None:
        self._session = session

    async def get(self) -> Usage:
        """This billing period's usage and the key's rate limit (``GET /usage``)."""
        return await self._session.call(PROVIDER, "GET", "/usage", Usage)


class Mavera:
    """``s.mavera``: the Mavera notetaker-bot API."""

    def __init__(self, session: Transport) -> None:
        self.meetings = Meetings(session)
        self.workspaces = Workspaces(session)
        self.usage = UsageAPI(session)

    def __repr__(self) -> str:
        return "<Mavera provider>"
