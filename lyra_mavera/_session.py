"""``AsyncSession``: owns (or borrows) one aiohttp session and runs every call through
one chain: build request -> middlewares (user agent, idempotency key, auth, yours,
logging) -> transport with a per-attempt timeout, inside a retry loop -> error mapping.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
import warnings
from collections.abc import Awaitable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import attrs

from . import _clock
from ._config import LYRA, MAVERA, ApiKey, Provider, resolve_base_url, resolve_key
from ._convert import structure
from ._errors import (
    APIConnectionError,
    ConfigurationError,
    LyraMaveraError,
    ValidationError,
)
from ._http import (
    Handler,
    Middleware,
    Request,
    Response,
    connection_error,
    error_from_response,
    too_large,
)
from ._middleware import (
    build_chain,
    idempotency_key_middleware,
    logging_middleware,
    user_agent_middleware,
)
from ._ratelimit import RateLimiter
from ._retry import RetryPolicy
from .lyra._client import Lyra
from .lyra._oauth import OAuth
from .mavera._client import Mavera

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AsyncSession",
    "BearerAuth",
    "SessionStats",
]

T = TypeVar("T")
#: One encoder: json.dumps with non-default arguments builds a new one on every call.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

#: Responses larger than this are refused rather than read into memory. A transcript
#: of a long meeting with word timestamps is a few MB; 32 MiB leaves ample room.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@attrs.define
class SessionStats:
    """What a session has done so far (attempts include retries)."""

    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    status_errors: int = 0
    connection_errors: int = 0


class BearerAuth:
    """``Authorization: Bearer <key>`` for one provider, as a middleware."""

    __slots__ = ("_header", "key")

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self._header = key.header()

    def __call__(self, request: Request, call_next: Handler) -> Awaitable[Response]:
        request.headers["Authorization"] = self._header
        return call_next(request)

    def __repr__(self) -> str:
        return f"BearerAuth({self.key!r})"


class AsyncSession:
    """The entry point: ``async with lm.AsyncSession() as s: await s.lyra...``.

    Keys default to ``LYRA_API_KEY`` / ``MAVERA_API_KEY``; a missing key raises
    :class:`ConfigurationError` on the first call that needs it. ``timeout`` bounds each
    attempt, not the whole call. Pass ``client_session`` to borrow an
    ``aiohttp.ClientSession`` (it is never closed by us); otherwise one is created
    lazily inside the running loop with ``max_connections`` connections at most.

    ``middlewares`` are extra ``async def mw(request, call_next)`` callables run on every
    attempt, after auth and before the logging middleware. ``rate_limit`` paces each
    key's requests within the limit its provider announces (see :class:`RateLimiter`);
    ``rate_limit_window`` fixes the length of that window in seconds. ``lyra_oauth``
    (a :class:`lyra.OAuth`) signs Lyra calls with a user's OAuth token instead of a key.
    TLS certificates are always verified unless ``verify_tls=False`` is passed (which
    warns).
    """

    def __init__(
        self,
        *,
        lyra_api_key: str | None = None,
        mavera_api_key: str | None = None,
        lyra_base_url: str | None = None,
        mavera_base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        max_connections: int = 100,
        client_session: aiohttp.ClientSession | None = None,
        middlewares: Sequence[Middleware] = (),
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        rate_limit: bool = True,
        rate_limit_window: float | None = None,
        verify_tls: bool = True,
        lyra_oauth: OAuth | None = None,
    ) -> None:
        self._closed = True  # until construction succeeds: __del__ must stay quiet
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigurationError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise ConfigurationError("max_connections must be an int")
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be >= 1, got {max_connections}")
        if client_session is not None and not isinstance(client_session, aiohttp.ClientSession):
            raise ConfigurationError("client_session must be an aiohttp.ClientSession")
        if lyra_oauth is not None and not isinstance(lyra_oauth, OAuth):
            raise ConfigurationError("lyra_oauth must be a lyra.OAuth")
        if lyra_oauth is not None and lyra_api_key is not None:
            raise ConfigurationError("pass lyra_api_key or lyra_oauth, not both")
        self._keys: dict[str, ApiKey | None] = {
            LYRA.name: None if lyra_oauth else resolve_key(LYRA, lyra_api_key),
            MAVERA.name: resolve_key(MAVERA, mavera_api_key),
        }
        self._base_urls = {
            LYRA.name: resolve_base_url(LYRA, lyra_base_url),
            MAVERA.name: resolve_base_url(MAVERA, mavera_base_url),
        }
        self._auth: dict[str, Middleware | None] = {
            name: (BearerAuth(key) if key is not None else None) for name, key in self._keys.items()
        }
        if lyra_oauth is not None:
            self._auth[LYRA.name] = lyra_oauth
            lyra_oauth.bind(self)
        self._lyra_oauth = lyra_oauth
        self.retry = retry if retry is not None else RetryPolicy()
        self.timeout = float(timeout)
        self.max_connections = max_connections
        self.max_response_bytes = max_response_bytes
        self._client_timeout = aiohttp.ClientTimeout(total=self.timeout)
        if verify_tls is not True:
            if verify_tls is not False:
                raise ConfigurationError("verify_tls must be True or False")
            # Only this explicit argument turns verification off, and it says so.
            warnings.warn(
                "AsyncSession(verify_tls=False): TLS certificates are not verified; API keys "
                "can be read by anyone in the middle",
                stacklevel=2,
            )
        self.verify_tls = verify_tls
        self._client_session = client_session
        self._owns_client = client_session is None
        self._middlewares: tuple[Middleware, ...] = tuple(middlewares)
        self._limiters: dict[str, Middleware] = (
            {name: RateLimiter(window=rate_limit_window) for name in self._keys}
            if rate_limit
            else {}
        )
        self.stats = SessionStats()
        self._chain = build_chain(
            (
                user_agent_middleware,
                idempotency_key_middleware,
                self._auth_middleware,
                self._rate_limit_middleware,
                *self._middlewares,
                logging_middleware,
            ),
            self._transport,
        )
        self._lyra: Lyra | None = None
        self._mavera: Mavera | None = None
        self._closed = False

    # -- providers ---------------------------------------------------------------

    @property
    def lyra(self) -> Lyra:
        """The Lyra API (``auth``, ``meetings``)."""
        if self._lyra is None:
            self._lyra = Lyra(self)
        return self._lyra

    @property
    def mavera(self) -> Mavera:
        """The Mavera API (``meetings``, ``workspaces``, ``usage``)."""
        if self._mavera is None:
            self._mavera = Mavera(self)
        return self._mavera

    # -- lifecycle ---------------------------------------------------------------

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the owned aiohttp session (a borrowed one is left open). Idempotent."""
        if self._closed:
            return
        self._closed = True
        client, self._client_session = self._client_session, None
        if self._owns_client and client is not None:
            await client.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and self._owns_client:
            warnings.warn(
                f"unclosed {self!r}: use 'async with AsyncSession()' or 'await s.aclose()'",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def __repr__(self) -> str:
        keys = ", ".join(f"{name}_api_key={key!r}" for name, key in self._keys.items())
        if self._lyra_oauth is not None:
            keys += f", lyra_oauth={self._lyra_oauth!r}"
        state = "closed" if self._closed else "open"
        urls = " ".join(f"{name}={url}" for name, url in self._base_urls.items())
        return f"<AsyncSession {state} {keys} {urls}>"

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise LyraMaveraError("this AsyncSession is closed; create a new one")
        client = self._client_session
        if client is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections, ssl=self.verify_tls)
            client = self._client_session = aiohttp.ClientSession(connector=connector)
        return client

    @property
    def client_session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session in use (``None`` until the first request of an owned one)."""
        return self._client_session

    # -- the pipeline ------------------------------------------------------------

    def base_url(self, provider: str) -> str:
        return self._base_urls[provider]

    def has_key(self, provider: str) -> bool:
        return self._auth[provider] is not None

    def set_auth(self, provider: str, auth: Middleware) -> None:
        """Replace a provider's auth middleware (e.g. OAuth instead of an API key)."""
        if provider not in self._auth:
            raise ConfigurationError(f"unknown provider {provider!r}")
        self._auth[provider] = auth

    def rate_limiter(self, provider: str) -> RateLimiter | None:
        """The limiter shared by every call with ``provider``'s key (``None`` when off or
        replaced by another kind)."""
        limiter = self._limiters.get(provider)
        return limiter if isinstance(limiter, RateLimiter) else None

    def set_rate_limiter(self, provider: str, limiter: Middleware | None) -> None:
        """Replace ``provider``'s limiter with any middleware-shaped limiter (e.g. one
        shared through Redis by a fleet of workers), or remove it with ``None``."""
        if provider not in self._keys:
            raise ConfigurationError(f"unknown provider {provider!r}")
        if limiter is None:
            self._limiters.pop(provider, None)
        else:
            self._limiters[provider] = limiter

    def key_fingerprint(self, provider: str) -> str | None:
        """A short SHA-256 fingerprint of ``provider``'s key: its identity without the
        key (``None`` without a key)."""
        key = self._keys.get(provider)
        if key is None:
            return None
        return hashlib.sha256(key.value.encode()).hexdigest()[:16]

    def _rate_limit_middleware(self, request: Request, call_next: Handler) -> Awaitable[Response]:
        limiter = self._limiters.get(request.provider)
        if limiter is None:
            return call_next(request)
        return limiter(request, call_next)

    def _auth_middleware(self, request: Request, call_next: Handler) -> Awaitable[Response]:
        auth = self._auth[request.provider]
        if auth is None:
            spec = LYRA if request.provider == LYRA.name else MAVERA
            raise ConfigurationError(_missing_key_message(spec))
        return auth(request, call_next)

    async def request(
        self,
        provider: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        context: dict[str, Any] | None = None,
    ) -> Response:
        """Send one logical call (retrying per :attr:`retry`) and return the 2xx response.

        The escape hatch for endpoints the SDK does not wrap; non-2xx answers raise the
        matching :class:`APIStatusError`.
        """
        if provider not in self._base_urls:
            raise ValidationError("provider", f"must be 'lyra' or 'mavera', got {provider!r}")
        method = method.upper()
        if not path.startswith("/"):
            raise ValidationError("path", f"must start with '/', got {path!r}")
        self._client()  # fail fast on a closed session
        headers = {"Accept": "application/json"}
        body = None
        if json_body is not None:
            body = _JSON.encode(json_body).encode()
            headers["Content-Type"] = "application/json"
        request_id = str(uuid.uuid4())
        url = self._base_urls[provider] + path
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            request = Request(
                provider=provider,
                method=method,
                url=url,
                path=path,
                request_id=request_id,
                attempt=attempt,
                headers=dict(headers),
                params=params,
                body=body,
                timeout=self.timeout,
                context=context if context is not None else {},
            )
            last = attempt >= policy.attempts
            stats = self.stats
            stats.attempts += 1
            if attempt > 1:
                stats.retries += 1
            try:
                response = await self._chain(request)
            except APIConnectionError as exc:
                stats.connection_errors += 1
                if last or not policy.may_retry_error(method, sent=exc.sent):
                    raise
                await _clock.sleep(policy.backoff(attempt, random.random()))
                continue
            if response.ok:
                return response
            stats.status_errors += 1
            if response.status == 429:
                stats.rate_limited += 1
            error = error_from_response(provider, response.status, response.headers, response.body)
            if last or not policy.may_retry_status(method, response.status):
                raise error
            wait = error.retry_after
            if wait is None:
                wait = policy.backoff(attempt, random.random())
            elif wait > policy.max_retry_after:
                # Longer than the caller agreed to wait: hand the decision back, with
                # `retry_after` on the error, instead of parking the task.
                raise error
            await _clock.sleep(wait)

    async def call(
        self,
        provider: str,
        method: str,
        path: str,
        model: type[T],
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        context: dict[str, Any] | None = None,
    ) -> T:
        """:meth:`request`, then read the JSON body into ``model``."""
        response = await self.request(
            provider, method, path, json_body=json_body, params=params, context=context
        )
        return structure(response.json(), model, provider=provider)

    async def _transport(self, request: Request) -> Response:
        client = self._client()
        started = time.perf_counter()
        try:
            async with client.request(
                request.method,
                request.url,
                params=request.params,
                data=request.body,
                headers=request.headers,
                timeout=self._client_timeout
                if request.timeout == self.timeout
                else aiohttp.ClientTimeout(total=request.timeout),
                allow_redirects=False,
            ) as resp:
                body = await self._read_body(resp, request)
                return Response(
                    status=resp.status,
                    headers=resp.headers,
                    body=body,
                    request=request,
                    elapsed=time.perf_counter() - started,
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise connection_error(exc, request) from exc

    async def _read_body(self, resp: aiohttp.ClientResponse, request: Request) -> bytes:
        limit = self.max_response_bytes
        length = resp.content_length
        if length is not None and length > limit:
            raise too_large(request, limit, resp.status)
        if length is not None and "Content-Encoding" not in resp.headers:
            return await resp.read()
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(256 * 1024):
            total += len(chunk)
            if total > limit:
                raise too_large(request, limit, resp.status)
            chunks.append(chunk)
        return b"".join(chunks)


def _missing_key_message(provider: Provider) -> str:
    return (
        f"no {provider.name.capitalize()} API key: pass {provider.name}_api_key=... to "
        f"AsyncSession or set the {provider.key_env} environment variable"
    )
