"""The fake Lyra OAuth2 server: authorize (auto-approving redirect) and token endpoints.

Served at both URL families Lyra is known by: ``/lyra/oauth/authorize`` with
``/lyra/api/oauth/token`` (production), and ``/lyra/api/v1/oauth/authorize|token``
(OpenAPI). Access tokens expire on the fake clock; refresh tokens rotate unless
``fake.oauth_rotate_refresh_tokens`` is off, and can be left out of refresh answers
with ``fake.oauth_send_refresh_token = False``. A client's next token answers can be
scripted (held, replaced by any status and body, or dropped) with
``fake.oauth_apps[fake.oauth_client_id].answer_next(...)``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode

import attrs
from aiohttp import web

from ._current import server_of
from ._wire import json_response

__all__ = ["OAuthApp", "add_routes"]


#: ``answer_next(body=REAL)``: give the real answer (after ``hold``, if any).
REAL: Any = object()


@attrs.define
class _Scripted:
    body: Any
    raw: bytes | str | None
    status: int
    content_type: str
    hold: asyncio.Event | None
    drop: bool


@attrs.define
class OAuthApp:
    """A registered OAuth client of the fake Lyra."""

    client_id: str
    client_secret: str
    redirect_uri: str
    scripted: list[_Scripted] = attrs.field(factory=list, repr=False)

    def answer_next(
        self,
        body: Any = REAL,
        *,
        status: int = 200,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
        hold: asyncio.Event | None = None,
        drop: bool = False,
    ) -> None:
        """Script the answer to this client's next token request (after client
        authentication; each call scripts one more request, in order).

        ``body`` is sent as JSON (``NaN`` and huge numbers included); ``raw`` is sent
        as-is instead (HTML, broken JSON, ``b""``) with ``content_type``; with neither,
        the real answer is given. ``hold`` keeps the request waiting until the event is
        set; ``drop`` then closes the connection without answering.
        """
        self.scripted.append(_Scripted(body, raw, status, content_type, hold, drop))


@attrs.define
class _Grant:
    client_id: str
    scopes: frozenset[str]
    redirect_uri: str = ""
    challenge: str | None = None


def _error(status: int, error: str, description: str) -> web.Response:
    return json_response({"error": error, "error_description": description}, status)


async def authorize(request: web.Request) -> web.StreamResponse:
    fake = server_of(request)
    q = request.query
    app = fake.oauth_apps.get(q.get("client_id", ""))
    if app is None or q.get("redirect_uri") != app.redirect_uri:
        return _error(400, "invalid_request", "unknown client_id or redirect_uri mismatch")
    if q.get("response_type") != "code":
        return _error(400, "unsupported_response_type", "response_type must be code")
    if "code_challenge" in q and q.get("code_challenge_method") != "S256":
        return _error(400, "invalid_request", "only S256 PKCE is supported")
    code = fake.remember_secret("code_" + secrets.token_urlsafe(16))
    fake.oauth_codes[code] = _Grant(
        app.client_id,
        frozenset(q.get("scope", "").split()),
        app.redirect_uri,
        q.get("code_challenge"),
    )
    params = {"code": code, "state": q.get("state", "")}
    raise web.HTTPFound(f"{app.redirect_uri}?{urlencode(params)}")


async def _form(request: web.Request) -> dict[str, str]:
    raw = await request.read()
    if request.content_type == "application/json":
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


def _issue(request: web.Request, grant: _Grant, *, refresh_token: str | None) -> dict[str, Any]:
    fake = server_of(request)
    access = fake.add_key(
        "lyra",
        "lyra_oauth_" + secrets.token_hex(16),
        scopes=grant.scopes,
        expires_at=fake.clock.now() + fake.oauth_token_ttl,
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": int(fake.oauth_token_ttl),
        "scope": " ".join(sorted(grant.scopes)),
    }
    if fake.oauth_send_refresh_token:
        if refresh_token is None or fake.oauth_rotate_refresh_tokens:
            refresh_token = fake.remember_secret("lyra_refresh_" + secrets.token_hex(16))
        fake.oauth_refresh[refresh_token] = grant
        body["refresh_token"] = refresh_token
    return body


async def token(request: web.Request) -> web.Response:
    fake = server_of(request)
    fake.counters["oauth_token_requests"] += 1
    form = await _form(request)
    app = fake.oauth_apps.get(form.get("client_id", ""))
    if app is None or not secrets.compare_digest(form.get("client_secret", ""), app.client_secret):
        return _error(401, "invalid_client", "client authentication failed")
    grant_type = form.get("grant_type")
    if grant_type == "refresh_token":
        fake.counters["oauth_refreshes"] += 1
    if app.scripted:
        scripted = app.scripted.pop(0)
        if scripted.hold is not None:
            await scripted.hold.wait()
        if scripted.drop:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never written: the connection is gone
        if scripted.raw is not None:
            raw = scripted.raw.encode() if isinstance(scripted.raw, str) else scripted.raw
            return web.Response(
                body=raw, status=scripted.status, content_type=scripted.content_type
            )
        if scripted.body is not REAL:
            return web.Response(
                text=json.dumps(scripted.body),
                status=scripted.status,
                content_type=scripted.content_type,
            )
    if grant_type == "authorization_code":
        grant = fake.oauth_codes.pop(form.get("code", ""), None)
        if grant is None or grant.client_id != app.client_id:
            return _error(400, "invalid_grant", "unknown or used authorization code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _error(400, "invalid_grant", "redirect_uri does not match the authorization")
        if grant.challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                return _error(400, "invalid_grant", "PKCE code_verifier does not match")
        return json_response(_issue(request, grant, refresh_token=None))
    if grant_type == "refresh_token":
        presented = form.get("refresh_token", "")
        grant = fake.oauth_refresh.get(presented)
        if grant is None or grant.client_id != app.client_id or presented in fake.oauth_revoked:
            return _error(400, "invalid_grant", "refresh token is invalid, expired or revoked")
        if fake.oauth_rotate_refresh_tokens:
            del fake.oauth_refresh[presented]
        return json_response(_issue(request, grant, refresh_token=presented))
    return _error(
        400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
    )


def add_routes(app: web.Application) -> None:
    for base in ("/lyra/oauth", "/lyra/api/v1/oauth"):
        app.router.add_get(base + "/authorize", authorize)
    for base in ("/lyra/api/oauth", "/lyra/api/v1/oauth"):
        app.router.add_post(base + "/token", token)
