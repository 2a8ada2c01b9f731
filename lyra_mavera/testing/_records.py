"""What the fake server keeps about keys and requests."""

from __future__ import annotations

from typing import Any

import attrs

from ._faults import KeyLimiter

__all__ = ["KeyInfo", "RecordedRequest"]


@attrs.define
class KeyInfo:
    """A key the fake accepts, with its own rate limit (``None``: unlimited)."""

    provider: str
    limiter: KeyLimiter | None
    user_id: str
    org_id: str
    revoked: bool = False
    #: OAuth tokens only: granted scopes (API keys have every right) and expiry (fake clock).
    scopes: frozenset[str] | None = None
    expires_at: float | None = None


@attrs.define(repr=False)
class RecordedRequest:
    """One request as the fake received it. The key is only in ``headers``."""

    provider: str
    method: str
    path: str
    route: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    time: float
    status: int | None = None
    fault: str | None = None

    @property
    def key(self) -> str | None:
        """The bearer key or token the request carried, if any."""
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for an empty body)."""
        import json

        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        return f"RecordedRequest({self.method} {self.provider}:{self.path} -> {self.status})"
