"""The fake Mavera API: meetings (bots), workspaces and usage.

Choices where Mavera's docs are silent (documented here and in README):

- ``GET /meetings`` pages by cursor, newest first, ``limit`` 1..100 (default 50).
- Cancelling a bot in a final status answers 400 ``meeting_not_cancellable``.
- An unknown ``workspace_id`` answers 404 ``resource_not_found`` with ``param``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from . import _current as current
from . import _mavera_results
from ._account_json import usage_json, workspace_json
from ._bots import Bot
from ._current import bot_or_404, server_of
from ._wire import iso, json_response, mavera_error, parse_iso, read_json_object, supported_link

__all__ = ["add_routes", "meeting_json"]

_CREATE_FIELDS = {"meeting_url", "title", "bot_name", "join_at", "workspace_id"}
DEFAULT_BOT_NAME = "Mavera Notetaker"


def _link_meeting_id(url: str) -> str:
    path = urlsplit(url).path
    digits = re.search(r"/(?:j|w|wc/join|meet)/(\d+)", path)
    if digits:
        return digits.group(1)
    tail = [p for p in path.split("/") if p]
    return tail[-1] if tail else ""


def meeting_json(bot: Bot, now: float, *, created: bool = False) -> dict[str, Any]:
    """A bot as Mavera shows it: the create shape, or the get/list shape."""
    status = bot.status(now)
    base: dict[str, Any] = {
        "id": bot.id,
        "object": "meeting",
        "title": bot.title,
        "bot_name": bot.bot_name,
        "join_type": "scheduled" if bot.join_at and bot.join_at > bot.created_at else "adhoc",
        "join_at": iso(bot.join_at),
        "status": status,
        "workspace_id": bot.workspace_id,
        "created_at": iso(bot.created_at),
    }
    if created:
        base["meeting_url"] = {
            "meeting_id": _link_meeting_id(bot.meeting_url),
            "platform": bot.platform,
        }
        base["platform"] = bot.platform
        base["updated_at"] = iso(bot.created_at)
        return base
    done_at = bot.entered("done")
    is_done = status in ("done", "media_expired")
    updated = (
        bot.cancelled_at if status == "cancelled" else max(bot.created_at, _last_change(bot, now))
    )
    base.update(
        {
            "meeting_url": bot.meeting_url,
            "completed_at": iso(done_at) if is_done else None,
            "recording_url": f"https://files.mavera.example/rec/{bot.id}.mp4"
            if status == "done"
            else None,
            "cancelled_at": iso(bot.cancelled_at) if status == "cancelled" else None,
            "cancelled_by": "user_fake" if status == "cancelled" else None,
            "cancel_reason": bot.cancel_reason if status == "cancelled" else None,
            "participants": [{"name": "Alex", "email": "alex@acme.com", "role": "host"}]
            if is_done
            else [],
            "participant_count": 1 if is_done else 0,
            "transcript": {"duration_seconds": 60.0, "total_words": 120, "participant_stats": {}}
            if is_done
            else None,
            "has_transcript": is_done,
            "analysis": _analysis_info(bot, done_at) if is_done else None,
            "tasks": [],
            "task_count": 0,
            "decisions": [],
            "decision_count": 0,
            "updated_at": iso(updated),
        }
    )
    return base


def _last_change(bot: Bot, now: float) -> float:
    elapsed = now - bot.starts_at
    passed = [offset for offset, _ in bot.timeline if offset <= elapsed]
    return bot.starts_at + passed[-1] if passed else bot.created_at


def _analysis_info(bot: Bot, done_at: float | None) -> dict[str, Any]:
    return {
        "id": f"an_{bot.id}",
        "status": "completed",
        "version": 1,
        "processing_time_ms": 1200,
        "created_at": iso(done_at),
        "updated_at": iso(done_at),
    }


async def create_meeting(request: web.Request) -> web.Response:
    server = server_of(request)
    body = await read_json_object(request)
    if body is None:
        return mavera_error(400, "missing_field", "meeting_url is required", param="meeting_url")
    if isinstance(body, str):
        return mavera_error(400, "invalid_field", body)
    for name in body:
        if name not in _CREATE_FIELDS:
            return mavera_error(400, "invalid_field", f"Unknown field: {name}", param=name)
    url = body.get("meeting_url")
    if url is None:
        return mavera_error(400, "missing_field", "meeting_url is required", param="meeting_url")
    if not isinstance(url, str):
        return mavera_error(
            400, "invalid_field", "meeting_url must be a string", param="meeting_url"
        )
    platform = supported_link(url)
    if platform is None:
        return mavera_error(
            400,
            "invalid_field",
            "Unsupported meeting URL: use a Zoom, Google Meet, Microsoft Teams or Webex link",
            param="meeting_url",
        )
    for name in ("title", "bot_name", "workspace_id"):
        if name in body and not isinstance(body[name], str):
            return mavera_error(400, "invalid_field", f"{name} must be a string", param=name)
    join_at = None
    if body.get("join_at") is not None:
        join_at = parse_iso(body["join_at"])
        if join_at is None:
            return mavera_error(
                400, "invalid_field", "join_at must be an ISO 8601 date-time", param="join_at"
            )
    workspace_id = body.get("workspace_id") or server.default_workspace
    if workspace_id not in server.workspaces:
        return mavera_error(404, "resource_not_found", "Workspace not found", param="workspace_id")
    bot = server.bots.add(
        key=current.key.get(),
        meeting_url=url,
        platform=platform,
        title=body.get("title"),
        bot_name=body.get("bot_name") or DEFAULT_BOT_NAME,
        join_at=join_at,
        created_at=server.clock.now(),
        workspace_id=workspace_id,
        script=server.script_for(url),
    )
    return json_response(meeting_json(bot, server.clock.now(), created=True), 201)


async def list_meetings(request: web.Request) -> web.Response:
    server = server_of(request)
    raw_limit = request.query.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        return mavera_error(
            400, "invalid_field", "limit must be an integer from 1 to 100", param="limit"
        )
    before = None
    cursor = request.query.get("cursor")
    if cursor is not None:
        if not re.fullmatch(r"cur_\d+", cursor):
            return mavera_error(400, "invalid_field", "Invalid cursor", param="cursor")
        before = int(cursor[4:])
    workspace_id = request.query.get("workspace_id")
    bots, more = server.bots.page(
        before_seq=before, limit=int(raw_limit), workspace_id=workspace_id, key=current.key.get()
    )
    now = server.clock.now()
    return json_response(
        {
            "object": "list",
            "data": [meeting_json(b, now) for b in bots],
            "has_more": more,
            "next_cursor": f"cur_{bots[-1].seq}" if more else None,
        }
    )


async def get_meeting(request: web.Request) -> web.Response:
    found = bot_or_404(request)
    if isinstance(found, web.Response):
        return found
    server = server_of(request)
    now = server.clock.now()
    if current.stale.get():
        now = _previous_change(found, now)
    return json_response(meeting_json(found, now))


def _previous_change(bot: Bot, now: float) -> float:
    """A moment just before the bot's latest status change (a lagging replica)."""
    elapsed = now - bot.starts_at
    passed = [offset for offset, _ in bot.timeline if offset <= elapsed]
    if len(passed) < 2:
        return now
    return bot.starts_at + passed[-1] - 1e-3


async def cancel_meeting(request: web.Request) -> web.Response:
    found = bot_or_404(request)
    if isinstance(found, web.Response):
        return found
    body = await read_json_object(request)
    if isinstance(body, str):
        return mavera_error(400, "invalid_field", body)
    reason = (body or {}).get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        return mavera_error(
            400,
            "invalid_field",
            "reason must be a string of at most 500 characters",
            param="reason",
        )
    unknown = set(body or {}) - {"reason"}
    if unknown:
        return mavera_error(
            400, "invalid_field", f"Unknown field: {sorted(unknown)[0]}", param=sorted(unknown)[0]
        )
    server = server_of(request)
    now = server.clock.now()
    status = found.status(now)
    if status in ("done", "fatal", "cancelled", "media_expired"):
        return mavera_error(
            400,
            "meeting_not_cancellable",
            f"Meeting is already {status} and cannot be cancelled",
            param="id",
        )
    found.cancelled_at = now
    found.cancel_reason = reason
    return json_response(
        {
            "id": found.id,
            "object": "meeting",
            "status": "cancelled",
            "cancelled_at": iso(now),
            "cancelled_by": "user_fake",
            "cancel_reason": reason,
        }
    )


async def list_workspaces(request: web.Request) -> web.Response:
    server = server_of(request)
    members = request.query.get("include_members") == "true"
    raw_limit = request.query.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        return mavera_error(
            400, "invalid_field", "limit must be an integer from 1 to 100", param="limit"
        )
    items = [workspace_json(server, ws_id, members=members) for ws_id in server.workspaces]
    return json_response({"object": "list", "data": items, "has_more": False, "next_cursor": None})


async def get_workspace(request: web.Request) -> web.Response:
    server = server_of(request)
    ws_id = request.match_info["id"]
    if ws_id not in server.workspaces:
        return mavera_error(404, "resource_not_found", "Workspace not found", param="id")
    return json_response(workspace_json(server, ws_id, members=True))


async def usage(request: web.Request) -> web.Response:
    server = server_of(request)
    return json_response(usage_json(server, current.key.get()))


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(prefix + "/meetings", create_meeting)
    app.router.add_get(prefix + "/meetings", list_meetings)
    app.router.add_get(prefix + "/meetings/{id}", get_meeting)
    app.router.add_post(prefix + "/meetings/{id}/cancel", cancel_meeting)
    app.router.add_get(prefix + "/meetings/{id}/transcript", _mavera_results.transcript)
    app.router.add_get(prefix + "/meetings/{id}/analysis", _mavera_results.analysis)
    app.router.add_post(
        prefix + "/meetings/{id}/schemas/{schemaId}/run", _mavera_results.run_schema
    )
    app.router.add_get(prefix + "/workspaces", list_workspaces)
    app.router.add_get(prefix + "/workspaces/{id}", get_workspace)
    app.router.add_get(prefix + "/usage", usage)
