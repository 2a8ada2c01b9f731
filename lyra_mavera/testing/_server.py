"""``FakeServer``: Lyra and Mavera on one loopback port, for tests and demos."""

from __future__ import annotations

import collections
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web

from .._session import AsyncSession
from ..lyra._oauth_client import OAuthClient
from . import _current as current
from . import _lyra_routes, _mavera_routes, _oauth_routes
from ._bots import BotScript, BotStore
from ._clock import FakeClock
from ._current import FAKE, Fake
from ._faults import Fault, FaultKind, Faults, KeyLimiter
from ._inject import apply_fault
from ._oauth_routes import OAuthApp
from ._records import KeyInfo, RecordedRequest
from ._wire import lyra_error, mavera_error

__all__ = ["FakeServer", "KeyInfo", "RecordedRequest"]

LYRA_PREFIX = "/lyra/api/v1"
MAVERA_PREFIX = "/mavera/api/v1"
_UNSET: Any = object()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeServer:
    """Lyra and Mavera as documented, on ``127.0.0.1`` and a free port.

    ::

        async with FakeServer(time_scale=100) as fake:
            async with fake.session() as s:
                bot = await s.mavera.meetings.create("https://zoom.us/j/85000001")

    ``rpm`` is each Mavera key's limit per ``window`` seconds (60 per minute, Mavera's
    Starter tier, by default; ``None`` for no limit); ``lyra_rpm`` the same for Lyra
    (Lyra documents none, so unlimited by default). ``time_scale`` speeds up the clock
    bots live on; ``seed`` makes fault injection repeatable. ``script`` is the default
    :class:`BotScript` for every bot. ``clock`` replaces the server's clock (e.g. a
    ``FakeClock(virtual=True)`` also given to the SDK with ``use_clock``, so both share
    one time line; ``time_scale`` is then the clock's own).
    """

    def __init__(
        self,
        *,
        rpm: int | None = 60,
        lyra_rpm: int | None = None,
        window: float = 60.0,
        time_scale: float = 1.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        script: BotScript | None = None,
        clock: FakeClock | None = None,
    ) -> None:
        if clock is not None and not isinstance(clock, FakeClock):
            raise TypeError("clock must be a lyra_mavera.testing.FakeClock")
        self.clock = clock if clock is not None else FakeClock(time_scale)
        self.faults = Faults(seed)
        self.bots = BotStore(self.clock)
        self.requests: list[RecordedRequest] = []
        #: Requests per ``"METHOD /route"`` and per status, faults by kind, 429s sent.
        self.counters: collections.Counter[str] = collections.Counter()
        self.lyra_meetings: dict[str, dict[str, Any]] = {}
        self.workspaces: dict[str, dict[str, Any]] = {
            "ws_default": {"name": "Personal", "type": "user"},
            "ws_sales": {"name": "Sales", "type": "starter"},
        }
        self.default_workspace = "ws_default"
        self.record_requests = True
        self._rpm = rpm
        self._lyra_rpm = lyra_rpm
        self._window = window
        self._host = host
        self._port = port
        self._default_script = script or BotScript()
        self._scripts: dict[str, BotScript] = {}
        self._keys: dict[str, KeyInfo] = {}
        self._runner: web.AppRunner | None = None
        # OAuth (Lyra): one registered client out of the box.
        self.oauth_token_ttl = 3600.0
        self.oauth_rotate_refresh_tokens = True
        self.oauth_send_refresh_token = True
        self.oauth_codes: dict[str, Any] = {}
        self.oauth_refresh: dict[str, Any] = {}
        self.oauth_revoked: set[str] = set()
        self.oauth_apps: dict[str, OAuthApp] = {}
        self.oauth_client_id = "client_fake_" + secrets.token_hex(4)
        self.oauth_client_secret = self.remember_secret("secret_" + secrets.token_hex(16))
        self.oauth_redirect_uri = "https://app.example/callback"
        self.oauth_apps[self.oauth_client_id] = OAuthApp(
            self.oauth_client_id, self.oauth_client_secret, self.oauth_redirect_uri
        )
        self.lyra_api_key = self.add_key("lyra")
        self.mavera_api_key = self.add_key("mavera")
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Start serving; the port is known afterwards."""
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        fake: Fake = self
        app[FAKE] = fake
        _lyra_routes.add_routes(app, LYRA_PREFIX)
        _oauth_routes.add_routes(app)
        _mavera_routes.add_routes(app, MAVERA_PREFIX)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving (idempotent); ``async with`` calls it."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, the root both fake APIs live under."""
        if not self.port:
            raise RuntimeError("FakeServer is not started: use 'async with FakeServer() as fake'")
        return f"http://{self._host}:{self.port}"

    @property
    def lyra_base_url(self) -> str:
        """The fake Lyra API's base URL, for ``AsyncSession(lyra_base_url=...)``."""
        return self.base_url + LYRA_PREFIX

    @property
    def mavera_base_url(self) -> str:
        """The fake Mavera API's base URL, for ``AsyncSession(mavera_base_url=...)``."""
        return self.base_url + MAVERA_PREFIX

    @property
    def lyra_oauth_authorize_url(self) -> str:
        """The fake Lyra OAuth authorization endpoint (``OAuthClient(authorize_url=...)``)."""
        return self.base_url + "/lyra/oauth/authorize"

    @property
    def lyra_oauth_token_url(self) -> str:
        """The fake Lyra OAuth token endpoint (``OAuthClient(token_url=...)``)."""
        return self.base_url + "/lyra/api/oauth/token"

    def oauth_client(self, **kwargs: Any) -> OAuthClient:
        """A :class:`lyra_mavera.lyra.OAuthClient` registered with this fake."""
        options: dict[str, Any] = {
            "authorize_url": self.lyra_oauth_authorize_url,
            "token_url": self.lyra_oauth_token_url,
        }
        options.update(kwargs)
        return OAuthClient(
            self.oauth_client_id, self.oauth_client_secret, self.oauth_redirect_uri, **options
        )

    def remember_secret(self, value: str) -> str:
        """Every secret the fake makes (keys, tokens, codes) passes through here, so a
        test suite can hook it to check that none of them leaks."""
        return value

    def expire_token(self, access_token: str) -> None:
        """Make an OAuth access token expire now (the client does not know yet)."""
        self._keys[access_token].expires_at = self.clock.now()

    def revoke_refresh_token(self, refresh_token: str) -> None:
        """Make a refresh token unusable: refreshing with it answers ``invalid_grant``."""
        self.oauth_revoked.add(refresh_token)

    def session(self, **kwargs: Any) -> AsyncSession:
        """An :class:`AsyncSession` wired to this fake (keyword arguments override). It
        ignores ``HTTP_PROXY``: a proxy has no business between a test and its fake."""
        options: dict[str, Any] = {
            "lyra_api_key": self.lyra_api_key,
            "mavera_api_key": self.mavera_api_key,
            "lyra_base_url": self.lyra_base_url,
            "mavera_base_url": self.mavera_base_url,
            "trust_env": False,
        }
        if kwargs.get("lyra_oauth") is not None:
            del options["lyra_api_key"]  # the OAuth token signs Lyra calls instead
        options.update(kwargs)
        return AsyncSession(**options)

    def __repr__(self) -> str:
        state = f"port {self.port}" if self.port else "not started"
        return f"<FakeServer {state}, {len(self.bots)} bots, {len(self.requests)} requests>"

    # -- keys, scripts, faults -----------------------------------------------------

    def add_key(
        self,
        provider: str,
        key: str | None = None,
        *,
        rpm: int | None = _UNSET,
        window: float | None = None,
        scopes: frozenset[str] | None = None,
        expires_at: float | None = None,
    ) -> str:
        """Register a key for ``provider`` with its own rate limit; returns the key."""
        if provider not in ("lyra", "mavera"):
            raise ValueError("provider must be 'lyra' or 'mavera'")
        if key is None:
            key = ("lyra_fake_" if provider == "lyra" else "mvra_live_fake") + secrets.token_hex(12)
        if rpm is _UNSET:
            rpm = self._rpm if provider == "mavera" else self._lyra_rpm
        limiter = KeyLimiter(rpm, window or self._window) if rpm is not None else None
        n = len(self._keys) + 1
        self._keys[key] = KeyInfo(
            provider,
            limiter,
            user_id=f"user_{n:03d}",
            org_id="org_fake",
            scopes=scopes,
            expires_at=expires_at,
        )
        return self.remember_secret(key)

    def revoke_key(self, key: str) -> None:
        """Make a key unusable: requests with it answer 401."""
        self._keys[key].revoked = True

    def key_info(self, key: str) -> KeyInfo:
        """What the fake knows of a key: provider, rate limiter, user, revocation."""
        return self._keys[key]

    def script(
        self, meeting_url: str, script: BotScript | None = None, **options: Any
    ) -> BotScript:
        """Script how bots sent to ``meeting_url`` behave (``BotScript`` fields as
        keyword arguments, e.g. ``fatal_at="in_waiting_room"``)."""
        chosen = script or attrs.evolve(self._default_script, **options)
        self._scripts[meeting_url] = chosen
        return chosen

    def script_for(self, meeting_url: str) -> BotScript:
        """The :class:`BotScript` bots sent to ``meeting_url`` follow."""
        return self._scripts.get(meeting_url, self._default_script)

    def inject(self, kind: FaultKind, rate: float = 1.0, **options: Any) -> Fault:
        """Inject a :class:`Fault`, e.g.
        ``inject("status", 0.1, status=503, retry_after=2, route="GET /meetings/{id}")``."""
        return self.faults.add(Fault(kind, rate, **options))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    def bots_for_link(self, meeting_url: str) -> int:
        """How many bots were created for one meeting link (duplicates show here)."""
        return self.bots.per_link.get(meeting_url, 0)

    def requests_to(self, method: str, route: str) -> list[RecordedRequest]:
        """The recorded requests for ``"POST", "/meetings"`` and the like."""
        return [r for r in self.requests if r.method == method and r.route == route]

    # -- the middleware every request goes through -----------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        provider = (
            "lyra"
            if path.startswith("/lyra/")
            else "mavera"
            if path.startswith(MAVERA_PREFIX)
            else ""
        )
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else path
        for prefix in (LYRA_PREFIX, MAVERA_PREFIX, "/lyra/api", "/lyra"):
            if route.startswith(prefix + "/"):
                route = route[len(prefix) :]
                break
        body = await request.read()
        record = RecordedRequest(
            provider=provider,
            method=request.method,
            path=path,
            route=route,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
            time=time.time(),
        )
        if self.record_requests:
            self.requests.append(record)
        self.counters[f"{request.method} {route}"] += 1
        response = await self._handle(request, handler, provider, route, record)
        record.status = response.status
        self.counters[f"status_{response.status}"] += 1
        return response

    async def _handle(
        self,
        request: web.Request,
        handler: Handler,
        provider: str,
        route: str,
        record: RecordedRequest,
    ) -> web.StreamResponse:
        if route.startswith("/oauth/") and request.match_info.http_exception is None:
            return await handler(request)  # the OAuth endpoints take no bearer token
        if not provider or request.match_info.http_exception is not None:
            status = (
                request.match_info.http_exception.status
                if request.match_info.http_exception
                else 404
            )
            if provider == "lyra":
                return lyra_error(status, "Not found")
            return mavera_error(status, "resource_not_found", "Unknown route")
        # Keep-alive connections reuse one task: reset what the last request set.
        current.stale.set(False)
        refused, headers = self._authorize(request, provider, route)
        if refused is not None:
            return refused
        fault = self.faults.pick(provider, f"{request.method} {route}")
        record.fault = fault.kind if fault else None
        response = await apply_fault(fault, request, handler, provider)
        for name, value in headers.items():
            response.headers[name] = value
        response.headers["X-Request-Id"] = "req_" + secrets.token_hex(8)
        return response

    def _authorize(
        self, request: web.Request, provider: str, route: str
    ) -> tuple[web.Response | None, dict[str, str]]:
        auth = request.headers.get("Authorization")
        token = auth[7:].strip() if auth and auth.startswith("Bearer ") else None
        info = self._keys.get(token) if token else None
        expired = info is not None and info.expires_at is not None
        expired = expired and self.clock.now() >= info.expires_at  # type: ignore[union-attr,operator]
        if info is None or info.provider != provider or info.revoked or expired:
            if provider == "lyra":
                extra = {"valid": False} if route == "/auth" else None
                message = "Token expired" if expired else "Missing or invalid token"
                return lyra_error(401, message, extra=extra), {}
            if auth is None:
                return mavera_error(401, "missing_api_key", "No API key provided"), {}
            if info is not None and info.revoked:
                return mavera_error(401, "revoked_api_key", "This API key has been revoked"), {}
            return mavera_error(401, "invalid_api_key", "Invalid API key"), {}
        assert token is not None
        current.key.set(token)
        if info.limiter is None:
            return None, {}
        allowed, remaining, reset, retry_after = info.limiter.hit()
        headers = {}
        if provider == "mavera":
            headers = {
                "X-RateLimit-Limit": str(info.limiter.rpm),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(math.ceil(reset)),
            }
        if allowed:
            return None, headers
        self.counters["rate_limited"] += 1
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        if provider == "lyra":
            return lyra_error(429, "Too many requests", headers=headers), {}
        return mavera_error(429, "rate_limit_exceeded", "Rate limit exceeded", headers=headers), {}
