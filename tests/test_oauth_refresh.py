"""Lyra OAuth refreshes under stress: one at a time, its outcome (good or bad) shared by
every waiting call, a refused refresh token remembered, and sessions sharing one OAuth."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

import lyra_mavera as lm
from lyra_mavera.lyra import OAuth, OAuthToken
from lyra_mavera.testing import FakeServer
from tests.test_oauth import sign_in

CALLS = 50


def script(fake: FakeServer, body: Any = None, **options: Any) -> None:
    """Script the next answer of the fake token endpoint for fake.oauth_client()."""
    app = fake.oauth_apps[fake.oauth_client_id]
    if body is None:
        app.answer_next(**options)
    else:
        app.answer_next(body, **options)


async def until(condition: Callable[[], bool]) -> None:
    """Wait (5 s at most) for ``condition``, then let every ready task take its step."""
    for _ in range(5000):
        if condition():
            break
        await asyncio.sleep(0.001)
    assert condition()
    for _ in range(20):
        await asyncio.sleep(0)


def statuses(seen: list[int]) -> lm.Middleware:
    """A middleware that notes each answer's status, just before OAuth sees it."""

    async def note(request: lm.Request, call_next: lm.Handler) -> lm.Response:
        response = await call_next(request)
        seen.append(response.status)
        return response

    return note


async def all_waiting(fake: FakeServer, how: str, seen: list[int]) -> None:
    """Wait until the refresh is at the fake and every call waits for it: before sending,
    they all joined it at once; after a 401, once every 401 has come back."""
    await until(lambda: fake.counters["oauth_refreshes"] >= 1)
    if how == "after_401":
        await until(lambda: seen.count(401) >= CALLS)


def meetings_sent(fake: FakeServer) -> int:
    return len(fake.requests_to("POST", "/meeting"))


async def expire(fake: FakeServer, token: OAuthToken, how: str) -> None:
    """Make ``token`` need a refresh: on the OAuth clock (refreshed before sending) or
    on the server only (refreshed after a 401)."""
    if how == "before_sending":
        fake.clock.advance(3600 - 30)  # inside the 60 s leeway
    else:
        fake.expire_token(token.access_token)


# -- one refresh at a time, its outcome shared -------------------------------------


@pytest.mark.parametrize("how", ["before_sending", "after_401"])
@pytest.mark.parametrize("revoked", ["before", "while_waiting"])
async def test_a_failed_refresh_is_shared_and_never_retried_with_a_dead_token(
    fake: FakeServer, how: str, revoked: str
) -> None:
    """One invalid_grant fails every waiting call, and later calls raise at once, unsent."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    assert token.refresh_token is not None
    saved: list[OAuthToken] = []
    oauth = OAuth(client, token, on_token=saved.append, clock=fake.clock.now)
    gate = asyncio.Event()
    if revoked == "before":
        fake.revoke_refresh_token(token.refresh_token)
    else:
        script(fake, hold=gate)  # the real answer, once the refresh token is dead
    await expire(fake, token, how)
    seen: list[int] = []
    async with fake.session(lyra_oauth=oauth, middlewares=[statuses(seen)]) as s:
        calls = asyncio.gather(
            *(s.lyra.meetings.create(f"m{i}") for i in range(CALLS)), return_exceptions=True
        )
        if revoked == "while_waiting":
            await all_waiting(fake, how, seen)
            fake.revoke_refresh_token(token.refresh_token)
            gate.set()
        results = await calls
        assert all(isinstance(r, lm.ReauthorizationRequired) for r in results), results
        assert fake.counters["oauth_refreshes"] == 1
        sent_before = (len(fake.requests), meetings_sent(fake))
        later = []
        for _ in range(3):
            with pytest.raises(lm.ReauthorizationRequired, match="sign in again") as info:
                await s.lyra.meetings.create("Still no")
            later.append(info.value)
        assert info.value.error == "invalid_grant"
        assert (len(fake.requests), meetings_sent(fake)) == sent_before  # nothing sent
        assert len({id(e) for e in later}) == 3  # a fresh error each time
    assert saved == [] and oauth.refreshes == 0


async def test_set_token_gives_a_reauthorized_oauth_a_new_start(fake: FakeServer) -> None:
    """After ReauthorizationRequired, set_token() with a new sign-in makes calls work again."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    assert token.refresh_token is not None
    saved: list[OAuthToken] = []
    oauth = OAuth(client, token, on_token=saved.append)
    fake.revoke_refresh_token(token.refresh_token)
    fake.expire_token(token.access_token)
    async with fake.session(lyra_oauth=oauth) as s:
        with pytest.raises(lm.ReauthorizationRequired):
            await s.lyra.meetings.create("Dead")
        again = await sign_in(fake, client)
        oauth.set_token(again)
        assert oauth.token is again
        meeting = await s.lyra.meetings.create("Signed in again")
        fake.expire_token(again.access_token)  # and it refreshes normally
        await s.lyra.meetings.create("Refreshed")
    assert meeting.id in fake.lyra_meetings
    assert fake.counters["oauth_refreshes"] == 2 and len(saved) == 1
    with pytest.raises(lm.ValidationError, match="token"):
        oauth.set_token(again.to_dict())  # type: ignore[arg-type]


@pytest.mark.parametrize("outcome", ["invalid_grant", "success"])
async def test_calls_waiting_on_a_refresh_go_on_with_a_token_set_meanwhile(
    fake: FakeServer, outcome: str
) -> None:
    """set_token() during a refresh wins: its waiters use the given token, whatever the outcome."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    assert token.refresh_token is not None
    saved: list[OAuthToken] = []
    oauth = OAuth(client, token, on_token=saved.append, clock=fake.clock.now)
    gate = asyncio.Event()
    script(fake, hold=gate)
    fake.clock.advance(3600 - 30)
    async with fake.session(lyra_oauth=oauth) as s:
        calls = asyncio.gather(*(s.lyra.meetings.create(f"m{i}") for i in range(CALLS)))
        await all_waiting(fake, "before_sending", [])
        again = await sign_in(fake, client)
        oauth.set_token(again)
        if outcome == "invalid_grant":
            fake.revoke_refresh_token(token.refresh_token)
        gate.set()
        assert len(await calls) == CALLS
    assert oauth.token is again and saved == [] and oauth.refreshes == 0
    users = {r.headers["Authorization"] for r in fake.requests_to("POST", "/meeting")}
    assert users == {f"Bearer {again.access_token}"}


@pytest.mark.parametrize(
    "failure",
    [
        {"body": {"error": "temporarily_unavailable"}, "status": 503},
        {
            "raw": "<html><h1>502 Bad Gateway</h1></html>",
            "status": 502,
            "content_type": "text/html",
        },
        {"drop": True},
        {"body": {"error": "server_error"}, "status": 200},
    ],
    ids=["503", "html_502", "dropped", "200_with_error"],
)
@pytest.mark.parametrize("how", ["before_sending", "after_401"])
async def test_a_transient_refresh_failure_is_shared_once_and_the_next_call_refreshes(
    fake: FakeServer, failure: dict[str, Any], how: str
) -> None:
    """A 5xx or dropped refresh fails all its waiters with one request, and does not poison."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    oauth = OAuth(client, token, clock=fake.clock.now)
    gate = asyncio.Event()
    script(fake, hold=gate, **failure)
    await expire(fake, token, how)
    seen: list[int] = []
    no_retries = lm.RetryPolicy(attempts=1)
    async with fake.session(lyra_oauth=oauth, retry=no_retries, middlewares=[statuses(seen)]) as s:
        calls = asyncio.gather(
            *(s.lyra.meetings.create(f"m{i}") for i in range(CALLS)), return_exceptions=True
        )
        await all_waiting(fake, how, seen)
        gate.set()
        results = await calls
        expected = lm.APIConnectionError if failure.get("drop") else lm.OAuthError
        assert all(
            isinstance(r, expected) and not isinstance(r, lm.ReauthorizationRequired)
            for r in results
        ), results
        assert fake.counters["oauth_refreshes"] == 1
        meeting = await s.lyra.meetings.create("Next call")
    assert fake.counters["oauth_refreshes"] == 2 and oauth.refreshes == 1
    assert meeting.id in fake.lyra_meetings


async def test_a_waiter_cancelled_mid_refresh_does_not_cancel_it_for_the_others(
    fake: FakeServer,
) -> None:
    """Cancelling the call that started a refresh leaves the one refresh to the others."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    oauth = OAuth(client, token, clock=fake.clock.now)
    gate = asyncio.Event()
    script(fake, hold=gate)
    fake.clock.advance(3600 - 30)
    async with fake.session(lyra_oauth=oauth) as s:
        first = asyncio.ensure_future(s.lyra.meetings.create("first"))
        await asyncio.sleep(0)
        others = asyncio.gather(*(s.lyra.meetings.create(f"m{i}") for i in range(CALLS - 1)))
        await all_waiting(fake, "before_sending", [])
        first.cancel()
        await asyncio.sleep(0.01)
        gate.set()
        results = await others
        with pytest.raises(asyncio.CancelledError):
            await first
    assert len(results) == CALLS - 1
    assert fake.counters["oauth_refreshes"] == 1 and oauth.refreshes == 1


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_an_on_token_that_raises_fails_that_refresh_once_but_the_new_token_is_kept(
    fake: FakeServer, kind: str
) -> None:
    """on_token's error reaches the waiters of that refresh; the new token is kept, not re-fetched."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    seen: list[OAuthToken] = []

    def store(fresh: OAuthToken) -> None:
        seen.append(fresh)
        raise RuntimeError("the database is down")

    async def store_async(fresh: OAuthToken) -> None:
        store(fresh)

    on_token = store if kind == "plain" else store_async
    oauth = OAuth(client, token, on_token=on_token, clock=fake.clock.now)
    fake.clock.advance(3600 - 30)  # every call waits for the one refresh
    async with fake.session(lyra_oauth=oauth) as s:
        results = await asyncio.gather(
            *(s.lyra.meetings.create(f"m{i}") for i in range(CALLS)), return_exceptions=True
        )
        assert all(isinstance(r, RuntimeError) for r in results), results
        assert len(seen) == 1 and oauth.token is seen[0]
        await s.lyra.meetings.create("With the kept token")
    assert fake.counters["oauth_refreshes"] == 1 and oauth.refreshes == 1


async def test_a_refreshed_token_lives_on_the_oauth_clock(fake: FakeServer) -> None:
    """A fresh token's expiry is counted on the OAuth's clock, so it is not refreshed again."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    oauth = OAuth(client, token, clock=fake.clock.now)
    async with fake.session(lyra_oauth=oauth) as s:
        fake.clock.advance(3600 - 30)
        await s.lyra.meetings.create("Refreshes")
        await asyncio.gather(*(s.lyra.meetings.create(f"m{i}") for i in range(10)))
    assert fake.counters["oauth_refreshes"] == 1


async def test_a_refresh_that_cannot_reach_the_token_endpoint_leaves_a_create_unambiguous(
    fake: FakeServer,
) -> None:
    """A dropped token request means the meeting was never sent: not an ambiguous create."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    for _ in range(3):
        script(fake, drop=True)
    fake.expire_token(token.access_token)
    async with fake.session(lyra_oauth=OAuth(client, token)) as s:
        with pytest.raises(lm.APIConnectionError) as info:
            await s.lyra.meetings.create("Unsent")
        assert info.value.sent is False
        for _ in range(3):
            script(fake, drop=True)
        [result] = await s.lyra.meetings.create_many([lm.lyra.MeetingRequest("Bulk")])
    assert isinstance(result.error, lm.APIConnectionError)
    assert not isinstance(result.error, lm.AmbiguousCreateError)
    assert fake.lyra_meetings == {}


async def test_a_token_answer_that_does_not_fit_neither_poisons_nor_is_retried_by_waiters(
    fake: FakeServer,
) -> None:
    """Through a session, a bad token answer fails its waiters once; the next call refreshes."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    oauth = OAuth(client, token, clock=fake.clock.now)
    gate = asyncio.Event()
    script(fake, {"access_token": "lyra_oauth_fresh", "scope": 5}, hold=gate)
    async with fake.session(lyra_oauth=oauth) as s:
        fake.clock.advance(3600 - 30)
        calls = asyncio.gather(
            *(s.lyra.meetings.create(f"m{i}") for i in range(CALLS)), return_exceptions=True
        )
        await all_waiting(fake, "before_sending", [])
        gate.set()
        results = await calls
        assert all(isinstance(r, lm.ResponseValidationError) for r in results), results
        assert all("$.scope: expected a string" in str(r) for r in results)
        assert fake.counters["oauth_refreshes"] == 1
        await s.lyra.meetings.create("Next call")
    assert fake.counters["oauth_refreshes"] == 2


# -- one OAuth, many sessions -------------------------------------------------------


@pytest.mark.parametrize("closed", ["first", "second"])
async def test_closing_one_session_leaves_another_sharing_the_oauth_working(
    fake: FakeServer, closed: str
) -> None:
    """Token requests never borrow a session: closing either one leaves the other refreshing."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    oauth = OAuth(client, token, clock=fake.clock.now)
    first = fake.session(lyra_oauth=oauth)
    second = fake.session(lyra_oauth=oauth)
    kept, gone = (second, first) if closed == "first" else (first, second)
    async with kept:
        await gone.aclose()
        fake.clock.advance(3600 - 30)
        await asyncio.gather(*(kept.lyra.meetings.create(f"m{i}") for i in range(10)))
        fake.expire_token(oauth.token.access_token)
        await kept.lyra.meetings.create("After a 401")
    assert fake.counters["oauth_refreshes"] == 2 and len(fake.lyra_meetings) == 11


async def test_two_live_sessions_share_one_refresh(fake: FakeServer) -> None:
    """Calls from two sessions sharing an OAuth at expiry cause exactly one refresh."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    oauth = OAuth(client, token, clock=fake.clock.now)
    async with fake.session(lyra_oauth=oauth) as a, fake.session(lyra_oauth=oauth) as b:
        fake.clock.advance(3600 - 30)
        await asyncio.gather(
            *(s.lyra.meetings.create(f"m{i}") for i in range(CALLS // 2) for s in (a, b))
        )
    assert fake.counters["oauth_refreshes"] == 1 and len(fake.lyra_meetings) == CALLS


async def test_oauth_client_token_requests_need_no_session(fake: FakeServer) -> None:
    """exchange() and refresh() work on their own, or on an aiohttp session the caller passes."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    fresh = await client.refresh(token)
    async with aiohttp.ClientSession() as http:
        fresher = await client.refresh(fresh, http=http)
        assert not http.closed  # a passed session is left open
    assert len({token.access_token, fresh.access_token, fresher.access_token}) == 3
