"""Proxies, headers and the environment: proxy= and HTTP(S)_PROXY / NO_PROXY through a
real forward proxy, default_headers= and app= on every request, LYRA_MAVERA_LOG."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

import lyra_mavera as lm
from lyra_mavera.testing import FakeServer
from tests.conftest import MAVERA, MAVERA_KEY, sample, sent

PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


class ForwardProxy:
    """A tiny HTTP forward proxy on 127.0.0.1 (no CONNECT): it reads an absolute-form
    request, sends it on in origin form, relays the answer and closes. It remembers
    what passed: (method, target, Proxy-Authorization)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> ForwardProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        except asyncio.IncompleteReadError:
            writer.close()
            return
        first, *lines = head.split("\r\n")
        method, target, _ = first.split(" ")
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines if line]
        named = {name.lower(): value for name, value in headers}
        body = await reader.readexactly(int(named.get("content-length", "0")))
        self.seen.append((method, target, named.get("proxy-authorization")))
        url = urlsplit(target)
        up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port)
        kept = [
            f"{name}: {value}"
            for name, value in headers
            if name.lower() not in ("proxy-authorization", "proxy-connection", "connection")
        ]
        path = url.path + (f"?{url.query}" if url.query else "")
        request_head = [f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""]
        up_writer.write("\r\n".join(request_head).encode("latin-1") + body)
        writer.write(await up_reader.read())
        await writer.drain()
        up_writer.close()
        writer.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async with FakeServer(time_scale=1e-6) as server:
        yield server


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as forward:
        yield forward


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)


def _session(fake: FakeServer, **kwargs: object) -> lm.AsyncSession:
    # Not fake.session(): that one ignores the environment on purpose.
    return lm.AsyncSession(
        mavera_api_key=fake.mavera_api_key,
        lyra_api_key=fake.lyra_api_key,
        mavera_base_url=fake.mavera_base_url,
        lyra_base_url=fake.lyra_base_url,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_explicit_proxy_carries_every_request(fake: FakeServer, proxy: ForwardProxy) -> None:
    """proxy= sends every call through the proxy, with its credentials as
    Proxy-Authorization, and never shows the password."""
    address = proxy.url.replace("http://", "http://ops:s3cret%21@")
    async with _session(fake, proxy=address) as s:
        await s.mavera.usage.get()
        await s.lyra.auth.verify()
        shown = repr(s)
    assert [(m, t) for m, t, _ in proxy.seen] == [
        ("GET", fake.mavera_base_url + "/usage"),  # absolute form: the proxy's to send on
        ("POST", fake.lyra_base_url + "/auth"),
    ]
    expected = "Basic " + base64.b64encode(b"ops:s3cret!").decode()
    assert {auth for _, _, auth in proxy.seen} == {expected}
    assert len(fake.requests) == 2
    assert all("Proxy-Authorization" not in r.headers for r in fake.requests)
    assert "s3cret" not in shown and "proxy=http://***@127.0.0.1:" in shown


async def test_environment_proxy_and_no_proxy(
    fake: FakeServer, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is honoured for an http base URL; NO_PROXY for its host bypasses it;
    trust_env=False ignores both; the environment is read when the session is made."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with _session(fake) as s:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # too late for this session
        await s.mavera.usage.get()
    assert len(proxy.seen) == 1
    async with _session(fake) as s:
        await s.mavera.usage.get()
    monkeypatch.delenv("NO_PROXY")
    async with _session(fake, trust_env=False) as s:
        await s.mavera.usage.get()
    async with fake.session() as s:  # FakeServer's sessions never use a proxy
        await s.mavera.usage.get()
    assert len(proxy.seen) == 1 and len(fake.requests) == 4


async def test_https_proxy_is_chosen_per_host(
    monkeypatch: pytest.MonkeyPatch, mock: aioresponses
) -> None:
    """HTTPS_PROXY applies to the https base URLs, except hosts NO_PROXY names."""
    monkeypatch.setenv("HTTPS_PROXY", "http://corp:pw@proxy.corp.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.lyra.so")
    mock.get(f"{MAVERA}/usage", payload=sample("mavera_usage.json"))
    mock.post(
        "https://app.lyra.so/api/v1/auth", payload={"valid": True, "userId": "u", "orgId": "o"}
    )
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY, lyra_api_key="lyra_" + "k" * 20) as s:
        await s.mavera.usage.get()
        await s.lyra.auth.verify()
    (to_mavera,) = sent(mock, "GET", f"{MAVERA}/usage")
    (to_lyra,) = sent(mock, "POST", "https://app.lyra.so/api/v1/auth")
    assert to_mavera.kwargs["proxy"] == URL("http://proxy.corp.example:3128")
    expected = "Basic " + base64.b64encode(b"corp:pw").decode()
    assert to_mavera.kwargs["proxy_headers"] == {"Proxy-Authorization": expected}
    assert "Proxy-Authorization" not in to_mavera.kwargs["headers"]  # the CONNECT carries it
    assert to_lyra.kwargs["proxy"] is None


async def test_proxy_with_a_borrowed_session(fake: FakeServer, proxy: ForwardProxy) -> None:
    """proxy= also applies to a borrowed aiohttp session."""
    async with (
        aiohttp.ClientSession() as client,
        _session(fake, proxy=proxy.url, client_session=client) as s,
    ):
        await s.mavera.usage.get()
    assert len(proxy.seen) == 1


async def test_unreachable_proxy_is_a_clear_error(fake: FakeServer) -> None:
    """A proxy that refuses connections is an APIConnectionError naming it (sent=False,
    no credentials in the message)."""
    with socket_closed() as port:
        async with _session(
            fake, proxy=f"http://me:pa55@127.0.0.1:{port}", retry=lm.RetryPolicy(attempts=1)
        ) as s:
            with pytest.raises(lm.APIConnectionError) as info:
                await s.mavera.usage.get()
    assert info.value.sent is False
    assert f"could not connect to the proxy 127.0.0.1:{port}" in str(info.value)
    assert "pa55" not in str(info.value) and "pa55" not in repr(info.value)


class socket_closed:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        sock.close()
        return port

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("socks5://127.0.0.1:1080", "http:// or https://"),
        ("http://user:topsecret@", "no host"),
        ("http://user:topsecret@proxy.example:3128/path", "without a path"),
        ("http://proxy.example:99999", "not a valid URL"),
        (3128, "must be a URL string"),
    ],
)
def test_bad_proxies_refused_without_echo(value: object, message: str) -> None:
    """A proxy URL that cannot work is refused up front, never repeating credentials."""
    with pytest.raises(lm.ConfigurationError, match=message) as info:
        lm.AsyncSession(proxy=value)  # type: ignore[arg-type]
    assert "topsecret" not in str(info.value)


async def test_bad_environment_proxy_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unusable HTTPS_PROXY is refused naming the variable (trust_env=False ignores it)."""
    monkeypatch.setenv("HTTPS_PROXY", "socks5://user:topsecret@127.0.0.1:1080")
    with pytest.raises(lm.ConfigurationError, match="HTTPS_PROXY") as info:
        lm.AsyncSession()
    assert "topsecret" not in str(info.value)
    await lm.AsyncSession(trust_env=False).aclose()


async def test_default_headers_and_app(fake: FakeServer) -> None:
    """default_headers= go with every request, views add theirs, and app= joins the
    User-Agent right after the SDK."""
    async with fake.session(default_headers={"X-Team": "sched"}, app=("planner", "2.1")) as s:
        await s.mavera.usage.get()
        await s.with_options(headers={"X-Trace": "t1"}).lyra.auth.verify()
    first, second = fake.requests
    assert first.headers["X-Team"] == second.headers["X-Team"] == "sched"
    assert second.headers["X-Trace"] == "t1" and "X-Trace" not in first.headers
    agent = first.headers["User-Agent"]
    assert agent.startswith(f"lyra-mavera/{lm.__version__} planner/2.1 ")
    assert "aiohttp/" in agent


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"default_headers": {"Authorization": "Bearer x"}}, "cannot be replaced"),
        ({"default_headers": {"Content-Type": "text/plain"}}, "cannot be replaced"),
        ({"default_headers": {"X-Bad": "a\r\nb"}}, "control characters"),
        ({"app": ("my app", "1")}, "without spaces"),
        ({"app": ("name/x", "1")}, "without spaces"),
        ({"app": "planner"}, "pair"),
    ],
)
def test_bad_headers_and_app_refused(kwargs: dict[str, object], message: str) -> None:
    """The SDK's own headers cannot be replaced, and app= must be two short words."""
    with pytest.raises(lm.ConfigurationError, match=message):
        lm.AsyncSession(**kwargs)  # type: ignore[arg-type]


_LOGGED_CALL = textwrap.dedent(
    """
    import asyncio, logging
    import lyra_mavera as lm
    from lyra_mavera.testing import FakeServer

    async def main():
        async with FakeServer() as fake, fake.session() as s:
            await s.mavera.usage.get()
        logging.getLogger("lyra_mavera").info("an info line")

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(
    ("value", "debug", "info"),
    [("debug", True, True), ("INFO", False, True), (None, False, False)],
)
def test_log_level_from_environment(value: str | None, debug: bool, info: bool) -> None:
    """LYRA_MAVERA_LOG=debug|info turns on stderr logging without code (read at import);
    unset, the SDK prints nothing."""
    env = {k: v for k, v in os.environ.items() if k != "LYRA_MAVERA_LOG"}
    if value is not None:
        env["LYRA_MAVERA_LOG"] = value
    done = subprocess.run(
        [sys.executable, "-c", _LOGGED_CALL], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert ("DEBUG lyra_mavera: mavera GET /usage -> 200 attempt=1" in done.stderr) is debug
    assert ("INFO lyra_mavera: an info line" in done.stderr) is info
    assert "Bearer" not in done.stderr
    if value is None:
        assert done.stderr == ""
