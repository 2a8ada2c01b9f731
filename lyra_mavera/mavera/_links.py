"""Local checks of the meeting links a Mavera bot can join.

The server is the final judge; this fails fast, with a clear message, on links it
would refuse or that would be dangerous to send a bot to (a Zoom *start* link grants
host rights). Hosts are compared exactly or as a suffix on a dot boundary, never as a
substring: ``zoom.us.evil.example`` is not Zoom.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from .._errors import ValidationError

__all__ = ["check_meeting_url", "clean_link", "platform_of"]

_ZOOM_SUFFIXES = ("zoom.us", "zoom.com", "zoomgov.com")
_TEAMS_HOSTS = frozenset(
    {"teams.microsoft.com", "teams.live.com", "gov.teams.microsoft.us", "dod.teams.microsoft.us"}
)
_EMBEDDED_URL = re.compile(r"(?i)(?:https?:|%3a%2f%2f|//[a-z0-9-]+\.[a-z])")
#: Zoom meeting numbers run 9 to 11 digits; a little wider, so no real link is refused.
_ZOOM_JOIN = re.compile(r"(?i)^/j/\d{8,13}/?$")
#: Generous, but a link is not a document.
MAX_LINK_LENGTH = 4_096


def _is_or_under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def platform_of(host: str) -> str | None:
    """``zoom``, ``google_meet``, ``microsoft_teams``, ``webex`` or ``None``."""
    host = host.lower().rstrip(".")
    if any(_is_or_under(host, d) for d in _ZOOM_SUFFIXES):
        return "zoom"
    if host == "meet.google.com":
        return "google_meet"
    if host in _TEAMS_HOSTS:
        return "microsoft_teams"
    if host.endswith(".webex.com"):
        return "webex"
    return None


def clean_link(raw: str) -> str:
    """Undo what mail clients do to links: ``<...>`` wrapping, trailing punctuation,
    percent-encoding applied up to three times."""
    link = raw.strip()
    if link.startswith("<"):
        # <https://...>, possibly followed by the sentence's punctuation.
        link = link.rstrip(".,;:!)'\"]")
        if link.endswith(">"):
            link = link[1:-1].strip()
    link = link.rstrip(".,;:!)'\"]>")
    for _ in range(3):
        if not re.match(r"(?i)^https?%(25)*3a", link):
            break
        link = unquote(link)
    return link


def check_meeting_url(param: str, value: object) -> tuple[str, str]:
    """Validate a meeting link; returns ``(link, platform)`` with the link cleaned."""
    if not isinstance(value, str):
        raise ValidationError(param, f"must be a string URL, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(param, "must not be empty")
    if len(value) > MAX_LINK_LENGTH:
        raise ValidationError(param, f"is longer than {MAX_LINK_LENGTH} characters")
    link = clean_link(value)
    if re.search(r"[\x00-\x20\x7f]", link):
        raise ValidationError(param, "must not contain spaces or control characters")
    try:
        parts = urlsplit(link)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        raise ValidationError(param, f"{value[:120]!r} is not a valid URL") from None
    if parts.scheme.lower() != "https":
        raise ValidationError(
            param, "must be an https:// link (Zoom, Google Meet, Microsoft Teams or Webex)"
        )
    if parts.username or parts.password:
        raise ValidationError(param, "must not contain user info (user:pass@host)")
    platform = platform_of(host)
    if platform is None:
        raise ValidationError(
            param,
            f"host {host!r} is not a Zoom, Google Meet, Microsoft Teams or Webex host; "
            "pass skip_link_check=True if you know Mavera accepts it",
        )
    path = unquote(parts.path)
    rest = path + "?" + unquote(parts.query)
    if platform != "microsoft_teams" and _EMBEDDED_URL.search(rest):
        # Teams links legitimately carry a path in their fragment/launcher query.
        raise ValidationError(param, "must not embed another URL (redirect wrappers)")
    if platform == "zoom" and re.match(r"(?i)^/s/", path):
        raise ValidationError(
            param,
            "is a Zoom start link (/s/...), which grants host rights; pass the join link "
            "(/j/...) instead",
        )
    if platform == "zoom" and re.match(r"(?i)^/j(/|$)", path) and not _ZOOM_JOIN.match(path):
        raise ValidationError(
            param,
            "is not a Zoom join link: /j/ must be followed by the meeting's number "
            "(e.g. https://zoom.us/j/85012345678)",
        )
    if platform == "google_meet":
        if re.match(r"(?i)^/(lookup/|new/?$)", path):
            raise ValidationError(
                param,
                "is a Google Meet lookup or /new link a bot cannot join; pass the "
                "meeting's own link (https://meet.google.com/abc-defg-hij)",
            )
        if path in ("", "/"):
            raise ValidationError(param, "has no Google Meet meeting code")
    if platform == "microsoft_teams" and re.search(r"(?i)https?://(?!teams\.)", rest):
        raise ValidationError(param, "must not embed a link to another site")
    return link, platform
