"""Mavera ``create_many``: bulk bot creation that never sends a bot twice and never
adopts one it did not make.

Mavera has no idempotency keys, so a create that failed ambiguously (timeout or dropped
connection after sending, 5xx) may have made a bot. Before such an item is sent again,
the bot is looked for among the key's meetings under the rules of
:mod:`lyra_mavera.mavera._reconcile`; an item that cannot be settled ends in
:class:`AmbiguousCreateError` and is never sent blind.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .. import _clock
from .._bulk import (
    AmbiguousCreateError,
    BulkResult,
    OnResult,
    Progress,
    check_concurrency,
    check_requests,
    is_ambiguous,
    run_bulk,
)
from .._errors import LyraMaveraError, ValidationError
from ._body import bot_body
from ._models import BotRequest, Meeting
from ._pages import Lister
from ._reconcile import RECONCILE_SKEW, RecentMeetings, identity, scan

__all__ = ["CREATE_ROUNDS", "RECONCILE_DELAY", "create_bots", "find_existing"]

logger = logging.getLogger("lyra_mavera")

#: ``POST /meetings`` with an already validated body.
PostBot = Callable[[dict[str, Any]], Awaitable[Meeting]]
#: How many times one bot may be sent in all, after ambiguous failures that the
#: look-up showed made nothing.
CREATE_ROUNDS = 3
#: Pause before the second look, for a server still writing the bot.
RECONCILE_DELAY = 1.0


def _body(index: int, request: object) -> dict[str, Any]:
    if not isinstance(request, BotRequest):
        raise ValidationError(
            f"requests[{index}]", f"must be a mavera.BotRequest, got {type(request).__name__}"
        )
    return bot_body(
        request.meeting_url,
        request.title,
        request.bot_name,
        request.join_at,
        request.workspace_id,
        prefix=f"requests[{index}].",
    )


async def _look(recent: RecentMeetings, body: dict[str, Any]) -> Meeting | bool:
    """The bot an ambiguous create made, ``True`` when surely none was made, ``False``
    when it cannot be told."""
    found = await recent.find(body, recent.mark())
    if found is None:
        # A slow server may still be writing it: look once more, a bit later. This is
        # the server's time, not ours to pace: a real pause even on a virtual clock, or
        # a bot still being written would be sent twice.
        await _clock.network_pause(RECONCILE_DELAY)
        found = await recent.find(body, recent.mark())
    return True if found is None else found


async def _create_one(
    post: PostBot, recent: RecentMeetings, index: int, body: dict[str, Any], unique: bool
) -> Meeting:
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
            break  # items that share link and join_at cannot be told apart
        try:
            found = await _look(recent, body)
        except LyraMaveraError as lookup:
            error.add_note(f"looking for the bot among recent meetings failed: {lookup}")
            break
        if isinstance(found, Meeting):
            logger.info("mavera requests[%d]: adopted bot %s", index, found.id)
            return found
        if found is False:
            error.add_note("the key's meetings could not tell whether this bot was made")
            break
        logger.info("mavera requests[%d]: no bot was made; sending again", index)
    assert error is not None
    raise AmbiguousCreateError(
        f"mavera: requests[{index}] may have created a bot ({error}); it could not be "
        "found among the key's new meetings and was not sent again",
        provider="mavera",
        cause=error,
    ) from error


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
    items = check_requests(requests)
    check_concurrency(concurrency)
    counts = collections.Counter(
        identity(r.meeting_url, r.join_at) for r in items if isinstance(r, BotRequest)
    )
    bodies: dict[int, dict[str, Any] | ValidationError] = {}
    for index, request in enumerate(items):
        try:
            bodies[index] = _body(index, request)
        except ValidationError as exc:
            bodies[index] = exc
    recent = RecentMeetings(listing, set(counts))
    if any(isinstance(body, dict) for body in bodies.values()):
        # Only when something will be sent: bad items are refused before any request.
        await recent.take_baseline()

    async def one(index: int, request: BotRequest) -> Meeting:
        body = bodies[index]
        if isinstance(body, ValidationError):
            raise body
        unique = counts[identity(request.meeting_url, request.join_at)] == 1
        return await _create_one(post, recent, index, body, unique)

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
    """Bots already made for ``requests`` (by index): what a resumed run adopts for the
    items that were in flight when the last run stopped (``since``: Unix time they
    were first sent). No baseline exists for a run that is over, so a request is
    adopted only when exactly one matching meeting was created from ``since`` on (less
    :data:`RECONCILE_SKEW` for clock skew); requests whose link and ``join_at`` repeat
    are left out: they cannot be told apart."""
    counts = collections.Counter(identity(r.meeting_url, r.join_at) for r in requests.values())
    floor = since - RECONCILE_SKEW
    found_all = await scan(listing, set(counts), floor=floor)
    found: dict[int, Meeting] = {}
    for index, request in requests.items():
        key = identity(request.meeting_url, request.join_at)
        if counts[key] != 1:
            continue
        matches = [
            m
            for m in found_all.matches.get(key, ())
            if m.created_at is not None
            and m.created_at.timestamp() >= floor
            and (request.title is None or m.title == request.title)
            and (request.workspace_id is None or m.workspace_id == request.workspace_id)
        ]
        if len(matches) == 1:
            found[index] = matches[0]
    return found
