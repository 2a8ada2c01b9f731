"""HTTP facts without I/O: the request and response value types, and the pure
decisions about them.

- :class:`Request` (one attempt) and :class:`Response` (a finished exchange, body read);
- :func:`error_from_response`: a non-success response as its typed error;
- :func:`connection_error`: a transport failure as its typed error, with ``sent`` telling
  exactly whether the request can have reached the server;
- :func:`build_request`: the first attempt of a call.

The decisions about waiting (retry or raise, and the errors of a wait too long) are in
:mod:`lyra_mavera._waits`.

Nothing here opens a connection, reads a clock or sleeps. May import the core's
``_errors``, ``_headers``, ``_retry`` and ``_convert`` only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import attrs
from multidict import CIMultiDictProxy

from ._convert import loads
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    ValidationError,
)
from ._headers import RateLimitInfo, parse_retry_after, request_id_of
from ._ids import new_request_id
from ._options import CallOptions

__all__ = [
    "BODY_KEEP",
    "Handler",
    "Middleware",
    "Request",
    "Response",
    "build_request",
    "connection_error",
    "error_class_for",
    "error_from_response",
    "too_large",
]

#: How much of an error body an exception keeps (a proxy's HTML page can be huge).
BODY_KEEP = 2_000


@attrs.define(slots=True, repr=False)
class Request:
    """One attempt of one logical API call.

    ``request_id`` is minted once per logical call and kept on every attempt (it is
    the ``Idempotency-Key`` of a POST and the id in our logs). ``headers`` is this
    attempt's own dict: middlewares may change it in place.
    """

    provider: str
    method: str
    url: str
    path: str
    request_id: str
    attempt: int
    headers: dict[str, str]
    params: Mapping[str, str] | None = None
    body: bytes | None = None
    timeout: float = 30.0
    #: The longest this attempt may wait for the rate limiter: the smaller of
    #: ``RetryPolicy.max_retry_after`` and what is left of the call's deadline.
    max_wait: float = math.inf
    #: When the call's deadline passes (``_clock.monotonic()``; ``None``: no deadline):
    #: the attempt as a whole ends by then, whatever its per-phase ``timeout``.
    deadline_at: float | None = None
    #: Free-form per-call annotations for middlewares (e.g. ``{"endpoint": "meetings.get"}``).
    context: dict[str, Any] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        # Never show headers: they carry the API key.
        return (
            f"Request({self.method} {self.provider}:{self.path} "
            f"id={self.request_id} attempt={self.attempt})"
        )


@attrs.frozen(repr=False)
class Response:
    """A finished HTTP exchange with its body read (bounded in size)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    request: Request
    elapsed: float

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    @property
    def request_id(self) -> str | None:
        """The server's request id, if it sent one."""
        return request_id_of(self.headers)

    def json(self) -> Any:
        """The body as JSON, or :class:`ResponseValidationError`."""
        return loads(self.body, provider=self.request.provider, status=self.status)

    def __repr__(self) -> str:
        return f"Response({self.status} for {self.request!r}, {len(self.body)} bytes)"


Handler = Callable[[Request], Awaitable[Response]]
Middleware = Callable[[Request, Handler], Awaitable[Response]]


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class_for(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP status (a pure table lookup)."""
    if status >= 500:
        return ServerError
    return _STATUS_CLASSES.get(status, APIStatusError)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_from_response(
    provider: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
) -> APIStatusError:
    """Map a non-success response to a typed error; never raises.

    Understands Lyra's ``{"error": "..."}``, Mavera's
    ``{"error": {"message", "type", "code", "param"}}``, OAuth's
    ``{"error": "invalid_grant", "error_description": ...}``, and anything else (an HTML
    page from a proxy, an empty body, invalid JSON, invalid UTF-8).
    """
    text = body.decode("utf-8", errors="replace")
    message: str | None = None
    code = param = error_type = None
    parsed: Any = None
    if body:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict):
            message = _text(err.get("message"))
            code = _text(err.get("code"))
            param = _text(err.get("param"))
            error_type = _text(err.get("type"))
        elif isinstance(err, str):
            message = err or None
            description = _text(parsed.get("error_description"))
            if description:
                # OAuth token endpoints: `error` is a code, the prose is elsewhere.
                code, message = err, description
        if message is None:
            message = _text(parsed.get("message"))
    if message is None:
        content_type = headers.get("Content-Type", "unknown content type").split(";")[0]
        message = (
            "empty response body"
            if not body
            else f"unexpected {content_type} body: {_snippet(text)}"
        )
    retry_after = parse_retry_after(headers)
    return error_class_for(status)(
        message,
        status=status,
        provider=provider,
        code=code,
        param=param,
        request_id=request_id_of(headers),
        body=text[:BODY_KEEP],
        retry_after=retry_after,
        rate_limit=RateLimitInfo.from_headers(headers),
        error_type=error_type,
    )


def _snippet(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def connection_error(
    exc: TimeoutError | aiohttp.ClientError, request: Request
) -> APIConnectionError:
    """Map a transport failure to its error (a pure function, like ``error_from_response``).

    ``sent=False`` exactly when the request cannot have left: refused connection, DNS
    failure, a TLS failure, or a timeout while waiting for a pooled connection or
    connecting (aiohttp's ``connect`` timeout covers both). Anything later -- a read
    timeout, a dropped connection -- may have reached the server. A certificate that
    fails verification is not retryable: another attempt meets the same certificate.
    """
    cls: type[APIConnectionError] = APIConnectionError
    retryable = True
    if isinstance(exc, aiohttp.ClientSSLError):
        sent, retryable, what = False, False, _tls_failure(exc)
    elif isinstance(exc, aiohttp.ConnectionTimeoutError):
        cls, sent = APITimeoutError, False
        what = f"no connection within {request.timeout:g}s (waiting for the pool or connecting)"
    elif isinstance(exc, aiohttp.ClientProxyConnectionError):
        reason = exc.os_error.strerror or exc.os_error
        sent, what = False, f"could not connect to the proxy {exc.host}:{exc.port}: {reason}"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        sent, what = False, f"could not connect: {exc.os_error.strerror or exc.os_error}"
    elif isinstance(exc, aiohttp.ClientHttpProxyError):
        # The proxy refused the tunnel (CONNECT): nothing reached the server.
        sent, retryable = False, exc.status >= 500
        what = f"the proxy refused the connection ({exc.status} {exc.message})"
    elif isinstance(exc, TimeoutError):
        cls, sent, what = APITimeoutError, True, f"no answer within {request.timeout:g}s"
    else:
        sent, what = True, f"connection failed ({type(exc).__name__})"
    outcome = "the server may have processed it" if sent else "the request was not sent"
    return cls(
        f"{request.provider}: {what} during {request.method} {request.path}; {outcome}",
        provider=request.provider,
        sent=sent,
        retryable=retryable,
    )


def _tls_failure(exc: aiohttp.ClientSSLError) -> str:
    host = exc.host
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        reason = getattr(exc.certificate_error, "verify_message", None) or "not trusted"
        return (
            f"TLS certificate verification failed for {host} ({reason}); fix the server's "
            "certificate or the base URL (verify_tls=False only for a server you control)"
        )
    return f"TLS handshake with {host} failed ({exc.os_error})"


def too_large(request: Request, limit: int, status: int) -> ResponseValidationError:
    return ResponseValidationError(
        f"{request.provider} response to {request.method} {request.path} is larger than "
        f"max_response_bytes ({limit:,} bytes); raise the limit on AsyncSession if expected",
        provider=request.provider,
        status=status,
    )


#: One encoder: json.dumps with non-default arguments builds a new one on every call.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def build_request(
    options: CallOptions,
    base_url: str,
    provider: str,
    method: str,
    path: str,
    json_body: Any,
    params: Mapping[str, str] | None,
) -> Request:
    """The first attempt of a call (``attempt=0``: the retry loop numbers them)."""
    if not path.startswith("/"):
        raise ValidationError("path", f"must start with '/', got {path!r}")
    headers = {"Accept": "application/json", **dict(options.headers)}
    body = None
    if json_body is not None:
        body = _JSON.encode(json_body).encode()
        headers["Content-Type"] = "application/json"
    return Request(
        provider=provider,
        method=method.upper(),
        url=base_url + path,
        path=path,
        request_id=new_request_id(),
        attempt=0,
        headers=headers,
        params=params,
        body=body,
        timeout=options.timeout,
        max_wait=options.retry.max_retry_after,
    )
