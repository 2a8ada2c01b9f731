"""The retry policy's pure parts: backoff, Retry-After parsing, what may be retried."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lyra_mavera as lm
from lyra_mavera._headers import parse_retry_after
from lyra_mavera._retry import backoff


@given(
    attempt=st.integers(min_value=-5, max_value=10_000),
    wait_initial=st.floats(min_value=0, max_value=1e6),
    wait_max=st.floats(min_value=0, max_value=1e6),
    wait_jitter=st.floats(min_value=0, max_value=1e6),
    wait_exp_base=st.floats(min_value=1, max_value=1e3),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_is_bounded(
    attempt: int,
    wait_initial: float,
    wait_max: float,
    wait_jitter: float,
    wait_exp_base: float,
    rand: float,
) -> None:
    """Backoff is never negative, never above wait_max, and never overflows."""
    value = backoff(
        attempt,
        wait_initial=wait_initial,
        wait_max=wait_max,
        wait_jitter=wait_jitter,
        wait_exp_base=wait_exp_base,
        rand=rand,
    )
    assert 0 <= value <= wait_max


def test_backoff_at_attempt_ten_thousand() -> None:
    """A huge attempt number yields the cap rather than an OverflowError."""
    policy = lm.RetryPolicy(wait_initial=0.5, wait_max=8.0, wait_jitter=0)
    assert policy.backoff(10_000, 0.5) == 8.0


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0)],
)
def test_backoff_grows_exponentially(attempt: int, expected: float) -> None:
    """Without jitter, waits double from wait_initial up to wait_max."""
    assert lm.RetryPolicy(wait_jitter=0).backoff(attempt, 0.99) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "30"}, 30.0),
        ({"Retry-After": " 2.5 "}, 2.5),
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "inf"}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "junk", "Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "250", "Retry-After": "3"}, 0.25),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    """Retry-After is read in seconds or milliseconds, defensively."""
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    """An HTTP-date Retry-After becomes seconds from now (and never negative)."""
    now = 1_800_000_000.0
    later = email.utils.formatdate(now + 42, usegmt=True)
    earlier = email.utils.formatdate(now - 42, usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now=now) == pytest.approx(42)
    assert parse_retry_after({"Retry-After": earlier}, now=now) == 0.0


@pytest.mark.parametrize(
    ("method", "status", "unsafe", "expected"),
    [
        ("GET", 500, False, True),
        ("GET", 502, False, True),
        ("GET", 503, False, True),
        ("GET", 504, False, True),
        ("GET", 408, False, True),
        ("GET", 429, False, True),
        ("GET", 400, False, False),
        ("GET", 401, False, False),
        ("GET", 404, False, False),
        ("GET", 501, False, False),
        ("POST", 500, False, False),
        ("POST", 503, False, False),
        ("POST", 429, False, True),
        ("POST", 500, True, True),
        ("POST", 404, True, False),
    ],
)
def test_which_statuses_are_retried(method: str, status: int, unsafe: bool, expected: bool) -> None:
    """GETs retry transient statuses; POSTs only 429 unless retry_unsafe."""
    assert lm.RetryPolicy(retry_unsafe=unsafe).may_retry_status(method, status) is expected


@pytest.mark.parametrize(
    ("method", "sent", "unsafe", "expected"),
    [
        ("GET", True, False, True),
        ("GET", False, False, True),
        ("POST", False, False, True),
        ("POST", True, False, False),
        ("POST", True, True, True),
    ],
)
def test_which_transport_errors_are_retried(
    method: str, sent: bool, unsafe: bool, expected: bool
) -> None:
    """A POST that may have reached the server is not retried by default."""
    assert lm.RetryPolicy(retry_unsafe=unsafe).may_retry_error(method, sent=sent) is expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"attempts": 1.5},
        {"wait_initial": -1},
        {"wait_max": float("nan")},
        {"wait_jitter": "1"},
        {"wait_exp_base": 0.5},
        {"max_retry_after": -0.1},
    ],
)
def test_retry_policy_rejects_nonsense(kwargs: dict[str, object]) -> None:
    """A RetryPolicy with impossible settings fails at construction, naming the field."""
    with pytest.raises(lm.ValidationError) as info:
        lm.RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.param == f"RetryPolicy.{next(iter(kwargs))}"
