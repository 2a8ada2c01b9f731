"""The one place bytes cross the network: an owned or borrowed ``aiohttp.ClientSession``,
one attempt of one request with its per-phase timeouts, and a body read within
``max_response_bytes``. Failures leave as typed errors (:func:`_http.connection_error`).

May import the core's ``_clock``, ``_http``, ``_config``, ``_errors``, ``_proxy`` and
``_waits`` only.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping

import aiohttp
from yarl import URL

from . import _clock
from ._config import SessionConfig
from ._errors import LyraMaveraError
from ._http import Request, Response, connection_error, too_large
from ._proxy import Proxy
from ._waits import past_its_deadline

__all__ = ["Wire"]

#: How one provider's requests leave: the proxy URL, the headers of a CONNECT to it,
#: and the ``Proxy-Authorization`` a plain-http request carries itself (the proxy reads
#: that request, not a CONNECT); all ``None`` to go straight (or as a borrowed aiohttp
#: session's own settings say).
Route = tuple[URL | None, Mapping[str, str] | None, str | None]
_DIRECT: Route = (None, None, None)


def client_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """Per phase, as httpx does: getting a connection (pool wait and connect together,
    so a timeout there provably sent nothing) and each wait for data. The attempt as a
    whole is bounded by twice that, and by the call's deadline (see :meth:`Wire.send`)."""
    return aiohttp.ClientTimeout(total=None, connect=seconds, sock_read=seconds)


class Wire:
    """Owns (or borrows) the aiohttp session and sends single attempts."""

    __slots__ = (
        "_client",
        "_default_timeout",
        "_default_timeouts",
        "_max_connections",
        "_max_response_bytes",
        "_routes",
        "_verify_tls",
        "closed",
        "owns_client",
    )

    def __init__(
        self,
        client: aiohttp.ClientSession | None,
        *,
        max_connections: int,
        max_response_bytes: int,
        verify_tls: bool,
        timeout: float,
        routes: Mapping[str, Route] | None = None,
    ) -> None:
        self._client = client
        self.owns_client = client is None
        self._max_connections = max_connections
        self._max_response_bytes = max_response_bytes
        self._verify_tls = verify_tls
        self._default_timeout = timeout
        self._default_timeouts = client_timeout(timeout)
        self._routes = dict(routes or {})
        self.closed = False

    @classmethod
    def for_config(cls, client: aiohttp.ClientSession | None, config: SessionConfig) -> Wire:
        """The wire a session with ``config`` needs."""
        return cls(
            client,
            max_connections=config.max_connections,
            max_response_bytes=config.max_response_bytes,
            verify_tls=config.verify_tls,
            timeout=config.options.timeout,
            routes={
                provider: _route(proxy, plain=config.base_urls[provider].startswith("http:"))
                for provider, proxy in config.proxies.items()
                if proxy is not None
            },
        )

    @property
    def client_session(self) -> aiohttp.ClientSession | None:
        return self._client

    def client(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use inside the running loop."""
        if self.closed:
            raise LyraMaveraError("this AsyncSession is closed; create a new one")
        client = self._client
        if client is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._verify_tls)
            client = self._client = aiohttp.ClientSession(connector=connector)
        return client

    async def close(self) -> None:
        """Close an owned aiohttp session (a borrowed one is left open)."""
        self.closed = True
        client, self._client = self._client, None
        if self.owns_client and client is not None:
            await client.close()

    async def send(self, request: Request) -> Response:
        """One attempt: the response with its body read, or a typed error."""
        client = self.client()
        started = time.perf_counter()
        timeout = request.timeout
        bound = 2 * timeout
        if request.deadline_at is not None:  # the call's deadline ends the attempt too
            bound = min(bound, request.deadline_at - _clock.monotonic())
            if bound <= 0:
                raise past_its_deadline(request)
            timeout = min(timeout, bound)
        timeouts = (
            self._default_timeouts if timeout == self._default_timeout else client_timeout(timeout)
        )
        proxy, proxy_headers, proxy_authorization = self._routes.get(request.provider, _DIRECT)
        if proxy_authorization is not None:
            request.headers["Proxy-Authorization"] = proxy_authorization
        try:
            # The per-phase timeouts cannot stop a server that trickles its answer a
            # byte at a time: the whole attempt is bounded too. aiohttp's connect
            # timeout fires first, so this one only ever ends an attempt already sent.
            async with (
                asyncio.timeout(bound),
                client.request(
                    request.method,
                    request.url,
                    params=request.params,
                    data=request.body,
                    headers=request.headers,
                    timeout=timeouts,
                    allow_redirects=False,
                    proxy=proxy,
                    proxy_headers=proxy_headers,
                ) as resp,
            ):
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
        limit = self._max_response_bytes
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


def _route(proxy: Proxy, *, plain: bool) -> Route:
    """Built once per session: each request only looks its provider's route up."""
    if proxy.username is None:
        return (URL(proxy.url), None, None)
    credentials = f"{proxy.username}:{proxy.password or ''}".encode()
    authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
    return (
        URL(proxy.url),
        {"Proxy-Authorization": authorization},
        authorization if plain else None,
    )
