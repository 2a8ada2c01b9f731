"""Promises 1 and 2 of the reliability issue: a 429 or a rate-limit header never parks a
key past the caller's bounds (``RetryPolicy.max_retry_after``, ``deadline``), and one
response never makes the limiter's memory unbounded.

Tests about waiting turn testing mode off (``real_waits``): in testing mode every
limiter wait is zero, which would hide a key parked for an hour. A call that would
park is cut by a generous ``asyncio.timeout`` guard, so a hang fails the test instead
of stalling the suite.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import lyra_mavera as lm
from tests.adversary import Adversary, meeting_json
from tests.conftest import LYRA_KEY, MAVERA_KEY

#: Long enough for anything that should be prompt on a loaded 2-core machine.
GUARD = 5.0
MB = 1024 * 1024


def session_for(adversary: Adversary, **options: Any) -> lm.AsyncSession:
    return lm.AsyncSession(
        lyra_api_key=LYRA_KEY,
        mavera_api_key=MAVERA_KEY,
        lyra_base_url=adversary.base_url,
        mavera_base_url=adversary.base_url,
        **options,
    )


def ok_answer(request: web.Request, headers: dict[str, str] | None = None) -> web.Response:
    """A valid success for whatever was asked (Lyra's auth or a Mavera meeting)."""
    if request.path.endswith("/auth"):
        return web.json_response({"valid": True, "userId": "u_1", "orgId": "o_1"}, headers=headers)
    return web.json_response(meeting_json("mtg_1"), headers=headers)


def rate_limited(request: web.Request, headers: dict[str, str]) -> web.Response:
    if request.path.endswith("/auth"):
        body: dict[str, Any] = {"error": "Too many requests"}
    else:
        body = {
            "error": {
                "message": "Rate limit exceeded",
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded",
                "param": None,
            }
        }
    return web.json_response(body, status=429, headers=headers)


def first_429_then_healthy(headers: dict[str, str]) -> Callable[..., Any]:
    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        if len(adversary.requests) == 1:
            return rate_limited(request, headers)
        return ok_answer(request)

    return handler


async def call(s: lm.AsyncSession, provider: str) -> object:
    if provider == "lyra":
        return await s.lyra.auth.verify()
    return await s.mavera.meetings.get("mtg_1")


def in_an_hour() -> str:
    return email.utils.formatdate(time.time() + 3600, usegmt=True)


# (headers of the 429, lowest and highest acceptable `retry_after`)
LONG_429S = [
    pytest.param(lambda: {"Retry-After": "3600"}, 3600, 3600, id="retry-after-3600"),
    pytest.param(lambda: {"Retry-After": in_an_hour()}, 3400, 3601, id="retry-after-http-date"),
    pytest.param(lambda: {"retry-after-ms": "3600000"}, 3600, 3600, id="retry-after-ms"),
    pytest.param(lambda: {"Retry-After": "1e308"}, 61, math.inf, id="retry-after-1e308"),
]


# -- promise 1: a 429 never parks the key past the caller's bounds ---------------------


@pytest.mark.parametrize("provider", ["mavera", "lyra"])
@pytest.mark.parametrize(("make_headers", "low", "high"), LONG_429S)
async def test_a_429_longer_than_max_retry_after_does_not_park_the_key(
    real_waits: None,
    provider: str,
    make_headers: Callable[[], dict[str, str]],
    low: float,
    high: float,
) -> None:
    """A 429 asking for longer than max_retry_after raises RateLimitError at once with
    retry_after set, and the next call on the same key is sent as soon as it is made."""
    async with (
        Adversary(first_429_then_healthy(make_headers())) as adversary,
        session_for(adversary) as s,
    ):
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.RateLimitError) as info:
                await call(s, provider)
        assert adversary.count() == 1
        assert info.value.retry_after is not None
        assert low <= info.value.retry_after <= high
        async with asyncio.timeout(GUARD):
            await call(s, provider)  # parked in the limiter for an hour today
        assert adversary.count() == 2


def limit_headers(limit: str, remaining: str, reset: str) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": limit,
        "X-RateLimit-Remaining": remaining,
        "X-RateLimit-Reset": reset,
    }


async def ok_or_rate_limited_at_once(s: lm.AsyncSession, adversary: Adversary) -> str:
    """One call that must neither sleep past the guard nor fail other than with a
    RateLimitError that carries retry_after (and then was not sent)."""
    before = adversary.count()
    refused: lm.RateLimitError | None = None
    try:
        async with asyncio.timeout(GUARD):
            await s.mavera.meetings.get("mtg_1")
    except lm.RateLimitError as exc:
        refused = exc
    if refused is None:
        assert adversary.count() == before + 1
        return "ok"
    assert refused.retry_after is not None
    assert adversary.count() == before, "a local refusal must not send the request"
    return "RateLimitError"


async def test_an_exhausted_window_with_a_far_reset_never_sleeps_past_max_retry_after(
    real_waits: None,
) -> None:
    """After a 200 saying no requests are left until an hour from now, the next call is
    sent or refused with RateLimitError at once, never slept on beyond max_retry_after."""
    reset = str(math.ceil(time.time() + 3600))

    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        return ok_answer(request, limit_headers("5", "0", reset))

    async with (
        Adversary(handler) as adversary,
        session_for(adversary, retry=lm.RetryPolicy(max_retry_after=5)) as s,
    ):
        await s.mavera.meetings.get("mtg_1")
        await ok_or_rate_limited_at_once(s, adversary)


async def test_an_hour_long_window_read_off_the_reset_header_never_parks_the_key(
    real_waits: None,
) -> None:
    """A fresh window whose X-RateLimit-Reset is an hour away does not make the limiter
    hold the third call for an hour: it is sent or refused at once."""
    reset = str(math.ceil(time.time() + 3600))

    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        remaining = str(max(2 - len(adversary.requests), 0))
        return ok_answer(request, limit_headers("2", remaining, reset))

    async with (
        Adversary(handler) as adversary,
        session_for(adversary, retry=lm.RetryPolicy(max_retry_after=5)) as s,
        asyncio.timeout(GUARD),
    ):
        await s.mavera.meetings.get("mtg_1")
        await s.mavera.meetings.get("mtg_1")
        await ok_or_rate_limited_at_once(s, adversary)


# -- promise 1, new API: a whole-call deadline -----------------------------------------


def always_503(retry_after: str) -> Callable[..., Any]:
    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        if len(adversary.requests) > 200:  # a circuit breaker: keep a failing test short
            return ok_answer(request)
        return web.json_response(
            {"error": {"message": "busy", "type": "api_error", "code": "service_unavailable"}},
            status=503,
            headers={"Retry-After": retry_after},
        )

    return handler


async def test_a_session_deadline_bounds_retries_of_an_always_503_server() -> None:
    """AsyncSession(deadline=3) stops retrying a server that keeps answering 503 with
    Retry-After: 1 once 3 s of (virtual) waiting are spent, with APITimeoutError."""
    async with (
        Adversary(always_503("1")) as adversary,
        session_for(adversary, retry=lm.RetryPolicy(attempts=100), deadline=3) as s,
        asyncio.timeout(GUARD),
    ):
        with pytest.raises(lm.APITimeoutError, match="deadline"):
            await s.mavera.meetings.get("mtg_1")
    assert 1 <= adversary.count() <= 5


async def test_a_with_options_deadline_bounds_retries_of_an_always_503_server() -> None:
    """s.with_options(deadline=3, retry=...) bounds one call the same way, leaving the
    session's own settings alone."""
    async with Adversary(always_503("1")) as adversary, session_for(adversary) as s:
        view = s.with_options(deadline=3, retry=lm.RetryPolicy(attempts=100))
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.APITimeoutError, match="deadline"):
                await view.mavera.meetings.get("mtg_1")
        assert 1 <= adversary.count() <= 5
        before = adversary.count()
        async with asyncio.timeout(GUARD):
            with pytest.raises(lm.ServerError):
                await s.mavera.meetings.get("mtg_1")
        assert adversary.count() - before == 3  # the session's default attempts


async def test_a_deadline_bounds_real_waits_too(real_waits: None) -> None:
    """With real waits, deadline=1.5 against Retry-After: 0.5 ends in APITimeoutError
    after a handful of attempts, not after attempts=100."""
    async with (
        Adversary(always_503("0.5")) as adversary,
        session_for(adversary, retry=lm.RetryPolicy(attempts=100), deadline=1.5) as s,
        asyncio.timeout(GUARD),
    ):
        with pytest.raises(lm.APITimeoutError, match="deadline"):
            await s.mavera.meetings.get("mtg_1")
    assert 1 <= adversary.count() <= 5


async def test_a_deadline_bounds_backoff_after_dropped_connections() -> None:
    """deadline=3 also bounds the backoff between retries of a GET whose connection the
    server keeps dropping: APITimeoutError after a few attempts, not attempts=100."""

    async def drop_everything(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        if len(adversary.requests) > 200:  # a circuit breaker: keep a failing test short
            return ok_answer(request)
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)

    async with (
        Adversary(drop_everything) as adversary,
        session_for(adversary, retry=lm.RetryPolicy(attempts=100), deadline=3) as s,
        asyncio.timeout(GUARD),
    ):
        with pytest.raises(lm.APITimeoutError, match="deadline"):
            await s.mavera.meetings.get("mtg_1")
    # Backoff of 0.5, 1, 2 s (+ up to 1 s jitter) fits two or three attempts in 3 s.
    assert 1 <= s.stats.attempts <= 4
    # aiohttp itself sends an idempotent GET once more on a connection that died.
    assert adversary.count() <= 2 * s.stats.attempts


@pytest.mark.parametrize("deadline", [0, -1, math.nan, "3", True])
async def test_a_nonsense_deadline_is_refused(deadline: object) -> None:
    """A deadline that is not a positive number of seconds is refused up front, on the
    session and on with_options, like a bad timeout."""
    with pytest.raises((lm.ConfigurationError, lm.ValidationError)):
        lm.AsyncSession(mavera_api_key=MAVERA_KEY, deadline=deadline)
    async with lm.AsyncSession(mavera_api_key=MAVERA_KEY) as s:
        with pytest.raises((lm.ConfigurationError, lm.ValidationError)):
            s.with_options(deadline=deadline)


@pytest.mark.parametrize("where", ["session", "with_options"])
async def test_a_limiter_wait_longer_than_the_deadline_left_raises_at_once(
    real_waits: None, where: str
) -> None:
    """When the limiter would hold a call longer than what is left of its deadline, the
    call raises RateLimitError at once and nothing is sent."""

    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        return ok_answer(request, limit_headers("1", "0", str(math.ceil(time.time() + 30))))

    async with Adversary(handler) as adversary:
        options: dict[str, Any] = {"rate_limit_window": 30.0}
        if where == "session":
            options["deadline"] = 2.0
        async with session_for(adversary, **options) as s:
            client = s if where == "session" else s.with_options(deadline=2.0)
            async with asyncio.timeout(GUARD):
                await client.mavera.meetings.get("mtg_1")  # the window is now used up
                with pytest.raises(lm.RateLimitError) as info:
                    await client.mavera.meetings.get("mtg_1")
            assert info.value.retry_after is not None
    assert adversary.count() == 1


async def test_a_429_wait_longer_than_the_deadline_left_is_not_slept(real_waits: None) -> None:
    """A 429 with Retry-After: 50 (within max_retry_after) under deadline=2 ends the call
    at once with a typed error rather than sleeping 50 s."""
    async with (
        Adversary(first_429_then_healthy({"Retry-After": "50"})) as adversary,
        session_for(adversary, deadline=2.0) as s,
        asyncio.timeout(GUARD),
    ):
        with pytest.raises((lm.RateLimitError, lm.APITimeoutError)):
            await s.mavera.meetings.get("mtg_1")
    assert adversary.count() == 1


# -- with_options: a view that changes options for its calls only ---------------------


async def test_with_options_timeout_applies_to_the_view_only() -> None:
    """A view's timeout cuts a slow answer the session itself waits for."""

    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        await asyncio.sleep(0.6)
        return ok_answer(request)

    async with (
        Adversary(handler) as adversary,
        session_for(adversary) as s,
        asyncio.timeout(GUARD),
    ):
        view = s.with_options(timeout=0.2, retry=lm.RetryPolicy(attempts=1))
        with pytest.raises(lm.APITimeoutError):
            await view.mavera.meetings.get("mtg_1")
        meeting = await s.mavera.meetings.get("mtg_1")
    assert meeting.id == "mtg_1"


async def test_with_options_headers_are_sent_by_the_view_only() -> None:
    """Headers given to with_options go out on the view's calls, not the session's."""

    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        return ok_answer(request)

    async with (
        Adversary(handler) as adversary,
        session_for(adversary) as s,
        asyncio.timeout(GUARD),
    ):
        view = s.with_options(headers={"X-Team": "billing"})
        await view.mavera.meetings.get("mtg_1")
        await view.lyra.auth.verify()
        await s.mavera.meetings.get("mtg_1")
    assert [r.headers.get("X-Team") for r in adversary.requests] == ["billing", "billing", None]


async def test_with_options_retry_applies_to_the_view_only() -> None:
    """A view with attempts=1 sends a failing GET once; the session still retries it."""
    async with (
        Adversary(always_503("0")) as adversary,
        session_for(adversary) as s,
        asyncio.timeout(GUARD),
    ):
        with pytest.raises(lm.ServerError):
            await s.with_options(retry=lm.RetryPolicy(attempts=1)).mavera.meetings.get("m")
        assert adversary.count() == 1
        with pytest.raises(lm.ServerError):
            await s.mavera.meetings.get("m")
        assert adversary.count() == 4


async def test_with_options_view_shares_the_pool_and_the_rate_limiter() -> None:
    """Calls through a view reuse the session's connections and count against the same
    key's limiter."""

    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        return ok_answer(request, limit_headers("100", str(100 - len(adversary.requests)), "1"))

    async with (
        Adversary(handler) as adversary,
        session_for(adversary) as s,
        asyncio.timeout(GUARD),
    ):
        view = s.with_options(timeout=10.0, headers={"X-Team": "billing"})
        await s.mavera.meetings.get("mtg_1")
        await view.mavera.meetings.get("mtg_1")
        response = await view.request("mavera", "GET", "/meetings/mtg_1")
        limiter = s.rate_limiter("mavera")
    assert response.ok and response.json()["id"] == "mtg_1"
    assert len(adversary.peers) == 1, "the view opened its own connections"
    assert limiter is not None and limiter.sent == 3


# -- promise 2: one response never makes the limiter's memory unbounded ----------------


#: One scenario, run in a child process capped at 512 MB of address space: code that
#: keeps one limiter slot per unit of a header value would exhaust memory, and an
#: in-process test would take the machine (and the other engineers' runs) down with it.
#: It reports each call's outcome, how much the process's peak RSS grew during the
#: calls, and the WARNING records logged under ``lyra_mavera``.
_CHILD = """
import asyncio, json, logging, resource, sys
from aiohttp import web
import lyra_mavera as lm
from lyra_mavera.testing import set_testing
from tests.adversary import Adversary, meeting_json

limit, remaining, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
warnings = []

class Collect(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())

logging.getLogger("lyra_mavera").addHandler(Collect())

async def handler(request, adversary):
    return web.json_response(meeting_json("mtg_1"), headers={
        "X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": "1"})

def peak_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

async def main():
    set_testing(True)
    outcomes = []
    async with Adversary(handler) as adversary:
        async with lm.AsyncSession(
            lyra_api_key="lyra_" + "x" * 32, lyra_base_url=adversary.base_url,
            mavera_api_key="mvra_live_" + "x" * 32, mavera_base_url=adversary.base_url,
        ) as s:
            # Connection and buffers in place, through the other key's limiter.
            await s.request("lyra", "GET", "/warm-up")
            before = peak_kb()
            for _ in range(calls):
                try:
                    await s.mavera.meetings.get("mtg_1")
                    outcomes.append("ok")
                except Exception as exc:
                    outcomes.append(type(exc).__name__)
            grew = (peak_kb() - before) / 1024
    print(json.dumps({"outcomes": outcomes, "grew_mb": grew, "warnings": warnings}))

asyncio.run(main())
"""


def _limit_memory() -> None:
    import resource

    cap = 512 * MB
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def run_limiter_child(limit: str, remaining: str, calls: int) -> dict[str, Any]:
    """The scenario above in a child process: its report, or a failed test."""
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, limit, remaining, str(calls)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the calls did not finish within 60 s")
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_an_absurd_limit_header_keeps_the_limiter_small_and_warns_once() -> None:
    """X-RateLimit-Limit: 20000000 with Remaining: 0 on every 200 costs the limiter no
    more than a few MB, and the session logs one WARNING naming the header, not one per
    response."""
    report = run_limiter_child("20000000", "0", calls=5)
    assert report["outcomes"] == ["ok"] * 5
    assert report["grew_mb"] < 20, f"peak RSS grew {report['grew_mb']:.0f} MB"
    about_header = [m for m in report["warnings"] if "x-ratelimit" in m.lower()]
    assert len(about_header) == 1, report["warnings"]


@pytest.mark.parametrize(
    ("limit", "remaining"),
    [
        pytest.param("5", "-30000000", id="remaining-minus-30-million"),
        pytest.param("1" + "0" * 30, "0", id="limit-10e30"),
        pytest.param("5", "-" + "9" * 30, id="remaining-minus-10e30"),
    ],
)
def test_huge_limit_header_values_do_not_exhaust_memory(limit: str, remaining: str) -> None:
    """X-RateLimit values in the tens of millions up to 10^30 are survived: three calls
    end normally (or refused with RateLimitError) and the peak RSS grows by < 20 MB."""
    report = run_limiter_child(limit, remaining, calls=3)
    assert report["outcomes"][0] == "ok"
    assert set(report["outcomes"]) <= {"ok", "RateLimitError"}, report["outcomes"]
    assert report["grew_mb"] < 20, f"peak RSS grew {report['grew_mb']:.0f} MB"


def at(offset: float) -> Callable[[], str]:
    return lambda: str(math.ceil(time.time() + offset))


def const(value: str) -> Callable[[], str]:
    return lambda: value


ODD_LIMIT_HEADERS = [
    pytest.param("-5", "3", at(60), id="negative-limit"),
    pytest.param("5", "-3000", at(60), id="negative-remaining"),
    pytest.param("abc", "xyz", const("soon"), id="non-numeric"),
    pytest.param("10.5", "2.5", at(60.5), id="floats"),
    pytest.param("5", "4", const("inf"), id="reset-inf"),
    pytest.param("5", "4", const("nan"), id="reset-nan"),
    pytest.param("5", "4", const("1e308"), id="reset-1e308"),
    pytest.param("5", "4", const("-1e308"), id="reset-minus-1e308"),
    pytest.param("0", "0", at(60), id="zero-limit"),
    pytest.param("5", "9", at(60), id="remaining-above-limit"),
    pytest.param("1e9", "0", at(60), id="limit-in-exponent-form"),
    pytest.param("99999999999999999999", "99999999999999999998", at(60), id="huge-but-consistent"),
]


@pytest.mark.parametrize(("limit", "remaining", "reset"), ODD_LIMIT_HEADERS)
async def test_odd_limit_headers_never_crash_hang_or_hog_memory(
    real_waits: None, limit: str, remaining: str, reset: Callable[[], str]
) -> None:
    """Negative, non-numeric, float, infinite and huge X-RateLimit-* values leave every
    call either answered or refused at once with RateLimitError, in little memory."""
    outcomes: list[str] = []

    async def handler(request: web.Request, adversary: Adversary) -> web.StreamResponse:
        return ok_answer(request, limit_headers(limit, remaining, reset()))

    async with (
        Adversary(handler) as adversary,
        session_for(adversary, retry=lm.RetryPolicy(max_retry_after=5)) as s,
    ):
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            for _ in range(3):
                outcomes.append(await ok_or_rate_limited_at_once(s, adversary))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert outcomes[0] == "ok"
    assert peak < 20 * MB, f"peak {peak / MB:.0f} MB"
