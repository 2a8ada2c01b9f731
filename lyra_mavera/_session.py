"""``AsyncSession``: owns (or borrows) one aiohttp session and runs every call through
one chain: build request -> middlewares (user agent, idempotency key, auth, rate limit,
yours, logging) -> transport with a per-attempt timeout, inside a retry loop
(:class:`~lyra_mavera._pipeline.Pipeline`) whose every decision is
:func:`lyra_mavera._waits.next_wait`.

The session sits above the providers: it may import the core, ``lyra/`` and ``mavera/``;
nothing below it imports it (they take a :class:`~lyra_mavera._transport.Transport`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import aiohttp

from ._config import DEFAULT_MAX_RESPONSE_BYTES, SessionConfig
from ._errors import ConfigurationError
from ._http import Middleware, Response
from ._keyring import KeyRing
from ._middleware import (
    BearerAuth,
    build_chain,
    idempotency_key_middleware,
    logging_middleware,
    user_agent,
)
from ._options import CallOptions
from ._pipeline import Pipeline, Send, SessionStats
from ._ratelimit import RateLimiter
from ._responses import read_model
from ._retry import RetryPolicy
from ._view import SessionView
from ._wire import Wire
from .lyra._client import Lyra
from .lyra._oauth import OAuth
from .mavera._client import Mavera

if TYPE_CHECKING:
    from ._otel import Tracing

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "AsyncSession", "BearerAuth", "SessionStats"]

T = TypeVar("T")
P = TypeVar("P")


class TracerProvider(Protocol):
    """An OpenTelemetry tracer provider (``opentelemetry.sdk.trace.TracerProvider``)."""

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> Any: ...


_UNVERIFIED = (
    "AsyncSession(verify_tls=False): TLS certificates are not verified; API keys can be read "
    "by anyone in the middle"
)


def _check_sources(lyra_oauth: object, lyra_api_key: object, client_session: object) -> None:
    if lyra_oauth is not None and not isinstance(lyra_oauth, OAuth):
        raise ConfigurationError("lyra_oauth must be a lyra.OAuth")
    if lyra_oauth is not None and lyra_api_key is not None:
        raise ConfigurationError("pass lyra_api_key or lyra_oauth, not both")
    if client_session is not None and not isinstance(client_session, aiohttp.ClientSession):
        raise ConfigurationError("client_session must be an aiohttp.ClientSession")


def _tracing(source: object) -> Tracing | None:
    """The session's tracing: ``None`` when off (nothing of OpenTelemetry is imported)."""
    if source is False:
        return None
    if source is not True and not callable(getattr(source, "get_tracer", None)):
        raise ConfigurationError("tracing must be True, False or an OpenTelemetry TracerProvider")
    try:
        from ._otel import Tracing
    except ImportError:
        raise ConfigurationError(
            "tracing needs OpenTelemetry: pip install 'lyra-mavera[otel]'"
        ) from None
    return Tracing(source)


class AsyncSession:
    """The entry point: ``async with lm.AsyncSession() as s: await s.lyra...``.

    Keys default to ``LYRA_API_KEY`` / ``MAVERA_API_KEY``; a missing key raises
    :class:`ConfigurationError` on the first call that needs it. ``timeout`` bounds each
    phase of one attempt (getting a connection; each wait for the answer); ``deadline``
    (seconds, ``None`` for none) bounds a whole call: rate-limit waits, every attempt
    and the backoff between them. :meth:`with_options` changes them for some calls.
    Pass ``client_session`` to borrow an ``aiohttp.ClientSession`` (it is never closed
    by us); otherwise one is created lazily inside the running loop with
    ``max_connections`` connections at most.

    ``middlewares`` are extra ``async def mw(request, call_next)`` callables run on every
    attempt, after auth and before the logging middleware. ``rate_limit`` paces each
    key's requests within the limit its provider announces (see :class:`RateLimiter`);
    ``rate_limit_window`` fixes the length of that window in seconds. ``lyra_oauth``
    (a :class:`lyra.OAuth`) signs Lyra calls with a user's OAuth token instead of a key.
    TLS certificates are always verified unless ``verify_tls=False`` is passed (which
    warns).

    ``default_headers`` go with every request (the SDK's own ``Authorization`` and
    ``Content-Type`` cannot be replaced); ``app=("name", "version")`` adds your
    application to the User-Agent. Requests go through ``proxy`` (``http://`` or
    ``https://``, ``user:password@`` allowed, never shown) when given; otherwise, with
    ``trust_env`` (the default), through the proxy ``HTTPS_PROXY`` / ``HTTP_PROXY``
    names unless ``NO_PROXY`` covers the host, read when the session is created.
    ``tracing=True`` (or a tracer provider) traces every call with OpenTelemetry (the
    ``otel`` extra); off, nothing of OpenTelemetry is imported.
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
        deadline: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        app: tuple[str, str] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        tracing: bool | TracerProvider = False,
    ) -> None:
        self._closed = True  # until construction succeeds: __del__ must stay quiet
        _check_sources(lyra_oauth, lyra_api_key, client_session)
        self._config = config = SessionConfig.resolve(
            lyra_api_key=lyra_api_key,
            mavera_api_key=mavera_api_key,
            lyra_base_url=lyra_base_url,
            mavera_base_url=mavera_base_url,
            lyra_by_oauth=lyra_oauth is not None,
            options=CallOptions(
                retry=RetryPolicy() if retry is None else retry,
                timeout=timeout,
                deadline=deadline,
                headers=default_headers,
            ),
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            rate_limit=rate_limit,
            rate_limit_window=rate_limit_window,
            verify_tls=verify_tls,
            app=app,
            proxy=proxy,
            # A borrowed aiohttp session keeps its own proxy settings (its trust_env).
            trust_env=trust_env and client_session is None,
        )
        if not config.verify_tls:
            # Only this explicit argument turns verification off, and it says so.
            warnings.warn(_UNVERIFIED, stacklevel=2)
        self._lyra_oauth = lyra_oauth
        self._keyring = KeyRing(
            config.keys, oauth=lyra_oauth, rate_limit=rate_limit, window=rate_limit_window
        )
        self._wire = Wire.for_config(client_session, config)
        self._tracing = _tracing(tracing)
        self._assemble(middlewares)
        self._lyra, self._mavera = None, None
        self._closed = False

    _lyra: Lyra | None
    _mavera: Mavera | None

    def _assemble(self, middlewares: Sequence[Middleware]) -> None:
        """Build the chain every attempt runs through and the pipeline around it."""
        keyring, tracing = self._keyring, self._tracing
        chain = (user_agent(self._config.app), idempotency_key_middleware, keyring.sign)
        if tracing is None:
            pieces = (*chain, keyring.pace, *middlewares, logging_middleware)
        else:
            limited = (tracing.limiter_in, keyring.pace, tracing.limiter_out)
            pieces = (tracing.attempt, *chain, *limited, *middlewares, logging_middleware)
        pipeline = Pipeline(self._config, self._wire, build_chain(pieces, self._wire.send))
        self.stats: SessionStats = pipeline.stats
        #: Sends one logical call with explicit options (views call it too).
        self._send: Send = pipeline.send if tracing is None else tracing.wrap_send(pipeline.send)

    def _instrument(self, provider: P, name: str) -> P:
        """``provider`` with spans around its helpers when tracing is on."""
        if self._tracing is not None:
            self._tracing.instrument(provider, name)
        return provider

    # -- configuration -------------------------------------------------------------

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call (unless :meth:`with_options` says otherwise)."""
        return self._config.options.retry

    @property
    def timeout(self) -> float:
        """Seconds each phase of an attempt may take."""
        return self._config.options.timeout

    @property
    def deadline(self) -> float | None:
        """Seconds a whole call may take (``None``: no bound)."""
        return self._config.options.deadline

    @property
    def max_connections(self) -> int:
        """The most connections the owned aiohttp session opens at once."""
        return self._config.max_connections

    @property
    def max_response_bytes(self) -> int:
        """The largest response body read; a larger one raises ``ResponseValidationError``."""
        return self._config.max_response_bytes

    @property
    def verify_tls(self) -> bool:
        """Whether TLS certificates are verified (``False`` only when asked explicitly)."""
        return self._config.verify_tls

    # -- providers ---------------------------------------------------------------

    @property
    def lyra(self) -> Lyra:
        """The Lyra API (``auth``, ``meetings``)."""
        if self._lyra is None:
            self._lyra = self._instrument(Lyra(self), "lyra")
        return self._lyra

    @property
    def mavera(self) -> Mavera:
        """The Mavera API (``meetings``, ``workspaces``, ``usage``)."""
        if self._mavera is None:
            self._mavera = self._instrument(Mavera(self), "mavera")
        return self._mavera

    def with_options(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SessionView:
        """This session with other bounds for some calls: a light view that shares the
        connection pool, the rate limiters, OAuth state and stats (nothing to close).

        ``s.with_options(deadline=5).mavera.meetings.get(bot_id)`` bounds that call to
        five seconds in all; ``headers`` are added to every request made through the
        view (the SDK's own headers cannot be replaced).
        """
        return SessionView(self, self._config.options).with_options(
            retry=retry, timeout=timeout, deadline=deadline, headers=headers
        )

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
        await self._wire.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called (a closed session sends nothing)."""
        return self._closed

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and self._wire.owns_client:
            warnings.warn(
                f"unclosed {self!r}: use 'async with AsyncSession()' or 'await s.aclose()'",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def __repr__(self) -> str:
        keys = ", ".join(f"{name}_api_key={key!r}" for name, key in self._config.keys.items())
        if self._lyra_oauth is not None:
            keys += f", lyra_oauth={self._lyra_oauth!r}"
        state = "closed" if self._closed else "open"
        urls = " ".join(f"{name}={url}" for name, url in self._config.base_urls.items())
        proxies = {str(p.shown) for p in self._config.proxies.values() if p is not None}
        via = "".join(f" proxy={shown}" for shown in sorted(proxies))
        return f"<AsyncSession {state} {keys} {urls}{via}>"

    def _client(self) -> aiohttp.ClientSession:
        return self._wire.client()

    @property
    def client_session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session in use (``None`` until the first request of an owned one)."""
        return self._wire.client_session

    # -- the pipeline ------------------------------------------------------------

    def base_url(self, provider: str) -> str:
        """The base URL calls to ``provider`` go to."""
        return self._config.base_urls[provider]

    def has_key(self, provider: str) -> bool:
        """Whether calls to ``provider`` can be signed (a key or OAuth is set)."""
        return self._keyring.has_auth(provider)

    def set_auth(self, provider: str, auth: Middleware) -> None:
        """Replace a provider's auth middleware (e.g. OAuth instead of an API key)."""
        self._keyring.set_auth(provider, auth)

    def rate_limiter(self, provider: str) -> RateLimiter | None:
        """The limiter shared by every call with ``provider``'s key (``None`` when off or
        replaced by another kind)."""
        limiter = self._keyring.limiter(provider)
        return limiter if isinstance(limiter, RateLimiter) else None

    def set_rate_limiter(self, provider: str, limiter: Middleware | None) -> None:
        """Replace ``provider``'s limiter with any middleware-shaped limiter (e.g. one
        shared through Redis by a fleet of workers), or remove it with ``None``."""
        self._keyring.set_limiter(provider, limiter)

    def key_fingerprint(self, provider: str) -> str | None:
        """A short SHA-256 fingerprint of ``provider``'s key: its identity without the
        key (``None`` without a key)."""
        return self._keyring.fingerprint(provider)

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
        return await self._send(
            self._config.options, provider, method, path, json_body, params, context
        )

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
        response = await self._send(
            self._config.options, provider, method, path, json_body, params, context
        )
        return read_model(response, model)
