"""Per provider: who signs its requests (an API key or OAuth) and which limiter paces
them. Both are middlewares the session's chain routes to by ``request.provider``.

May import ``_config``, ``_errors``, ``_http``, ``_middleware`` and ``_ratelimit``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Mapping

from ._config import LYRA, MAVERA, ApiKey
from ._errors import ConfigurationError
from ._http import Handler, Middleware, Request, Response
from ._middleware import BearerAuth
from ._ratelimit import RateLimiter

__all__ = ["KeyRing"]


class KeyRing:
    """The auth and the limiter of each provider."""

    __slots__ = ("_auth", "_keys", "_limiters")

    def __init__(
        self,
        keys: Mapping[str, ApiKey | None],
        *,
        oauth: Middleware | None,
        rate_limit: bool,
        window: float | None,
    ) -> None:
        self._keys = keys
        self._auth: dict[str, Middleware | None] = {
            name: BearerAuth(key) if key is not None else None for name, key in keys.items()
        }
        if oauth is not None:
            self._auth[LYRA.name] = oauth
        self._limiters: dict[str, Middleware] = {
            name: RateLimiter(window=window) for name in keys if rate_limit
        }

    def has_auth(self, provider: str) -> bool:
        return self._auth[provider] is not None

    def set_auth(self, provider: str, auth: Middleware) -> None:
        if provider not in self._auth:
            raise ConfigurationError(f"unknown provider {provider!r}")
        self._auth[provider] = auth

    def limiter(self, provider: str) -> Middleware | None:
        return self._limiters.get(provider)

    def set_limiter(self, provider: str, limiter: Middleware | None) -> None:
        if provider not in self._keys:
            raise ConfigurationError(f"unknown provider {provider!r}")
        if limiter is None:
            self._limiters.pop(provider, None)
        else:
            self._limiters[provider] = limiter

    def fingerprint(self, provider: str) -> str | None:
        key = self._keys.get(provider)
        if key is None:
            return None
        return hashlib.sha256(key.value.encode()).hexdigest()[:16]

    def sign(self, request: Request, call_next: Handler) -> Awaitable[Response]:
        """The auth middleware: the provider's key or OAuth, or a clear error."""
        auth = self._auth[request.provider]
        if auth is None:
            spec = LYRA if request.provider == LYRA.name else MAVERA
            raise ConfigurationError(
                f"no {spec.name.capitalize()} API key: pass {spec.name}_api_key=... to "
                f"AsyncSession or set the {spec.key_env} environment variable"
            )
        return auth(request, call_next)

    def pace(self, request: Request, call_next: Handler) -> Awaitable[Response]:
        """The rate-limit middleware: the provider's limiter, if any."""
        limiter = self._limiters.get(request.provider)
        if limiter is None:
            return call_next(request)
        return limiter(request, call_next)
