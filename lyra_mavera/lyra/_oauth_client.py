"""A registered Lyra OAuth client: the sign-in URL, the code exchange and refreshes.

Lyra's docs and its one production client disagree on the endpoints (see the reference
notes): the defaults here are the ones proven in production (Cal.com's integration),
``https://app.lyra.so/oauth/authorize`` and ``https://app.lyra.so/api/oauth/token``; the
OpenAPI file names ``https://app.lyra.so/api/v1/oauth/authorize`` and ``.../token``.
Both are arguments. Token requests are JSON by default, as observed in production, or
form-encoded (RFC 6749) with ``token_encoding="form"``; client credentials go in the body.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import aiohttp
import attrs

from .._config import LYRA, resolve_base_url
from .._errors import (
    APIConnectionError,
    APITimeoutError,
    LyraMaveraError,
    ValidationError,
)
from ._tokens import OAuthError, OAuthToken, ReauthorizationRequired, _read_token_answer

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_TOKEN_URL",
    "SCOPES",
    "AuthorizationRequest",
    "OAuthClient",
]


DEFAULT_AUTHORIZE_URL = "https://app.lyra.so/oauth/authorize"
DEFAULT_TOKEN_URL = "https://app.lyra.so/api/oauth/token"
#: The scopes Lyra documents; others are passed through as given.
SCOPES = ("meeting.create", "webhook.create", "webhook.read", "webhook.delete")


@attrs.frozen(repr=False)
class AuthorizationRequest:
    """Where to send the user, and what to check when they come back."""

    url: str
    state: str
    code_verifier: str | None = None

    def __repr__(self) -> str:
        return f"AuthorizationRequest(url={self.url!r}, state=..., code_verifier=...)"


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _check_url(param: str, url: str) -> str:
    # Same rule as base URLs: secrets travel over https only (http for loopback fakes).
    try:
        return resolve_base_url(LYRA, url)
    except LyraMaveraError as exc:
        raise ValidationError(param, str(exc).replace("lyra_base_url", param)) from None


class OAuthClient:
    """A registered Lyra OAuth client (Settings > Developers > OAuth Clients)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        authorize_url: str = DEFAULT_AUTHORIZE_URL,
        token_url: str = DEFAULT_TOKEN_URL,
        token_encoding: Literal["json", "form"] = "json",
        timeout: float = 30.0,
    ) -> None:
        for name, value in (("client_id", client_id), ("client_secret", client_secret)):
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(name, "must be a non-empty string")
        if not isinstance(redirect_uri, str) or not urlsplit(redirect_uri).scheme:
            raise ValidationError("redirect_uri", "must be the absolute URI registered with Lyra")
        if token_encoding not in ("json", "form"):
            raise ValidationError("token_encoding", "must be 'json' or 'form'")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.authorize_url = _check_url("authorize_url", authorize_url)
        self.token_url = _check_url("token_url", token_url)
        self.token_encoding = token_encoding
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, token_url={self.token_url!r})"

    def authorization_url(
        self,
        scopes: Iterable[str] = ("meeting.create",),
        *,
        state: str | None = None,
        pkce: bool = False,
    ) -> AuthorizationRequest:
        """The URL to send the user to. Keep the returned ``state`` (and
        ``code_verifier`` with ``pkce=True``) for :meth:`exchange`."""
        scope_list = [scopes] if isinstance(scopes, str) else list(scopes)
        for s in scope_list:
            if not isinstance(s, str) or not s or " " in s:
                raise ValidationError("scopes", f"each scope must be one word, got {s!r}")
        state = state or secrets.token_urlsafe(24)
        params = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(scope_list),
            "response_type": "code",
            "state": state,
        }
        verifier = None
        if pkce:
            verifier = secrets.token_urlsafe(64)  # 86 unreserved characters
            params["code_challenge"] = _pkce_challenge(verifier)
            params["code_challenge_method"] = "S256"
        url = f"{self.authorize_url}?{urlencode(params, quote_via=quote)}"
        return AuthorizationRequest(url=url, state=state, code_verifier=verifier)

    async def exchange(
        self,
        callback_url: str,
        request: AuthorizationRequest,
        *,
        http: aiohttp.ClientSession | None = None,
    ) -> OAuthToken:
        """Trade the ``code`` on the redirect back (``callback_url``, the full URL or its
        query string) for a token, after checking ``state`` against ``request``.

        Before any request is sent: an ``error`` parameter raises :class:`OAuthError`
        with that code; a ``state`` that is missing, empty, repeated or different
        (compared in constant time as UTF-8, so any string is safe) raises
        ``OAuthError(error="state_mismatch")``; a ``code`` that is missing, empty or
        repeated raises ``OAuthError(error="invalid_request")``. Token requests use
        ``http`` if given (left open), else a connection of their own.
        """
        if not isinstance(callback_url, str):
            raise ValidationError("callback_url", "must be the callback URL or its query string")
        if not isinstance(request, AuthorizationRequest):
            raise ValidationError(
                "request", "must be the AuthorizationRequest from authorization_url()"
            )
        try:
            query = urlsplit(callback_url).query or callback_url.lstrip("?")
        except ValueError:  # e.g. a broken IPv6 host: nothing in it can be trusted
            query = ""
        params = parse_qs(query, keep_blank_values=True)
        error = params.get("error", [""])[0]
        if error:
            description = params.get("error_description", [None])[0]
            raise OAuthError(
                f"lyra sign-in was refused: {error[:100]}", error=error, description=description
            )
        if not _same_state(params.get("state", []), request.state):
            raise OAuthError(
                "lyra OAuth callback state is missing, repeated or does not match the "
                "request: refusing the code (a forged or stale callback)",
                error="state_mismatch",
            )
        codes = params.get("code", [])
        if len(codes) != 1 or not codes[0]:
            problem = "more than one code" if len(codes) > 1 else "no code"
            raise OAuthError(f"lyra OAuth callback carries {problem}", error="invalid_request")
        body = {
            "grant_type": "authorization_code",
            "code": codes[0],
            "redirect_uri": self.redirect_uri,
        }
        if request.code_verifier:
            body["code_verifier"] = request.code_verifier
        return await self._token_request(body, http, time.time)

    async def refresh(
        self, token: OAuthToken, *, http: aiohttp.ClientSession | None = None
    ) -> OAuthToken:
        """A new access token from ``token.refresh_token``; keeps the old refresh token
        when Lyra sends none. ``invalid_grant`` raises :class:`ReauthorizationRequired`.
        Uses ``http`` if given (left open), else a connection of its own."""
        return await self._refresh(token, http, time.time)

    async def _refresh(
        self, token: OAuthToken, http: aiohttp.ClientSession | None, clock: Callable[[], float]
    ) -> OAuthToken:
        if not isinstance(token, OAuthToken):
            raise ValidationError("token", "must be a lyra.OAuthToken")
        if not token.refresh_token:
            raise ReauthorizationRequired(
                "the lyra token has no refresh token: the user must sign in again",
                error="invalid_grant",
            )
        fresh = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": token.refresh_token}, http, clock
        )
        if fresh.refresh_token is None:
            fresh = attrs.evolve(fresh, refresh_token=token.refresh_token)
        if not fresh.scope and token.scope:
            fresh = attrs.evolve(fresh, scope=token.scope)
        return fresh

    async def _token_request(
        self,
        fields: dict[str, str],
        http: aiohttp.ClientSession | None,
        clock: Callable[[], float],
    ) -> OAuthToken:
        """POST to the token endpoint, on ``http`` or on a session of its own (token
        requests are rare: never a borrowed client that someone else may close)."""
        body = {**fields, "client_id": self.client_id, "client_secret": self._client_secret}
        if self.token_encoding == "json":
            kwargs: dict[str, Any] = {"json": body}
        else:
            kwargs = {"data": body}
        owned = http is None
        client = http or aiohttp.ClientSession()
        try:
            async with client.post(
                self.token_url,
                headers={"Accept": "application/json"},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
                **kwargs,
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise APITimeoutError(
                "lyra token endpoint did not answer in time",
                provider="lyra",
                sent=not isinstance(exc, aiohttp.ConnectionTimeoutError),
            ) from exc
        except aiohttp.ClientError as exc:
            raise APIConnectionError(
                f"lyra token endpoint unreachable ({type(exc).__name__})",
                provider="lyra",
                sent=not isinstance(exc, aiohttp.ClientConnectorError),
            ) from exc
        finally:
            if owned:
                await client.close()
        return _read_token_answer(status, raw, received_at=clock())


def _same_state(received: list[str], expected: object) -> bool:
    """Exactly one ``state`` that equals a non-empty expected one."""
    if len(received) != 1 or not isinstance(expected, str) or not expected:
        return False
    return secrets.compare_digest(
        received[0].encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
