"""lyra_mavera: an async-first SDK for the Lyra meetings API and the Mavera
notetaker-bot API.

    import lyra_mavera as lm

    async with lm.AsyncSession() as s:
        meeting = await s.lyra.meetings.create("Customer kickoff")
        bot = await s.mavera.meetings.create(meeting_url)
"""

from . import lyra, mavera
from ._bulk import BulkResult
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BotFailedError,
    ConfigurationError,
    ConflictError,
    LyraMaveraError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RateLimitInfo,
    ResponseValidationError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)
from ._middleware import Handler, Middleware, Request, Response
from ._retry import RetryPolicy
from ._session import AsyncSession
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncSession",
    "AuthenticationError",
    "BadRequestError",
    "BotFailedError",
    "BulkResult",
    "ConfigurationError",
    "ConflictError",
    "Handler",
    "LyraMaveraError",
    "Middleware",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitInfo",
    "Request",
    "Response",
    "ResponseValidationError",
    "RetryPolicy",
    "ServerError",
    "ValidationError",
    "WaitTimeoutError",
    "__version__",
    "lyra",
    "mavera",
]
