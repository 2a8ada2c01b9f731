"""Lyra: create video meetings (``POST /meeting``), verify keys (``POST /auth``), and
sign users in with OAuth2 (:class:`OAuthClient`, :class:`OAuth`)."""

from ._client import Auth, Lyra, Meetings
from ._models import Identity, Meeting, MeetingRequest
from ._oauth import (
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_TOKEN_URL,
    SCOPES,
    AuthorizationRequest,
    OAuth,
    OAuthClient,
    OAuthError,
    OAuthToken,
    ReauthorizationRequired,
)

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_TOKEN_URL",
    "SCOPES",
    "Auth",
    "AuthorizationRequest",
    "Identity",
    "Lyra",
    "Meeting",
    "MeetingRequest",
    "Meetings",
    "OAuth",
    "OAuthClient",
    "OAuthError",
    "OAuthToken",
    "ReauthorizationRequired",
]
