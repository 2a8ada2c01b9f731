"""The exception tree (the classes only; :mod:`lyra_mavera._http` decides which one a
response or a transport failure becomes).

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
    ├── BotFailedError             .meeting       (defined in lyra_mavera.mavera)
    └── WaitTimeoutError           .meeting (last seen)

Every error pickles (they cross process boundaries in worker pools) and none ever
holds a request's headers, so an API key cannot leak through one.

May import only :mod:`lyra_mavera._headers` from the package.
"""

from __future__ import annotations

from typing import Any

from ._headers import RateLimitInfo

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "LyraMaveraError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "ValidationError",
]


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

    ``param`` names the offending parameter (``"title"``, ``"requests[3].start"``), or
    for :func:`~lyra_mavera.from_dict` the first field path that failed; ``path`` then
    lists every failure as ``$.field.path: reason`` lines.
    """

    def __init__(self, param: str, problem: str, *, path: tuple[str, ...] = ()) -> None:
        super().__init__(f"{param}: {problem}")
        self.param = param
        self.problem = problem
        self.path = path


class APIConnectionError(LyraMaveraError):
    """The server could not be reached, or the connection broke mid-request.

    ``sent`` is False only when the request provably never reached the server
    (refused connection, DNS failure, timed out waiting for a connection or connecting,
    a TLS failure); otherwise the server may have processed it. ``retryable`` is False
    for failures another attempt cannot mend (a certificate that fails verification).
    """

    def __init__(self, message: str, *, provider: str, sent: bool, retryable: bool = True) -> None:
        super().__init__(message)
        self.provider = provider
        self.sent = sent
        self.retryable = retryable


class APITimeoutError(APIConnectionError):
    """An attempt took longer than the session's per-attempt ``timeout``."""


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
