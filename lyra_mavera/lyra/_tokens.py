"""Lyra OAuth tokens: the token type, how an answer of the token endpoint is read
(every field checked, a bad answer named as such), and the OAuth errors."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._config import mask
from .._errors import (
    LyraMaveraError,
    ResponseValidationError,
    ValidationError,
)

__all__ = ["OAuthError", "OAuthToken", "ReauthorizationRequired"]


class OAuthError(LyraMaveraError):
    """The OAuth flow failed: ``error`` is the OAuth code (``invalid_grant``,
    ``access_denied``, ``state_mismatch``...), ``description`` the server's words."""

    def __init__(
        self, message: str, *, error: str, description: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.error = error
        self.description = description
        self.status = status


class ReauthorizationRequired(OAuthError):
    """The refresh token is no longer valid (``invalid_grant``): the user must sign in
    again through :meth:`OAuthClient.authorization_url`."""


def _masked(value: str | None) -> str:
    return "None" if value is None else repr(mask(value))


#: What may follow "Bearer " in a header: visible ASCII, no spaces.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int too large for a float
        return False


def _token_problems(data: Mapping[str, Any], *, lifetime: str) -> list[tuple[str, str]]:
    """What does not fit a token in ``data``, as ``(field, problem)`` pairs, never showing
    a value. ``lifetime`` is ``"expires_in"`` (seconds from now, in a token endpoint's
    answer) or ``"expires_at"`` (Unix time, in stored data)."""
    problems = []
    access = data.get("access_token")
    if access is None:
        problems.append(("access_token", "required"))
    elif not isinstance(access, str):
        problems.append(("access_token", f"expected a string, got {_json_type(access)}"))
    elif not _TOKEN_CHARS.fullmatch(access):
        problems.append(("access_token", "expected a non-empty string of visible ASCII characters"))
    for name in ("refresh_token", "token_type"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            problems.append((name, f"expected a string, got {_json_type(value)}"))
    scope = data.get("scope")
    if isinstance(scope, list | tuple):
        if not all(isinstance(s, str) and s and s.split() == [s] for s in scope):
            problems.append(("scope", "expected a string, or an array of one-word strings"))
    elif scope is not None and not isinstance(scope, str):
        problems.append(("scope", f"expected a string, got {_json_type(scope)}"))
    when = data.get(lifetime)
    if when is not None:
        if isinstance(when, bool) or not isinstance(when, int | float):
            problems.append((lifetime, f"expected a number of seconds, got {_json_type(when)}"))
        elif not _finite(when) or (lifetime == "expires_in" and when < 0):
            problems.append((lifetime, "expected a finite, non-negative number of seconds"))
    return problems


def _unfit(lines: Iterable[str], status: int | None) -> ResponseValidationError:
    path = tuple(lines)
    return ResponseValidationError(
        "lyra token endpoint answered with a token that does not fit: " + "; ".join(path),
        provider="lyra",
        path=path,
        status=status,
    )


@attrs.frozen(repr=False)
class OAuthToken:
    """An access token and what goes with it. ``expires_at`` is Unix time (computed from
    ``expires_in`` when the token was received). ``to_dict``/``from_dict`` store it."""

    access_token: str
    refresh_token: str | None = None
    token_type: str = "Bearer"
    scope: tuple[str, ...] = ()
    expires_at: float | None = None

    def expires_within(self, seconds: float, now: float) -> bool:
        """Whether the access token expires ``seconds`` or less after ``now`` (Unix
        time); never for a token without an expiry."""
        return self.expires_at is not None and self.expires_at - seconds <= now

    def to_dict(self) -> dict[str, Any]:
        """The token as a JSON-ready dict, for storage; :meth:`from_dict` reads it back."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "scope": " ".join(self.scope),
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OAuthToken:
        """Rebuild a stored token (the output of :meth:`to_dict`). Data that does not
        fit raises :class:`ValidationError` naming the field (``token.scope``)."""
        if not isinstance(data, Mapping):
            raise ValidationError("token", "must be a mapping (the output of to_dict())")
        for field, problem in _token_problems(data, lifetime="expires_at"):
            raise ValidationError(f"token.{field}", problem)
        expires_at = data.get("expires_at")
        return cls._build(data, float(expires_at) if expires_at is not None else None)

    @classmethod
    def from_response(
        cls, data: Any, *, received_at: float, status: int | None = 200
    ) -> OAuthToken:
        """Read a token endpoint's JSON answer. One that does not fit (not an object,
        a field of the wrong type, an empty ``access_token``, a negative or non-finite
        ``expires_in``) raises :class:`ResponseValidationError`, whose ``path`` names
        the fields (``$.scope: expected a string, got a number``)."""
        if not isinstance(data, dict):
            raise _unfit([f"$: expected a JSON object, got {_json_type(data)}"], status)
        problems = _token_problems(data, lifetime="expires_in")
        if problems:
            raise _unfit((f"$.{field}: {problem}" for field, problem in problems), status)
        expires_in = data.get("expires_in")
        expires_at = received_at + float(expires_in) if expires_in is not None else None
        return cls._build(data, expires_at)

    @classmethod
    def _build(cls, data: Mapping[str, Any], expires_at: float | None) -> OAuthToken:
        # Only for data that passed _token_problems.
        scope = data.get("scope") or ""
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token") or None,
            token_type=data.get("token_type") or "Bearer",
            scope=tuple(scope.split()) if isinstance(scope, str) else tuple(scope),
            expires_at=expires_at,
        )

    def __repr__(self) -> str:
        expiry = f"{self.expires_at:.0f}" if self.expires_at is not None else "None"
        return (
            f"OAuthToken(access_token={_masked(self.access_token)}, "
            f"refresh_token={_masked(self.refresh_token)}, scope={' '.join(self.scope)!r}, "
            f"expires_at={expiry})"
        )


def _read_token_answer(status: int, raw: bytes, *, received_at: float) -> OAuthToken:
    """The token in a token endpoint's answer, or the error the answer is.

    An ``error`` member (even in a 200, as Lyra's production client reads it) or any
    status but 200 is an :class:`OAuthError` carrying the OAuth code (``http_<status>``
    when the body names none); ``invalid_grant`` is :class:`ReauthorizationRequired`.
    A 200 without an error whose body is not a token is :class:`ResponseValidationError`.
    """
    data: Any = None
    not_json = None
    if not raw.strip():
        not_json = "an empty body"
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            not_json = "a body that is not JSON"
    error = data.get("error") if isinstance(data, dict) else None
    if status != 200 or error:
        code = error if isinstance(error, str) else f"http_{status}"
        description = data.get("error_description") if isinstance(data, dict) else None
        cls = ReauthorizationRequired if code == "invalid_grant" else OAuthError
        advice = ": the user must sign in again" if cls is ReauthorizationRequired else ""
        said = f"HTTP {status}" if code == f"http_{status}" else f"{code[:100]}, HTTP {status}"
        raise cls(
            f"lyra token endpoint refused ({said}){advice}",
            error=code,
            description=description if isinstance(description, str) else None,
            status=status,
        )
    if not_json is not None:
        raise _unfit([f"$: expected a JSON object, got {not_json}"], status)
    return OAuthToken.from_response(data, received_at=received_at, status=status)
