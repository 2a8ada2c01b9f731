"""Mavera ``create_many``: bulk bot creation that never sends a bot twice.

Mavera has no idempotency keys, so a create that failed ambiguously (timeout or dropped
connection after sending, 5xx) may have made a bot. Before such an item is sent again,
the bot is looked for among the key's recent meetings. The look-ups of one run share
one index of recent meetings: a scan that *started* after an item failed already shows
whatever that item created, so a burst of failures costs one scan, not one each.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from .._bulk import (
    AmbiguousCreateError,
    BulkResult,
    OnResult,
    Progress,
    is_ambiguous,
    run_bulk,
)
from .._convert import parse_datetime
from .._errors import LyraMaveraError, ValidationError
from ._body import bot_body
from ._links import clean_link
from ._models import BotRequest, Meeting
from ._pages import Lister

#: ``POST /meetings`` with an already validated body.
PostBot = Callable[[dict[str, Any]], Awaitable[Meeting]]

__all__ = [
    "CREATE_ROUNDS",
    "RECONCILE_DELAY",
    "RECONCILE_SCAN",
    "create_bots",
    "find_existing",
]

logger = logging.getLogger("lyra_mavera")

#: How many times one bot may be sent in all, after ambiguous failures that the
#: look-up could not resolve.
CREATE_ROUNDS = 3
#: How many meetings one scan reads at most, and how far before the run (seconds) it
#: looks (allowing for clock skew between us and Mavera).
RECONCILE_SCAN = 2_000
RECONCILE_SKEW = 120.0
#: Pause before the second look, for a server still writing the bot.
RECONCILE_DELAY = 1.0

Identity = tuple[str, int | None]


def identity(meeting_url: object, join_at: object) -> Identity:
    """What identifies a bot for reconciliation: its cleaned link and join second."""
    link = clean_link(meeting_url) if isinstance(meeting_url, str) else repr(meeting_url)
    if isinstance(join_at, str):
        try:
            join_at = parse_datetime(join_at)
        except ValueError:
            join_at = None
    seconds = int(join_at.timestamp()) if isinstance(join_at, datetime) else None
    return link.rstrip("/"), seconds


class RecentMeetings:
    """The key's meetings created since the run began, scanned on demand (one scan at a
    time, shared by every item that needs it)."""

    def __init__(self, listing: Lister[Meeting], since: float) -> None:
        self._listing = listing
        self._since = since
        self._lock = asyncio.Lock()
        self._scanned_from = -1.0  # when the latest scan started (loop time)
        self._by_identity: dict[Identity, list[Meeting]] = {}
        self.claimed: set[str] = set()
        self.scans = 0

    async def find(self, body: dict[str, Any], failed_at: float) -> Meeting | None:
        """An unclaimed meeting matching ``body``, from a scan begun after ``failed_at``."""
        async with self._lock:
            if self._scanned_from < failed_at:
                await self._scan()
            for meeting in self._by_identity.get(
                identity(body["meeting_url"], body.get("join_at")), ()
            ):
                if meeting.id in self.claimed:
                    continue
                if "title" in body and meeting.title != body["title"]:
                    continue
                if "workspace_id" in body and meeting.workspace_id != body["workspace_id"]:
                    continue
                self.claimed.add(meeting.id)
                return meeting
        return None

    async def _scan(self) -> None:
        self._scanned_from = asyncio.get_running_loop().time()
        self.scans += 1
        found: dict[Identity, list[Meeting]] = collections.defaultdict(list)
        seen = 0
        async with contextlib.aclosing(self._listing()) as listing:
            async for meeting in listing:
                seen += 1
                created = meeting.created_at
                if seen > RECONCILE_SCAN or (
                    created is not None and created.timestamp() < self._since
                ):
                    break
                if isinstance(meeting.meeting_url, str):
                    found[identity(meeting.meeting_url, meeting.join_at)].append(meeting)
        self._by_identity = found


async def create_bots(
    post: PostBot,
    listing: Lister[Meeting],
    requests: Iterable[BotRequest],
    *,
    concurrency: int,
    on_progress: Progress | None,
    on_result: OnResult | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[BulkResult[Meeting]]:
    """The body of ``Meetings.create_many``."""
    items = list(requests) if isinstance(requests, Iterable) else requests
    counts = collections.Counter(
        identity(r.meeting_url, r.join_at) for r in items if isinstance(r, BotRequest)
    )
    recent = RecentMeetings(listing, since=time.time() - RECONCILE_SKEW)
    loop = asyncio.get_running_loop()

    async def one(index: int, request: BotRequest) -> Meeting:
        if not isinstance(request, BotRequest):
            raise ValidationError(
                f"requests[{index}]", f"must be a mavera.BotRequest, got {type(request).__name__}"
            )
        body = bot_body(
            request.meeting_url,
            request.title,
            request.bot_name,
            request.join_at,
            request.workspace_id,
            prefix=f"requests[{index}].",
        )
        unique = counts[identity(request.meeting_url, request.join_at)] == 1
        error: LyraMaveraError | None = None
        for _ in range(CREATE_ROUNDS):
            try:
                meeting = await post(body)
            except LyraMaveraError as exc:
                if not is_ambiguous(exc):
                    raise
                error = exc
            else:
                recent.claimed.add(meeting.id)
                return meeting
            if not unique:
                break
            failed_at = loop.time()
            try:
                found = await recent.find(body, failed_at)
                if found is None:
                    # A slow server may still be writing it: look once more, a bit later.
                    # A real pause even in testing mode: skipping it could double a bot.
                    await asyncio.sleep(RECONCILE_DELAY)
                    found = await recent.find(body, loop.time())
            except LyraMaveraError as lookup:
                error.add_note(f"looking for the bot among recent meetings failed: {lookup}")
                break
            if found is not None:
                logger.info("mavera requests[%d]: adopted bot %s", index, found.id)
                return found
            logger.info("mavera requests[%d]: no bot was made; sending again", index)
        assert error is not None
        raise AmbiguousCreateError(
            f"mavera: requests[{index}] may have created a bot ({error}); it was not found "
            "among recent meetings and was not sent again",
            provider="mavera",
            cause=error,
        ) from error

    return await run_bulk(
        items,
        one,
        concurrency=concurrency,
        on_progress=on_progress,
        on_result=on_result,
        on_start=on_start,
    )


async def find_existing(
    listing: Lister[Meeting], requests: dict[int, BotRequest], *, since: float
) -> dict[int, Meeting]:
    """Bots already made for ``requests`` (by index) since ``since`` (Unix time): what a
    resumed run adopts for the items that were in flight when the last run stopped.
    Requests whose link and ``join_at`` repeat are left out: they cannot be told apart."""
    counts = collections.Counter(identity(r.meeting_url, r.join_at) for r in requests.values())
    recent = RecentMeetings(listing, since=since - RECONCILE_SKEW)
    now = asyncio.get_running_loop().time()
    found: dict[int, Meeting] = {}
    for index, request in requests.items():
        if counts[identity(request.meeting_url, request.join_at)] != 1:
            continue
        body: dict[str, Any] = {"meeting_url": request.meeting_url, "join_at": request.join_at}
        if request.title is not None:
            body["title"] = request.title
        if request.workspace_id is not None:
            body["workspace_id"] = request.workspace_id
        meeting = await recent.find(body, now)
        if meeting is not None:
            found[index] = meeting
    return found
