"""Building the body of ``POST /meetings`` from a caller's arguments: every field
checked before anything is sent."""

from __future__ import annotations

from typing import Any

from .._convert import format_datetime
from .._validate import check_aware_datetime, check_id, check_text
from ._links import check_meeting_url

__all__ = ["bot_body"]


def bot_body(
    meeting_url: object,
    title: object = None,
    bot_name: object = None,
    join_at: object = None,
    workspace_id: object = None,
    *,
    skip_link_check: bool = False,
    prefix: str = "",
) -> dict[str, Any]:
    """Validate one bot's fields and build its JSON body (fields not given are omitted)."""
    if skip_link_check:
        link = check_text(prefix + "meeting_url", meeting_url, max_length=4096).strip()
    else:
        link, _ = check_meeting_url(prefix + "meeting_url", meeting_url)
    body: dict[str, Any] = {"meeting_url": link}
    if title is not None:
        body["title"] = check_text(prefix + "title", title)
    if bot_name is not None:
        body["bot_name"] = check_text(prefix + "bot_name", bot_name, max_length=100)
    if join_at is not None:
        # A join_at in the past is sent as is: Mavera documents that the bot then joins
        # right away, which is what a late scheduler wants.
        body["join_at"] = format_datetime(check_aware_datetime(prefix + "join_at", join_at))
    if workspace_id is not None:
        body["workspace_id"] = check_id(prefix + "workspace_id", workspace_id)
    return body
