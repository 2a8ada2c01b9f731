"""Lyra OAuth2 (authorization code, optional PKCE): sign users in, keep tokens fresh.

Lyra's docs and its one production client disagree on the endpoints (see the reference
notes): the defaults here are the ones proven in production (Cal.com's integration),
``https://app.lyra.so/oauth/authorize`` and ``https://app.lyra.so/api/oauth/token``; the
OpenAPI file names ``https://app.lyra.so/api/v1/oauth/authorize`` and ``.../token``.
Both are arguments. Token requests are JSON by default, as observed in production, or
form-encoded (RFC 6749) with ``token_encoding="form"``; client credentials go in the body.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import inspect
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import aiohttp
import attrs

from .._config import LYRA, mask, resolve_base_url
from .._errors import (
    APIConnectionError,
    APITimeoutError,
    LyraMaveraError,
    ResponseValidationError,
    ValidationError,
)
from .._middleware import Handler, Request, Response

if TYPE_CHECKING:
    from .._session import AsyncSession

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_TOKEN_URL",
    "SCOPES",
    "AuthorizationRequest",
    "OAuth",
    "OAuthClient",
    "OAuthError",
    "OAuthToken",
    "ReauthorizationRequired",
]

DEFAULT_AUTHORIZE_URL = "https://app.lyra.so/oauth/authorize"
DEFAULT_TOKEN_URL = "https://app.lyra.so/api/oauth/token"
#: The scopes Lyra documents; others are passed through as given.
SCOPES = ("meeting.create", "webhook.create", "webhook.read", "webhook.delete")


class OAuthError(LyraMaveraError):
    """The OAuth flow failed: ``error`` is the OAuth code (``invalid_grant``,
    ``access_denied``, ``state_mismatch``...), ``description`` the server's words."""

    def __init__(
        self, message: str, *, error: str, description: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.error = error
        self.description = description
        self.status = status


class ReauthorizationRequired(OAuthError):
    """The refresh token is no longer valid (``invalid_grant``): the user must sign in
    again through :meth:`OAuthClient.authorization_url`."""


def _masked(value: str | None) -> str:
    return "None" if value is None else repr(mask(value))


#: What may follow "Bearer " in a header: visible ASCII, no spaces.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int too large for a float
        return False


def _token_problems(data: Mapping[str, Any], *, lifetime: str) -> list[tuple[str, str]]:
    """What does not fit a token in ``data``, as ``(field, problem)`` pairs, never showing
    a value. ``lifetime`` is ``"expires_in"`` (seconds from now, in a token endpoint's
    answer) or ``"expires_at"`` (Unix time, in stored data)."""
    problems = []
    access = data.get("access_token")
    if access is None:
        problems.append(("access_token", "required"))
    elif not isinstance(access, str):
        problems.append(("access_token", f"expected a string, got {_json_type(access)}"))
    elif not _TOKEN_CHARS.fullmatch(access):
        problems.append(("access_token", "expected a non-empty string of visible ASCII characters"))
    for name in ("refresh_token", "token_type"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            problems.append((name, f"expected a string, got {_json_type(value)}"))
    scope = data.get("scope")
    if isinstance(scope, list | tuple):
        if not all(isinstance(s, str) and s and s.split() == [s] for s in scope):
            problems.append(("scope", "expected a string, or an array of one-word strings"))
    elif scope is not None and not isinstance(scope, str):
        problems.append(("scope", f"expected a string, got {_json_type(scope)}"))
    when = data.get(lifetime)
    if when is not None:
        if isinstance(when, bool) or not isinstance(when, int | float):
            problems.append((lifetime, f"expected a number of seconds, got {_json_type(when)}"))
        elif not _finite(when) or (lifetime == "expires_in" and when < 0):
            problems.append((lifetime, "expected a finite, non-negative number of seconds"))
    return problems


def _unfit(lines: Iterable[str], status: int | None) -> ResponseValidationError:
    path = tuple(lines)
    return ResponseValidationError(
        "lyra token endpoint answered with a token that does not fit: " + "; ".join(path),
        provider="lyra",
        path=path,
        status=status,
    )


@attrs.frozen(repr=False)
class OAuthToken:
    """An access token and what goes with it. ``expires_at`` is Unix time (computed from
    ``expires_in`` when the token was received). ``to_dict``/``from_dict`` store it."""

    access_token: str
    refresh_token: str | None = None
    token_type: str = "Bearer"
    scope: tuple[str, ...] = ()
    expires_at: float | None = None

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at is not None and self.expires_at - seconds <= now

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "scope": " ".join(self.scope),
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OAuthToken:
        """Rebuild a stored token (the output of :meth:`to_dict`). Data that does not
        fit raises :class:`ValidationError` naming the field (``token.scope``)."""
        if not isinstance(data, Mapping):
            raise ValidationError("token", "must be a mapping (the output of to_dict())")
        for field, problem in _token_problems(data, lifetime="expires_at"):
            raise ValidationError(f"token.{field}", problem)
        expires_at = data.get("expires_at")
        return cls._build(data, float(expires_at) if expires_at is not None else None)

    @classmethod
    def from_response(
        cls, data: Any, *, received_at: float, status: int | None = 200
    ) -> OAuthToken:
        """Read a token endpoint's JSON answer. One that does not fit (not an object,
        a field of the wrong type, an empty ``access_token``, a negative or non-finite
        ``expires_in``) raises :class:`ResponseValidationError`, whose ``path`` names
        the fields (``$.scope: expected a string, got a number``)."""
        if not isinstance(data, dict):
            raise _unfit([f"$: expected a JSON object, got {_json_type(data)}"], status)
        problems = _token_problems(data, lifetime="expires_in")
        if problems:
            raise _unfit((f"$.{field}: {problem}" for field, problem in problems), status)
        expires_in = data.get("expires_in")
        expires_at = received_at + float(expires_in) if expires_in is not None else None
        return cls._build(data, expires_at)

    @classmethod
    def _build(cls, data: Mapping[str, Any], expires_at: float | None) -> OAuthToken:
        # Only for data that passed _token_problems.
        scope = data.get("scope") or ""
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token") or None,
            token_type=data.get("token_type") or "Bearer",
            scope=tuple(scope.split()) if isinstance(scope, str) else tuple(scope),
            expires_at=expires_at,
        )

    def __repr__(self) -> str:
        expiry = f"{self.expires_at:.0f}" if self.expires_at is not None else "None"
        return (
            f"OAuthToken(access_token={_masked(self.access_token)}, "
            f"refresh_token={_masked(self.refresh_token)}, scope={' '.join(self.scope)!r}, "
            f"expires_at={expiry})"
        )


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


def _read_token_answer(status: int, raw: bytes, *, received_at: float) -> OAuthToken:
    """The token in a token endpoint's answer, or the error the answer is.

    An ``error`` member (even in a 200, as Lyra's production client reads it) or any
    status but 200 is an :class:`OAuthError` carrying the OAuth code (``http_<status>``
    when the body names none); ``invalid_grant`` is :class:`ReauthorizationRequired`.
    A 200 without an error whose body is not a token is :class:`ResponseValidationError`.
    """
    data: Any = None
    not_json = None
    if not raw.strip():
        not_json = "an empty body"
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            not_json = "a body that is not JSON"
    error = data.get("error") if isinstance(data, dict) else None
    if status != 200 or error:
        code = error if isinstance(error, str) else f"http_{status}"
        description = data.get("error_description") if isinstance(data, dict) else None
        cls = ReauthorizationRequired if code == "invalid_grant" else OAuthError
        advice = ": the user must sign in again" if cls is ReauthorizationRequired else ""
        said = f"HTTP {status}" if code == f"http_{status}" else f"{code[:100]}, HTTP {status}"
        raise cls(
            f"lyra token endpoint refused ({said}){advice}",
            error=code,
            description=description if isinstance(description, str) else None,
            status=status,
        )
    if not_json is not None:
        raise _unfit([f"$: expected a JSON object, got {not_json}"], status)
    return OAuthToken.from_response(data, received_at=received_at, status=status)


OnToken = Callable[[OAuthToken], Awaitable[Any] | Any]


def _retrieve(task: asyncio.Task[None]) -> None:
    # A refresh whose waiters were all cancelled: its outcome is not an error to log.
    if not task.cancelled():
        task.exception()


class OAuth:
    """OAuth credentials for ``AsyncSession(lyra_oauth=...)``, used as its Lyra auth.

    The token is refreshed shortly (``leeway`` seconds) before it expires and once after
    a 401. One refresh runs at a time, however many sessions and concurrent calls share
    this object: every call that needs it waits for that refresh and gets its outcome,
    success or failure. A transient failure (a 5xx, an unreachable token endpoint, an
    answer that does not fit) fails only the calls that waited for it, and the next call
    tries again; an unreachable token endpoint is an :class:`APIConnectionError` with
    ``sent=False``, since the Lyra request itself was not carried out. ``invalid_grant``
    is final: that refresh's calls and every later one raise
    :class:`ReauthorizationRequired` at once, sending nothing, until :meth:`set_token`
    gives a new token (the user signed in again).

    ``on_token(token)`` (plain or async) receives every new token this object obtains by
    refreshing, once each and one at a time, so it can be stored (Lyra may rotate refresh
    tokens: the stored one then stops working). Tokens you give it (here or through
    :meth:`set_token`) are not passed to it. If it raises, the new token is still used
    (the old refresh token may already be spent) and its exception is raised to the
    calls that waited for that refresh.

    Token requests use a short-lived HTTP connection of their own, never a session's:
    closing one session leaves the others sharing this object working. ``clock`` (Unix
    seconds) is for tests; it also dates the tokens this object receives.
    """

    def __init__(
        self,
        client: OAuthClient,
        token: OAuthToken,
        *,
        on_token: OnToken | None = None,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(client, OAuthClient):
            raise ValidationError("client", "must be a lyra.OAuthClient")
        if not isinstance(token, OAuthToken):
            raise ValidationError("token", "must be a lyra.OAuthToken (see OAuthToken.from_dict)")
        self.client = client
        self._token = token
        self._generation = 0  # +1 with every new token
        self._on_token = on_token
        self.leeway = leeway
        self._clock = clock
        self._refreshing: asyncio.Task[None] | None = None
        self._refreshing_generation = -1
        self._refused: ReauthorizationRequired | None = None
        #: How many refreshes this object has made.
        self.refreshes = 0

    @property
    def token(self) -> OAuthToken:
        """The token in use: the latest refreshed or given one."""
        return self._token

    def set_token(self, token: OAuthToken) -> None:
        """Use ``token`` from now on, typically the user's new sign-in
        (:meth:`OAuthClient.exchange`) after :class:`ReauthorizationRequired`: calls work
        again. Calls waiting for a refresh still in flight go on with this token,
        whatever that refresh's outcome, and it does not replace this token.
        ``on_token`` is not called: store ``token`` yourself."""
        if not isinstance(token, OAuthToken):
            raise ValidationError("token", "must be a lyra.OAuthToken (see OAuthToken.from_dict)")
        self._token = token
        self._generation += 1
        self._refused = None

    def bind(self, session: AsyncSession) -> None:
        """Called by each :class:`AsyncSession` given this object; does nothing, since
        token requests never borrow a session's HTTP client."""

    def __repr__(self) -> str:
        return f"OAuth({self.client!r}, token={self._token!r})"

    async def _fresh_token(self, generation: int) -> tuple[OAuthToken, int]:
        """The token that follows the one of ``generation``: already there, or from the
        one refresh in flight, started here if there is none. Its failure is raised
        here as this caller's own copy."""
        if self._refused is not None:
            raise copy.copy(self._refused)
        if generation == self._generation:
            task = self._refreshing
            loop = asyncio.get_running_loop()
            if (
                task is None
                or task.done()
                or task.get_loop() is not loop
                or self._refreshing_generation != generation
            ):
                task = loop.create_task(self._refresh(self._token, generation))
                task.add_done_callback(_retrieve)
                self._refreshing, self._refreshing_generation = task, generation
            try:
                await asyncio.shield(task)
            except LyraMaveraError as exc:
                if generation != self._generation and self._refused is None:
                    return self._token, self._generation  # set_token() came meanwhile
                mine = copy.copy(exc)
                if isinstance(mine, APIConnectionError):
                    mine.sent = False  # the Lyra request was not sent, or refused with a 401
                raise mine from exc.__cause__
        return self._token, self._generation

    async def _refresh(self, used: OAuthToken, generation: int) -> None:
        """The one refresh in flight, shared by every caller through its task."""
        try:
            try:
                fresh = await self.client._refresh(used, None, self._clock)
            except ReauthorizationRequired as exc:
                if generation == self._generation:  # not if set_token() came meanwhile
                    self._refused = copy.copy(exc)
                raise
            if generation != self._generation:
                return  # set_token() gave another token meanwhile: it wins
            self._token = fresh
            self._generation += 1
            self.refreshes += 1
            if self._on_token is not None:
                stored = self._on_token(fresh)
                if inspect.isawaitable(stored):
                    await stored
        finally:
            if self._refreshing is asyncio.current_task():
                self._refreshing = None

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        if self._refused is not None:
            raise copy.copy(self._refused)
        token, generation = self._token, self._generation
        if token.refresh_token and token.expires_within(self.leeway, self._clock()):
            token, generation = await self._fresh_token(generation)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = await call_next(request)
        if response.status != 401:
            return response
        if generation == self._generation and not token.refresh_token:
            return response  # nothing to refresh with: the 401 stands
        # Expired or revoked early: refresh once and try again (a 401 was not processed).
        token, _ = await self._fresh_token(generation)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        return await call_next(request)
