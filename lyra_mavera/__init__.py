"""lyra_mavera: an async-first SDK for the Lyra meetings API and the Mavera
notetaker-bot API.

    import lyra_mavera as lm

    async with lm.AsyncSession() as s:
        meeting = await s.lyra.meetings.create("Customer kickoff")
        bot = await s.mavera.meetings.create(meeting_url)
"""

from . import lyra, mavera
from ._bulk import AmbiguousCreateError, BulkResult
from ._data import from_dict, to_dict, to_json
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    LyraMaveraError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    ValidationError,
)
from ._headers import RateLimitInfo
from ._http import Handler, Middleware, Request, Response
from ._logenv import configure_from_env as _configure_from_env
from ._ratelimit import RateLimiter
from ._responses import ResponseInfo, response_of
from ._retry import RetryPolicy
from ._session import AsyncSession, SessionStats
from ._version import __version__
from .lyra._tokens import OAuthError, ReauthorizationRequired
from .mavera._errors import BotFailedError, WaitTimeoutError
from .mavera._poll import PollPolicy

_configure_from_env()  # LYRA_MAVERA_LOG=debug|info: logging without code

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousCreateError",
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
    "OAuthError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PollPolicy",
    "RateLimitError",
    "RateLimitInfo",
    "RateLimiter",
    "ReauthorizationRequired",
    "Request",
    "Response",
    "ResponseInfo",
    "ResponseValidationError",
    "RetryPolicy",
    "ServerError",
    "SessionStats",
    "ValidationError",
    "WaitTimeoutError",
    "__version__",
    "from_dict",
    "lyra",
    "mavera",
    "response_of",
    "to_dict",
    "to_json",
]
