"""The exception tree, and the one pure function that turns a response into an error.

::

    LyraMaveraError
    ├── ConfigurationError         missing key, insecure base URL
    ├── ValidationError            bad input, raised before any request (also a ValueError)
    ├── APIConnectionError         could not reach the server
    │   └── APITimeoutError
    ├── APIStatusError             status, provider, code, message, param, request_id, ...
    │   ├── BadRequestError            400 / 422
    │   ├── AuthenticationError        401
    │   ├── PaymentRequiredError       402
    │   ├── PermissionDeniedError      403
    │   ├── NotFoundError              404
    │   ├── ConflictError              409
    │   ├── RateLimitError             429
    │   └── ServerError                5xx
    ├── ResponseValidationError    a response that does not fit the model (says which field)
    ├── BotFailedError             .meeting
    └── WaitTimeoutError           .meeting (last seen)

Every error pickles (they cross process boundaries in worker pools) and none ever
holds a request's headers, so an API key cannot leak through one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._retry import parse_retry_after

if TYPE_CHECKING:
    from .mavera._models import Meeting as MaveraMeeting

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BotFailedError",
    "ConfigurationError",
    "ConflictError",
    "LyraMaveraError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitInfo",
    "ResponseValidationError",
    "ServerError",
    "ValidationError",
    "WaitTimeoutError",
    "error_from_response",
]

#: How much of an error body an exception keeps (a proxy's HTML page can be huge).
BODY_KEEP = 2_000


def _restore(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    err = cls.__new__(cls, *args)
    err.args = args
    err.__dict__.update(state)
    return err


class LyraMaveraError(Exception):
    """Base class of every error this SDK raises."""

    def __reduce__(self) -> Any:
        # Keyword-only constructors break Exception's default pickling; rebuild
        # from args and attributes instead.
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class ConfigurationError(LyraMaveraError):
    """The session is set up wrongly: a missing API key, an insecure base URL."""


class ValidationError(LyraMaveraError, ValueError):
    """An argument is invalid; raised before any request is sent.

    ``param`` names the offending parameter (``"title"``, ``"requests[3].start"``).
    """

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"{param}: {problem}")
        self.param = param
        self.problem = problem


class APIConnectionError(LyraMaveraError):
    """The server could not be reached, or the connection broke mid-request.

    ``sent`` is False only when the request provably never reached the server
    (refused connection, DNS failure, connect timeout); otherwise the server may
    have processed it.
    """

    def __init__(self, message: str, *, provider: str, sent: bool) -> None:
        super().__init__(message)
        self.provider = provider
        self.sent = sent


class APITimeoutError(APIConnectionError):
    """An attempt took longer than the session's per-attempt ``timeout``."""


@attrs.frozen
class RateLimitInfo:
    """Mavera's ``X-RateLimit-*`` headers: the key's per-minute limit, what is left, and
    the Unix time the window resets. Any of them may be absent."""

    limit: int | None
    remaining: int | None
    reset: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        limit = _int_header(headers.get("X-RateLimit-Limit"))
        remaining = _int_header(headers.get("X-RateLimit-Remaining"))
        reset = _float_header(headers.get("X-RateLimit-Reset"))
        if limit is None and remaining is None and reset is None:
            return None
        return cls(limit=limit, remaining=remaining, reset=reset)


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _float_header(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


class APIStatusError(LyraMaveraError):
    """The server answered with a non-success status.

    Attributes: ``status``, ``provider`` (``"lyra"`` or ``"mavera"``), ``code`` (Mavera's
    ``error.code`` such as ``"rate_limit_exceeded"``; ``None`` for Lyra), ``message``,
    ``param``, ``request_id``, ``body`` (the raw body, truncated), ``retry_after``
    (seconds, from ``Retry-After``) and ``rate_limit`` (:class:`RateLimitInfo`).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        provider: str,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        body: str | None = None,
        retry_after: float | None = None,
        rate_limit: RateLimitInfo | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.provider = provider
        self.code = code
        self.param = param
        self.request_id = request_id
        self.body = body
        self.retry_after = retry_after
        self.rate_limit = rate_limit
        self.error_type = error_type

    def __str__(self) -> str:
        parts = [f"{self.provider} HTTP {self.status}"]
        if self.code:
            parts.append(f"({self.code})")
        text = " ".join(parts) + f": {self.message}"
        if self.param:
            text += f" [param: {self.param}]"
        if self.retry_after is not None:
            text += f" [retry after {self.retry_after:g}s]"
        if self.request_id:
            text += f" [request id: {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, provider={self.provider!r}, "
            f"code={self.code!r}, message={self.message!r})"
        )


class BadRequestError(APIStatusError):
    """400 or 422: the server refused the request's content."""


class AuthenticationError(APIStatusError):
    """401: the API key or token is missing, invalid, revoked or expired."""


class PaymentRequiredError(APIStatusError):
    """402: the subscription lapsed, or credits or a budget are exhausted."""


class PermissionDeniedError(APIStatusError):
    """403: the token is valid but may not do this (for Lyra OAuth: a missing scope)."""


class NotFoundError(APIStatusError):
    """404: no such meeting, workspace or route."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's state."""


class RateLimitError(APIStatusError):
    """429: the key's rate limit is exhausted; ``retry_after`` says for how long."""


class ServerError(APIStatusError):
    """5xx: the provider (or a proxy in front of it) failed."""


class ResponseValidationError(LyraMaveraError):
    """A response could not be read into its model.

    ``path`` lists the problems as ``$.field.path: reason`` lines.
    """

    def __init__(
        self, message: str, *, provider: str, path: tuple[str, ...] = (), status: int | None = None
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.path = path
        self.status = status


class BotFailedError(LyraMaveraError):
    """A Mavera bot ended in a failure status; ``meeting`` is the last state seen."""

    def __init__(self, message: str, *, meeting: MaveraMeeting) -> None:
        super().__init__(message)
        self.meeting = meeting


class WaitTimeoutError(LyraMaveraError, TimeoutError):
    """Waiting for a bot ran past its deadline; ``meeting`` is the last state seen
    (``None`` if no poll ever succeeded)."""

    def __init__(self, message: str, *, meeting: MaveraMeeting | None) -> None:
        super().__init__(message)
        self.meeting = meeting


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


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's request id, under either header name providers use."""
    return headers.get("X-Request-Id") or headers.get("Request-Id")


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
