"""Lyra: create video meetings (``POST /meeting``), verify keys (``POST /auth``), and
sign users in with OAuth2 (:class:`OAuthClient`, :class:`OAuth`).

May import the core (``lyra_mavera._*`` modules other than ``_session``); never
``mavera/``, ``cli/``, ``testing/``, ``contrib/`` or the session.
"""

from ._client import Auth, Lyra, Meetings
from ._models import Identity, Meeting, MeetingRequest
from ._oauth import OAuth
from ._oauth_client import (
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_TOKEN_URL,
    SCOPES,
    AuthorizationRequest,
    OAuthClient,
)
from ._tokens import OAuthError, OAuthToken, ReauthorizationRequired

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
