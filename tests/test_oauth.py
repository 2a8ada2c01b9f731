"""Lyra OAuth2: from the authorize URL to a created meeting, refreshes, and failures."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

import lyra_mavera as lm
from lyra_mavera.lyra import OAuth, OAuthClient, OAuthToken
from lyra_mavera.testing import FakeServer
from tests.conftest import assert_no_secret


async def sign_in(
    fake: FakeServer,
    client: OAuthClient,
    *,
    pkce: bool = False,
    scopes: tuple[str, ...] = ("meeting.create",),
) -> OAuthToken:
    """Play the user's browser: follow the authorize URL, take the code from the redirect."""
    request = client.authorization_url(scopes, pkce=pkce)
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(request.url, allow_redirects=False) as resp,
    ):
        assert resp.status == 302
        callback = resp.headers["Location"]
    assert callback.startswith(fake.oauth_redirect_uri)
    return await client.exchange(callback, request)


def test_authorization_url() -> None:
    """The URL carries client id, redirect URI, space-separated scopes, code, state, PKCE."""
    client = OAuthClient("cid", "secret", "https://app.example/cb")
    request = client.authorization_url(["meeting.create", "webhook.read"], pkce=True)
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == lm.lyra.DEFAULT_AUTHORIZE_URL
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["client_id"] == "cid" and query["redirect_uri"] == "https://app.example/cb"
    assert query["scope"] == "meeting.create webhook.read" and "%20" in parts.query
    assert (
        query["response_type"] == "code"
        and query["state"] == request.state
        and len(request.state) >= 32
    )
    assert query["code_challenge_method"] == "S256" and request.code_verifier is not None
    assert 43 <= len(request.code_verifier) <= 128
    assert "code_challenge" not in client.authorization_url().url


@pytest.mark.parametrize("encoding", ["json", "form"])
@pytest.mark.parametrize("pkce", [False, True])
async def test_full_flow_to_a_meeting(fake: FakeServer, encoding: str, pkce: bool) -> None:
    """Authorize, exchange, and create a meeting with the user's token."""
    client = fake.oauth_client(token_encoding=encoding)
    token = await sign_in(fake, client, pkce=pkce)
    assert token.access_token.startswith("lyra_oauth_") and token.refresh_token
    assert token.scope == ("meeting.create",) and token.expires_at is not None
    async with fake.session(lyra_oauth=OAuth(client, token)) as s:
        meeting = await s.lyra.meetings.create("Signed-in kickoff")
        assert (await s.lyra.auth.verify()).valid
    assert meeting.id in fake.lyra_meetings


async def test_openapi_endpoints_work_too(fake: FakeServer) -> None:
    """The /api/v1/oauth URLs of the OpenAPI file are served and configurable."""
    client = fake.oauth_client(
        authorize_url=fake.base_url + "/lyra/api/v1/oauth/authorize",
        token_url=fake.base_url + "/lyra/api/v1/oauth/token",
    )
    assert (await sign_in(fake, client)).access_token


async def test_state_mismatch_refused(fake: FakeServer) -> None:
    """A callback whose state differs is refused before any token request."""
    client = fake.oauth_client()
    request = client.authorization_url()
    with pytest.raises(lm.OAuthError) as info:
        await client.exchange("https://app.example/callback?code=abc&state=forged", request)
    assert info.value.error == "state_mismatch"
    with pytest.raises(lm.OAuthError) as denied:
        await client.exchange(f"?error=access_denied&state={request.state}", request)
    assert denied.value.error == "access_denied"
    assert fake.counters["oauth_token_requests"] == 0


async def test_fifty_requests_at_expiry_refresh_once(fake: FakeServer) -> None:
    """At expiry, 50 concurrent calls trigger exactly one refresh; the callback sees it."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    saved: list[OAuthToken] = []
    oauth = OAuth(client, token, on_token=saved.append, clock=fake.clock.now)
    async with fake.session(lyra_oauth=oauth) as s:
        fake.clock.advance(3600 - 30)  # inside the 60 s leeway
        results = await asyncio.gather(*(s.lyra.meetings.create(f"m{i}") for i in range(50)))
    assert len(results) == 50
    assert fake.counters["oauth_refreshes"] == 1 and oauth.refreshes == 1
    assert len(saved) == 1 and saved[0].access_token != token.access_token
    assert saved[0].refresh_token != token.refresh_token  # rotated


async def test_refresh_after_401(fake: FakeServer) -> None:
    """A token the server expired early is refreshed once after the 401, and the call succeeds."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    async with fake.session(lyra_oauth=OAuth(client, token)) as s:
        fake.expire_token(token.access_token)
        meeting = await s.lyra.meetings.create("After a 401")
    assert meeting.id in fake.lyra_meetings
    statuses = [r.status for r in fake.requests_to("POST", "/meeting")]
    assert statuses == [401, 200] and fake.counters["oauth_refreshes"] == 1


async def test_refresh_keeps_old_refresh_token(fake: FakeServer) -> None:
    """A refresh answer without a refresh token keeps the previous one."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    fake.oauth_send_refresh_token = False
    fake.oauth_rotate_refresh_tokens = False
    fresh = await client.refresh(token)
    assert fresh.refresh_token == token.refresh_token and fresh.access_token != token.access_token


async def test_invalid_grant_says_sign_in_again(fake: FakeServer) -> None:
    """A revoked refresh token raises ReauthorizationRequired telling the user to sign in."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    assert token.refresh_token is not None
    fake.revoke_refresh_token(token.refresh_token)
    fake.expire_token(token.access_token)
    async with fake.session(lyra_oauth=OAuth(client, token)) as s:
        with pytest.raises(lm.ReauthorizationRequired, match="sign in again") as info:
            await s.lyra.meetings.create("Nope")
    assert info.value.error == "invalid_grant"


async def test_missing_scope_named(fake: FakeServer) -> None:
    """A token without meeting.create gets a 403 that names the scope."""
    client = fake.oauth_client()
    token = await sign_in(fake, client, scopes=("webhook.read",))
    async with fake.session(lyra_oauth=OAuth(client, token)) as s:
        with pytest.raises(lm.PermissionDeniedError, match=r"meeting\.create") as info:
            await s.lyra.meetings.create("No scope")
    assert info.value.required_scope == "meeting.create"  # type: ignore[attr-defined]


async def test_token_round_trips_through_storage(fake: FakeServer) -> None:
    """to_dict -> JSON -> from_dict gives the same token, which still works."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    stored = json.dumps(token.to_dict())
    back = OAuthToken.from_dict(json.loads(stored))
    assert back == token
    async with fake.session(lyra_oauth=OAuth(client, back)) as s:
        await s.lyra.meetings.create("From storage")
    with pytest.raises(lm.ValidationError, match="access_token"):
        OAuthToken.from_dict({"refresh_token": "x"})


async def test_tokens_never_in_logs_or_reprs(
    fake: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Tokens, refresh tokens and the client secret stay out of logs and reprs."""
    client = fake.oauth_client()
    caplog.set_level(logging.DEBUG, logger="lyra_mavera")
    token = await sign_in(fake, client)
    oauth = OAuth(client, token)
    async with fake.session(lyra_oauth=oauth) as s:
        fake.expire_token(token.access_token)
        await s.lyra.meetings.create("Logged")
        shown = " ".join(
            [repr(s), repr(oauth), repr(token), repr(oauth.token), repr(client), caplog.text]
        )
    for secret in (
        token.access_token,
        token.refresh_token or "",
        oauth.token.access_token,
        fake.oauth_client_secret,
    ):
        assert secret not in shown
    assert_no_secret(shown)


def test_oauth_configuration_errors() -> None:
    """OAuth and an API key together, or insecure endpoints, are refused."""
    client = OAuthClient("cid", "secret", "https://app.example/cb")
    oauth = OAuth(client, OAuthToken("lyra_oauth_x"))
    with pytest.raises(lm.ConfigurationError, match="not both"):
        lm.AsyncSession(lyra_api_key="lyra_" + "k" * 20, lyra_oauth=oauth)
    with pytest.raises(lm.ValidationError, match="token_url"):
        OAuthClient(
            "cid", "secret", "https://app.example/cb", token_url="http://lyra.example/token"
        )
