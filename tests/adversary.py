"""Adversarial servers for the promise tests: small servers on 127.0.0.1 that each do
one thing a real server, proxy or network may do wrong.

- :class:`Adversary`: an aiohttp app whose every answer is written by the test
  (``handler(request, adversary)``); it records each request as it arrived (raw path
  included) and the TCP peers it saw. :func:`answering` is the handler that gives every
  request one canned answer (a JSON payload, or exact bytes).
- :class:`MiniMavera`: just enough of Mavera's ``/meetings`` to exercise bulk-create
  reconciliation, with knobs for list order, clock skew, link echo and dropped creates.
- :class:`RawServer`: ``asyncio.start_server`` for byte-level control (endless bodies,
  silence); counts accepted TCP connections.
- :class:`TlsServer`: an https server with a given certificate; counts TCP accepts
  before the handshake, so a client that gives up on the certificate is counted too.
- :func:`full_backlog_port`: a listening socket whose accept queue is full, so a
  connect never completes (a deterministic connect timeout on Linux loopback).
- :func:`self_signed_cert`: a throw-away certificate for ``127.0.0.1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import itertools
import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import pytest
from aiohttp import web

__all__ = [
    "Adversary",
    "MiniMavera",
    "RawServer",
    "Seen",
    "TlsServer",
    "answering",
    "full_backlog_port",
    "http_response",
    "iso",
    "meeting_json",
    "read_http_request",
    "self_signed_cert",
]

PREFIX = "/api/v1"


def iso(ts: float) -> str:
    """Unix seconds as Mavera writes them."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def meeting_json(meeting_id: str, **fields: Any) -> dict[str, Any]:
    """The smallest Mavera meeting the SDK accepts, plus ``fields``."""
    return {"id": meeting_id, "object": "meeting", "status": "pending", **fields}


@attrs.define
class Seen:
    """One request as the adversary received it."""

    method: str
    raw_path: str  # path and query exactly as they arrived, still percent-encoded
    path: str  # decoded, without the base prefix
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    peer: Any


Handler = Callable[[web.Request, "Adversary"], Awaitable[web.StreamResponse]]


class Adversary:
    """An HTTP server on 127.0.0.1 answering every route with ``handler``.

    ``base_url`` is ``http://127.0.0.1:PORT/api/v1``; :attr:`requests` lists what
    arrived (``Seen.path`` is relative to ``/api/v1``). Handlers may keep state on the
    instance (``adversary.state``).
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[Seen] = []
        self.state: dict[str, Any] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> Adversary:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.2
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.path
        if path.startswith(PREFIX):
            path = path[len(PREFIX) :]
        transport = request.transport
        self.requests.append(
            Seen(
                method=request.method,
                raw_path=request.raw_path,
                path=path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=body,
                peer=transport.get_extra_info("peername") if transport is not None else None,
            )
        )
        return await self._handler(request, self)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests received, optionally only those with ``method`` and ``path``."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        )

    @property
    def peers(self) -> set[Any]:
        """Distinct TCP connections (client address and port) requests came over."""
        return {r.peer for r in self.requests}


def answering(
    payload: Any = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> Handler:
    """A handler answering every request alike: ``payload`` as JSON, or, when ``body``
    is given, exactly those bytes as ``content_type``."""

    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        if body is not None:
            return web.Response(
                body=body, status=status, headers=headers, content_type=content_type
            )
        return web.json_response(payload, status=status, headers=headers)

    return handler


def drop(request: web.Request) -> web.Response:
    """Close the connection without answering (the returned response is never written)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)


# -- a minimal Mavera for reconciliation ---------------------------------------------


@attrs.define
class Bot:
    id: str
    link: str  # as the client sent it
    created_at: float  # real Unix time
    title: str | None = None


class MiniMavera:
    """``POST /meetings``, ``GET /meetings`` and ``GET /meetings/{id}``, with knobs:

    - ``order``: ``"newest"`` (Mavera's) or ``"oldest"`` first in ``GET /meetings``.
    - ``skew``: seconds added to every time the server shows (``created_at``, ``Date``):
      its clock runs ahead (positive) or behind (negative) the client's.
    - ``echo``: how a stored link is written back in lists (a server normalising links).
    - :attr:`post_faults`: consumed one per ``POST /meetings``: ``"drop_before"`` closes
      the connection without creating anything, ``"drop_after"`` creates the bot and
      then closes the connection, ``"503_before"`` answers 503 unprocessed; ``None`` or
      an empty list answers normally.
    """

    def __init__(
        self,
        *,
        order: str = "newest",
        skew: float = 0.0,
        echo: Callable[[str], str] = lambda link: link,
    ) -> None:
        self.order = order
        self.skew = skew
        self.echo = echo
        self.bots: list[Bot] = []
        self.post_faults: list[str | None] = []
        self._ids = itertools.count(1)
        self.adversary = Adversary(self._handle)

    async def __aenter__(self) -> MiniMavera:
        await self.adversary.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.adversary.__aexit__(*exc_info)

    @property
    def base_url(self) -> str:
        return self.adversary.base_url

    def add_bot(
        self, link: str, *, created_at: float | None = None, title: str | None = None
    ) -> Bot:
        """A bot made outside the run (``created_at`` in real Unix time, default now)."""
        bot = Bot(
            id=f"mtg_{next(self._ids):04d}",
            link=link,
            created_at=time.time() if created_at is None else created_at,
            title=title,
        )
        self.bots.append(bot)
        return bot

    def bots_for(self, link: str) -> list[Bot]:
        return [b for b in self.bots if b.link == link]

    def posts(self) -> int:
        return self.adversary.count("POST", "/meetings")

    def _json(self, bot: Bot) -> dict[str, Any]:
        return meeting_json(
            bot.id,
            meeting_url=self.echo(bot.link),
            title=bot.title,
            workspace_id="ws_1",
            join_at=None,
            created_at=iso(bot.created_at + self.skew),
            updated_at=iso(bot.created_at + self.skew),
        )

    def _reply(self, data: Any, status: int = 200) -> web.Response:
        return web.json_response(
            data,
            status=status,
            headers={"Date": email.utils.formatdate(time.time() + self.skew, usegmt=True)},
        )

    async def _handle(self, request: web.Request, adversary: Adversary) -> web.StreamResponse:
        path = request.path[len(PREFIX) :]
        if request.method == "POST" and path == "/meetings":
            fault = self.post_faults.pop(0) if self.post_faults else None
            if fault == "drop_before":
                return drop(request)
            if fault == "503_before":
                return self._reply(
                    {"error": {"message": "unavailable", "type": "api_error", "code": "x"}}, 503
                )
            body = json.loads(await request.read())
            bot = self.add_bot(body["meeting_url"], title=body.get("title"))
            if fault == "drop_after":
                return drop(request)
            created = meeting_json(
                bot.id,
                title=bot.title,
                meeting_url={"meeting_id": bot.link.rsplit("/", 1)[-1], "platform": "zoom"},
                created_at=iso(bot.created_at + self.skew),
            )
            return self._reply(created, 201)
        if request.method == "GET" and path == "/meetings":
            ordered = list(reversed(self.bots)) if self.order == "newest" else list(self.bots)
            limit = int(request.query.get("limit", "50"))
            start = int(request.query.get("cursor", "0"))
            page = ordered[start : start + limit]
            more = start + limit < len(ordered)
            return self._reply(
                {
                    "object": "list",
                    "data": [self._json(b) for b in page],
                    "has_more": more,
                    "next_cursor": str(start + limit) if more else None,
                }
            )
        if request.method == "GET" and path.startswith("/meetings/"):
            wanted = path.rsplit("/", 1)[-1]
            for bot in self.bots:
                if bot.id == wanted:
                    return self._reply(self._json(bot))
        return self._reply(
            {"error": {"message": "not found", "type": "invalid_request_error", "code": "nf"}},
            404,
        )


# -- byte-level servers ----------------------------------------------------------------


async def read_http_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 request's head and body (by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head, body


def http_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {"Content-Type": "application/json"}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """``asyncio.start_server`` on 127.0.0.1; :attr:`accepts` counts TCP connections.
    ``handle`` serves each connection; its errors end only that connection."""

    def __init__(self, handle: ConnectionHandler) -> None:
        self._handle = handle
        self.accepts = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            # Let every connection's handler end by itself (its socket is gone): a handler
            # cancelled later by the loop's shutdown is logged as an error by asyncio.
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=2)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await server.wait_closed()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{PREFIX}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepts += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.transport.abort()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read whatever comes and never answer (a TLS handshake never completes)."""
    while await reader.read(65536):
        pass


class TlsServer:
    """An https server on 127.0.0.1 with the given server ``context`` that answers each
    request with ``answer(request_head)`` (a JSON body, status 200).

    :attr:`accepts` counts TCP connections as they are accepted, before any TLS
    handshake (a client that refuses the certificate still counts once per connection
    it opens); :attr:`served` counts requests answered.
    """

    def __init__(self, context: ssl.SSLContext, answer: Callable[[bytes], bytes]) -> None:
        self._context = context
        self._answer = answer
        self.accepts = 0
        self.served = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> TlsServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._accepted, "127.0.0.1", 0, ssl=self._context, ssl_handshake_timeout=5
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await server.wait_closed()

    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{PREFIX}"

    def _accepted(self) -> asyncio.Protocol:
        # asyncio calls the protocol factory once per accepted socket, before the
        # TLS handshake starts.
        self.accepts += 1
        return _OneAnswer(self)


class _OneAnswer(asyncio.Protocol):
    """Reads one HTTP/1.1 request (head and Content-Length body), answers, closes."""

    def __init__(self, server: TlsServer) -> None:
        self._server = server
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        head, found, body = self._buffer.partition(b"\r\n\r\n")
        if not found or self._transport is None:
            return
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if len(body) < length:
            return
        self._server.served += 1
        self._transport.write(http_response(200, self._server._answer(head)))
        self._transport.close()
        self._transport = None


@contextlib.contextmanager
def full_backlog_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts no more connections: its listener never calls
    ``accept`` and its accept queue is full, so Linux drops every further SYN and a
    connect hangs until the client gives up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.settimeout(1.0)  # generous: only a dropped SYN takes this long
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break  # the queue is full: this SYN was dropped
        else:
            pytest.skip("could not fill a listener's accept queue on this system")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for ``127.0.0.1``, made with the
    ``cryptography`` package if installed, else the ``openssl`` command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("neither the cryptography package nor the openssl command is available")
        subprocess.run(
            [
                openssl, "req", "-x509", "-nodes", "-days", "2",
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", str(key), "-out", str(cert),
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        return cert, key
    import datetime as dt
    import ipaddress

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key
