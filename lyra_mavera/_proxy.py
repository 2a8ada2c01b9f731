"""Proxies: an explicit ``proxy=`` URL, or the environment's ``HTTPS_PROXY`` /
``HTTP_PROXY`` / ``NO_PROXY`` (as curl, requests and httpx read them), resolved once per
session and base URL, so no request looks anything up.

A proxy's credentials are kept apart from its URL and never shown: ``repr`` and every
message write them as ``***``.

May import the core's ``_errors`` only.
"""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

from ._errors import ConfigurationError

__all__ = ["Proxy", "parse_proxy", "proxy_from_env"]


@attrs.frozen(repr=False)
class Proxy:
    """A forward proxy: ``url`` without credentials, and the credentials apart."""

    url: str
    username: str | None = attrs.field(default=None, eq=False)
    password: str | None = attrs.field(default=None, eq=False)

    @property
    def shown(self) -> str:
        """The URL as it may be shown: credentials, if any, as ``***``."""
        if self.username is None:
            return self.url
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://***@{rest}"

    def __repr__(self) -> str:
        return f"Proxy({self.shown!r})"

    __str__ = __repr__


def parse_proxy(value: object, *, source: str = "proxy") -> Proxy:
    """An ``http://`` or ``https://`` proxy URL (``user:password@`` allowed), checked;
    ``source`` names the argument or variable in errors, which never repeat the URL."""
    if not isinstance(value, str):
        raise ConfigurationError(f"{source} must be a URL string, got {type(value).__name__}")
    text = value.strip()
    if "://" not in text:
        text = "http://" + text  # "proxy.corp:3128", as curl and requests read it
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConfigurationError(f"{source} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigurationError(
            f"{source} must be an http:// or https:// proxy URL, got scheme {scheme!r}"
        )
    if not host:
        raise ConfigurationError(f"{source} has no host; e.g. http://proxy.example:3128")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(f"{source} must be scheme://host:port, without a path or query")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username is None:
        return Proxy(f"{scheme}://{netloc}")
    return Proxy(
        f"{scheme}://{netloc}",
        username=unquote(parts.username),
        password=unquote(parts.password or ""),
    )


def proxy_from_env(base_url: str) -> Proxy | None:
    """The proxy the environment names for ``base_url``: ``HTTPS_PROXY`` for https,
    ``HTTP_PROXY`` for http (either case), unless ``NO_PROXY`` covers its host."""
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    # urllib's reading: both cases, and HTTP_PROXY ignored under CGI (httpoxy).
    proxies = urllib.request.getproxies_environment()
    value = proxies.get(scheme)
    if not value:
        return None
    host = parts.hostname or ""
    where = host if parts.port is None else f"{host}:{parts.port}"
    no_proxy = proxies.get("no", "")
    if no_proxy and _bypassed(where, no_proxy):
        return None
    return parse_proxy(value, source=f"the {scheme.upper()}_PROXY environment variable")


def _bypassed(host: str, no_proxy: str) -> bool:
    # urllib's own NO_PROXY matching (suffixes, "*", host:port), given the value read.
    bypass: Any = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # not in typeshed
    return bool(bypass(host, {"no": no_proxy}))
