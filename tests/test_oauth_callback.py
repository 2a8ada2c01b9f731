"""Lyra OAuth callbacks: any state or code that is missing, repeated or does not match is
an OAuthError before any request, whatever characters it holds."""

from __future__ import annotations

import aiohttp
import pytest

import lyra_mavera as lm
from lyra_mavera.lyra import OAuthClient
from lyra_mavera.testing import FakeServer

GOOD = "s7ate-Of-The-Request"


@pytest.mark.parametrize(
    "query",
    [
        "code=abc&state=%C3%A9t%C3%A9",  # non-ASCII, percent-encoded
        "code=abc&state=\u00e9t\u00e9",  # non-ASCII, raw
        "code=abc&state=\u6f22\u5b57",
        "code=abc&state=%FF%FE",  # not UTF-8
        "code=abc&state=\udc80",  # a lone surrogate
        "code=abc&state=\x00",
        "code=abc",  # missing
        "code=abc&state=",  # empty
        "code=abc&state",
        f"code=abc&state={GOOD}x",
        f"code=abc&state={GOOD[:-1]}",
        f"code=abc&state={GOOD}&state=forged",  # duplicates
        f"code=abc&state=forged&state={GOOD}",
        f"code=abc&state={GOOD}&state={GOOD}",
        f"code=abc&state={GOOD.upper()}",
        "",
        "https://app.example/callback",
    ],
)
async def test_any_callback_state_mismatch_is_an_oauth_error_before_any_request(
    fake: FakeServer, query: str
) -> None:
    """Whatever the callback's state (non-ASCII, missing, empty, repeated), a mismatch is
    OAuthError("state_mismatch") and no token request is sent."""
    client = fake.oauth_client()
    request = client.authorization_url(state=GOOD)
    for callback in (query, "?" + query, "https://app.example/callback?" + query):
        with pytest.raises(lm.OAuthError) as info:
            await client.exchange(callback, request)
        assert type(info.value) is lm.OAuthError and info.value.error == "state_mismatch"
    assert fake.counters["oauth_token_requests"] == 0


@pytest.mark.parametrize("expected", ["", "\u00e9t\u00e9", "\udc80"])
async def test_a_request_state_of_any_kind_is_checked_safely(
    fake: FakeServer, expected: str
) -> None:
    """An empty request state never matches; a non-ASCII one is compared without TypeError."""
    client = fake.oauth_client()
    request = lm.lyra.AuthorizationRequest(url="https://x", state=expected)
    for callback in ("?code=abc&state=", "?code=abc&state=forged", "?code=abc"):
        with pytest.raises(lm.OAuthError) as info:
            await client.exchange(callback, request)
        assert info.value.error == "state_mismatch"
    assert fake.counters["oauth_token_requests"] == 0


async def test_a_non_ascii_state_round_trips(fake: FakeServer) -> None:
    """A caller-chosen non-ASCII state survives the redirect and the exchange works."""
    client = fake.oauth_client()
    request = client.authorization_url(state="caf\u00e9-\u6f22\u5b57")
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(request.url, allow_redirects=False) as resp,
    ):
        callback = resp.headers["Location"]
    assert (await client.exchange(callback, request)).access_token


@pytest.mark.parametrize(
    "code", ["code=&", "code=a&code=b&", "code=a&code=a&", "", "code&"], ids=repr
)
async def test_a_missing_empty_or_repeated_code_is_refused_unsent(
    fake: FakeServer, code: str
) -> None:
    """A callback whose code is missing, empty or repeated is an OAuthError, with no request."""
    client = fake.oauth_client()
    request = client.authorization_url(state=GOOD)
    with pytest.raises(lm.OAuthError) as info:
        await client.exchange(f"?{code}state={GOOD}", request)
    assert info.value.error == "invalid_request"
    assert fake.counters["oauth_token_requests"] == 0


async def test_exchange_refuses_what_is_not_a_callback() -> None:
    """A callback or request of the wrong type is the caller's ValidationError."""
    client = OAuthClient("cid", "secret", "https://app.example/cb")
    request = client.authorization_url()
    with pytest.raises(lm.ValidationError, match="callback_url"):
        await client.exchange(b"?code=a", request)  # type: ignore[arg-type]
    with pytest.raises(lm.ValidationError, match="request"):
        await client.exchange("?code=a&state=b", "b")  # type: ignore[arg-type]
