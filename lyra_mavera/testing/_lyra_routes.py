"""The fake Lyra API: ``POST /auth`` and ``POST /meeting``."""

from __future__ import annotations

import secrets

from aiohttp import web

from . import _current as current
from ._current import server_of
from ._wire import is_email, json_response, lyra_error, parse_iso, read_json_object

__all__ = ["add_routes"]


async def verify(request: web.Request) -> web.Response:
    info = server_of(request).key_info(current.key.get())
    return json_response({"valid": True, "userId": info.user_id, "orgId": info.org_id})


async def create_meeting(request: web.Request) -> web.Response:
    server = server_of(request)
    scopes = server.key_info(current.key.get()).scopes
    if scopes is not None and "meeting.create" not in scopes:
        return lyra_error(403, "Insufficient scope: meeting.create is required")
    body = await read_json_object(request)
    if body is None:
        return lyra_error(400, "Request body is required")
    if isinstance(body, str):
        return lyra_error(400, body.capitalize())
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        return lyra_error(400, "title is required and must be a non-empty string")
    start = body.get("start")
    if start is not None and parse_iso(start) is None:
        return lyra_error(400, "start must be an ISO 8601 date-time")
    attendees = body.get("attendees")
    if attendees is not None:
        listed = [attendees] if isinstance(attendees, str) else attendees
        if not isinstance(listed, list) or not all(is_email(a) for a in listed):
            return lyra_error(
                400, "attendees must be an email address or a list of email addresses"
            )
    meeting_id = f"meeting_{secrets.token_hex(6)}"
    slug = "-".join(secrets.token_hex(2)[:3] for _ in range(3))
    server.lyra_meetings[meeting_id] = {"title": title, "start": start, "attendees": attendees}
    return json_response(
        {
            "type": "lyra_video",
            "id": meeting_id,
            "password": "",
            "url": f"https://app.lyra.so/meeting/{slug}",
        }
    )


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(prefix + "/auth", verify)
    app.router.add_post(prefix + "/meeting", create_meeting)
