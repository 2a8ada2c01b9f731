"""What the fake server sends and accepts on the wire: error shapes and format checks."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..mavera._links import platform_of

__all__ = [
    "MAVERA_ERROR_TYPES",
    "is_email",
    "iso",
    "json_response",
    "lyra_error",
    "mavera_error",
    "parse_iso",
    "read_json_object",
    "supported_link",
]

MAVERA_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_credits",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    429: "rate_limit_error",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def mavera_error(
    status: int,
    code: str,
    message: str,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """Mavera's documented envelope."""
    error = {
        "message": message,
        "type": MAVERA_ERROR_TYPES.get(status, "api_error"),
        "code": code,
        "param": param,
    }
    return json_response({"error": error}, status, headers)


def lyra_error(
    status: int,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    """Lyra's ``{"error": "..."}`` (``POST /auth`` adds ``valid``)."""
    return json_response({**(extra or {}), "error": message}, status, headers)


def iso(ts: float | None) -> str | None:
    """Unix seconds as Mavera writes them: ``2026-11-07T05:31:56Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: Any) -> float | None:
    """An RFC 3339 date-time (with a zone) as Unix seconds; ``None`` if it is not one."""
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def is_email(value: Any) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value))


def supported_link(value: str) -> str | None:
    """The platform of a link Mavera can join, else ``None``."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.hostname:
        return None
    return platform_of(parts.hostname)


async def read_json_object(request: web.Request) -> dict[str, Any] | str | None:
    """The body as a JSON object; ``None`` when empty; an error text when invalid."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return "request body is not valid JSON"
    if not isinstance(data, dict):
        return "request body must be a JSON object"
    return data
