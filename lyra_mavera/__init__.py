"""lyra_mavera: an async-first SDK for the Lyra meetings API and the Mavera
notetaker-bot API.

    import lyra_mavera as lm

    async with lm.AsyncSession() as s:
        meeting = await s.lyra.meetings.create("Customer kickoff")
        bot = await s.mavera.meetings.create(meeting_url)

The package, layer by layer (data flows one way, and ``tests/test_layout.py`` holds
every module to it):

- the core, ``lyra_mavera/_*.py``: HTTP facts without I/O (``_http``, ``_headers``),
  errors, retry policy, the clock, configuration, the converter, the rate limiter, the
  wire; it imports nothing else of the package;
- the providers, ``lyra/`` and ``mavera/``: models and endpoints, bulk, polling; they
  import the core only and need no concrete session (``_transport.Transport``);
- the session, ``_session`` and ``_view``: lifecycle, the middleware chain and the one
  send path, above the providers;
- ``testing/``, ``cli/`` and ``contrib/`` on top.

This module re-exports the public names. May import the core, the providers and the
session; never ``cli/``, ``testing/`` or ``contrib/``.
"""

from . import lyra, mavera
from ._bulk import AmbiguousCreateError, BulkFailed, BulkOk, BulkResult
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
    "BulkFailed",
    "BulkOk",
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
