"""A session's configuration: keys and base URLs (where they come from, how they are
checked, how they are hidden) and the frozen, validated :class:`SessionConfig`.

May import ``_errors``, ``_options``, ``_proxy`` and ``_retry`` only.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from ._errors import ConfigurationError
from ._options import CallOptions
from ._proxy import Proxy, parse_proxy, proxy_from_env

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ApiKey",
    "Provider",
    "SessionConfig",
    "mask",
    "resolve_base_url",
    "resolve_key",
]

#: Responses larger than this are refused rather than read into memory. A transcript
#: of a long meeting with word timestamps is a few MB; 32 MiB leaves ample room.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024

#: What ``app=`` name and version may be: an RFC 9110 token, so the User-Agent stays one
#: header value with the parts it promises.
_PRODUCT = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_KNOWN_PREFIXES = ("lyra_oauth_", "lyra_", "mvra_live_", "mvra_test_", "mvra_")
_BAD_KEY_CHARS = re.compile(r"[\x00-\x20\x7f]")


def mask(secret: str) -> str:
    """A key as it may be shown: its well-known prefix at most, never its secret part."""
    for prefix in _KNOWN_PREFIXES:
        if secret.startswith(prefix):
            return prefix + "***"
    return "***"


@attrs.frozen(repr=False)
class ApiKey:
    """A bearer credential whose ``repr``/``str`` never shows it."""

    value: str = attrs.field(eq=False)

    def __repr__(self) -> str:
        return f"ApiKey({mask(self.value)!r})"

    __str__ = __repr__

    def header(self) -> str:
        return "Bearer " + self.value


@attrs.frozen
class Provider:
    """Static facts about one provider."""

    name: str
    key_env: str
    url_env: str
    default_url: str


LYRA = Provider("lyra", "LYRA_API_KEY", "LYRA_BASE_URL", "https://app.lyra.so/api/v1")
MAVERA = Provider("mavera", "MAVERA_API_KEY", "MAVERA_BASE_URL", "https://app.mavera.io/api/v1")


def resolve_key(provider: Provider, given: str | None) -> ApiKey | None:
    """The key from the argument, else from the environment; ``None`` if neither."""
    param = f"{provider.name}_api_key"
    value = given if given is not None else os.environ.get(provider.key_env) or None
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{param} must be a string, got {type(value).__name__}")
    if not value:
        raise ConfigurationError(f"{param} is empty; pass the key or set {provider.key_env}")
    if _BAD_KEY_CHARS.search(value):
        # A pasted key with a newline would let the key break out of its header.
        raise ConfigurationError(
            f"{param} contains whitespace or control characters; copy the key again "
            f"(source: {'argument' if given is not None else provider.key_env})"
        )
    return ApiKey(value)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_base_url(provider: Provider, given: str | None) -> str:
    """The base URL from the argument, else the environment, else the default.

    ``https`` is required; plain ``http`` only for loopback hosts (local fakes).
    """
    param = f"{provider.name}_base_url"
    url = given if given is not None else os.environ.get(provider.url_env) or provider.default_url
    if not isinstance(url, str):
        raise ConfigurationError(f"{param} must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        raise ConfigurationError(f"{param} {url!r} is not a valid URL") from None
    if not host:
        raise ConfigurationError(f"{param} {url!r} has no host; e.g. {provider.default_url}")
    if parts.username or parts.password:
        raise ConfigurationError(f"{param} must not carry credentials; use {param[:-8]}api_key")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{param} must not have a query or fragment")
    scheme = parts.scheme.lower()
    if scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            f"{param} uses plain http to {host!r}; API keys may only travel over https "
            "(http is allowed for loopback hosts such as 127.0.0.1 only)"
        )
    if scheme not in ("http", "https"):
        raise ConfigurationError(f"{param} must be an https:// URL, got scheme {scheme!r}")
    return url.strip().rstrip("/")


def _positive_int(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{attribute.name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ConfigurationError(f"{attribute.name} must be >= 1, got {value}")


def _flag(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{attribute.name} must be True or False")


def _window(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigurationError(f"rate_limit_window must be seconds > 0 or None, got {value!r}")


def _pair(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _app(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not all(isinstance(part, str) and _PRODUCT.match(part) for part in value)
    ):
        raise ConfigurationError(
            'app must be a (name, version) pair of short words, e.g. ("scheduler", "2.1"), '
            "without spaces or slashes"
        )


def resolve_proxies(
    base_urls: Mapping[str, str], proxy: str | None, *, trust_env: bool
) -> dict[str, Proxy | None]:
    """Per provider, the proxy its requests go through: ``proxy`` for all, else (with
    ``trust_env``) what the environment names for its base URL."""
    if proxy is not None:
        explicit = parse_proxy(proxy)
        return dict.fromkeys(base_urls, explicit)
    if not isinstance(trust_env, bool):
        raise ConfigurationError("trust_env must be True or False")
    if not trust_env:
        return dict.fromkeys(base_urls)
    return {name: proxy_from_env(url) for name, url in base_urls.items()}


@attrs.frozen(repr=False)
class SessionConfig:
    """Everything an :class:`~lyra_mavera.AsyncSession` is set up with, checked once.
    Keys are :class:`ApiKey` (never shown); ``options`` are the defaults of every call."""

    keys: Mapping[str, ApiKey | None]
    base_urls: Mapping[str, str]
    options: CallOptions = attrs.field(factory=CallOptions)
    max_connections: int = attrs.field(default=100, validator=_positive_int)
    max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES, validator=_positive_int
    )
    rate_limit: bool = attrs.field(default=True, validator=_flag)
    rate_limit_window: float | None = attrs.field(default=None, validator=_window)
    verify_tls: bool = attrs.field(default=True, validator=_flag)
    #: Per provider, the proxy its requests go through (``None``: straight).
    proxies: Mapping[str, Proxy | None] = attrs.field(factory=dict)
    #: ``(name, version)`` of the application, for the User-Agent.
    app: tuple[str, str] | None = attrs.field(default=None, converter=_pair, validator=_app)

    @classmethod
    def resolve(
        cls,
        *,
        lyra_api_key: str | None,
        mavera_api_key: str | None,
        lyra_base_url: str | None,
        mavera_base_url: str | None,
        lyra_by_oauth: bool,
        proxy: str | None = None,
        trust_env: bool = True,
        **settings: Any,
    ) -> SessionConfig:
        """Arguments first, then the environment, then the defaults."""
        base_urls = {
            LYRA.name: resolve_base_url(LYRA, lyra_base_url),
            MAVERA.name: resolve_base_url(MAVERA, mavera_base_url),
        }
        return cls(
            keys={
                LYRA.name: None if lyra_by_oauth else resolve_key(LYRA, lyra_api_key),
                MAVERA.name: resolve_key(MAVERA, mavera_api_key),
            },
            base_urls=base_urls,
            proxies=resolve_proxies(base_urls, proxy, trust_env=trust_env),
            **settings,
        )

    def __repr__(self) -> str:
        keys = ", ".join(f"{name}={key!r}" for name, key in self.keys.items())
        return f"SessionConfig({keys}, base_urls={dict(self.base_urls)!r}, {self.options!r})"
