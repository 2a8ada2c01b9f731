"""Mapping responses to errors, and the errors themselves."""

from __future__ import annotations

import pickle

import pytest
from multidict import CIMultiDict

import lyra_mavera as lm
from lyra_mavera._http import BODY_KEEP, error_from_response


def _map(status: int, body: bytes, **headers: str) -> lm.APIStatusError:
    return error_from_response("mavera", status, CIMultiDict(headers), body)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, lm.BadRequestError),
        (422, lm.BadRequestError),
        (401, lm.AuthenticationError),
        (402, lm.PaymentRequiredError),
        (403, lm.PermissionDeniedError),
        (404, lm.NotFoundError),
        (409, lm.ConflictError),
        (429, lm.RateLimitError),
        (500, lm.ServerError),
        (503, lm.ServerError),
        (599, lm.ServerError),
        (418, lm.APIStatusError),
        (302, lm.APIStatusError),
    ],
)
def test_status_to_class(status: int, cls: type[lm.APIStatusError]) -> None:
    """Each status maps to its documented error class."""
    err = _map(status, b"")
    assert type(err) is cls
    assert err.status == status


def test_mavera_envelope() -> None:
    """Mavera's error envelope fills code, message, param and type."""
    body = (
        b'{"error": {"message": "meeting_url is required", "type": "invalid_request_error",'
        b' "code": "missing_field", "param": "meeting_url"}}'
    )
    err = _map(400, body, **{"X-Request-Id": "req_9"})
    assert (err.code, err.message, err.param, err.error_type, err.request_id) == (
        "missing_field",
        "meeting_url is required",
        "meeting_url",
        "invalid_request_error",
        "req_9",
    )
    assert "missing_field" in str(err) and "meeting_url" in str(err)


def test_lyra_error_string() -> None:
    """Lyra's {"error": "..."} gives the message and no code."""
    err = error_from_response(
        "lyra", 401, CIMultiDict(), b'{"valid": false, "error": "Invalid token"}'
    )
    assert isinstance(err, lm.AuthenticationError)
    assert (err.provider, err.message, err.code) == ("lyra", "Invalid token", None)


def test_oauth_error_code_and_description() -> None:
    """An OAuth error keeps `error` as the code and the description as the message."""
    err = _map(400, b'{"error": "invalid_grant", "error_description": "refresh token revoked"}')
    assert (err.code, err.message) == ("invalid_grant", "refresh token revoked")


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b"",
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'{"error": 42}',
        b'"just a string"',
        b"null",
    ],
)
def test_unreadable_bodies_never_crash(body: bytes) -> None:
    """Any body maps to an error with a readable message, never an exception."""
    err = _map(502, body, **{"Content-Type": "text/html; charset=utf-8"})
    assert isinstance(err, lm.ServerError)
    assert err.message
    assert err.body is not None and len(err.body) <= BODY_KEEP


def test_html_body_is_named() -> None:
    """A proxy's HTML page is reported as such."""
    err = _map(502, b"<html><h1>Bad Gateway</h1></html>", **{"Content-Type": "text/html"})
    assert "text/html" in err.message and "Bad Gateway" in err.message


def test_rate_limit_headers_and_retry_after() -> None:
    """X-RateLimit-* and Retry-After land on the error."""
    err = _map(
        429,
        b'{"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit_exceeded"}}',
        **{
            "Retry-After": "30",
            "X-RateLimit-Limit": "60",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "1800000000",
        },
    )
    assert isinstance(err, lm.RateLimitError)
    assert err.retry_after == 30.0
    assert err.rate_limit == lm.RateLimitInfo(limit=60, remaining=0, reset=1_800_000_000.0)


def test_garbled_rate_limit_headers_are_ignored() -> None:
    """Unreadable X-RateLimit values become None rather than raising."""
    err = _map(429, b"", **{"X-RateLimit-Limit": "sixty", "X-RateLimit-Reset": "nan"})
    assert err.rate_limit is None


def test_long_body_is_truncated() -> None:
    """The error keeps at most BODY_KEEP characters of a body."""
    err = _map(500, b"x" * 100_000)
    assert err.body is not None and len(err.body) == BODY_KEEP


@pytest.mark.parametrize(
    "err",
    [
        lm.NotFoundError(
            "gone",
            status=404,
            provider="mavera",
            code="resource_not_found",
            rate_limit=lm.RateLimitInfo(60, 1, 2.0),
        ),
        lm.ValidationError("title", "must not be empty"),
        lm.APITimeoutError("slow", provider="lyra", sent=True),
        lm.ResponseValidationError("bad", provider="mavera", path=("$.id: missing",)),
        lm.ConfigurationError("no key"),
        lm.WaitTimeoutError("late", meeting=None),
    ],
)
def test_errors_pickle(err: lm.LyraMaveraError) -> None:
    """Every error survives pickling with its attributes."""
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert str(copy) == str(err)
    assert copy.__dict__ == err.__dict__


def test_validation_error_is_value_error() -> None:
    """ValidationError is also a ValueError and names the parameter."""
    err = lm.ValidationError("start", "must be timezone-aware")
    assert isinstance(err, ValueError)
    assert err.param == "start" and str(err).startswith("start:")
