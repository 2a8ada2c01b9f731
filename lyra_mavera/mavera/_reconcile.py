"""Finding the bot an ambiguous create may have made -- and never one it did not make.

Mavera has no idempotency keys: a create that timed out after sending, lost its
connection or met a 5xx may or may not have made a bot. The only way to know is to
look among the key's meetings for one with the same link and ``join_at``. Looking is
only safe with three rules:

- **Nothing that existed before is ever adopted.** Before the first item of a run is
  sent, a *baseline* scan records the matching meetings that already exist, and the
  newest ``created_at`` on the server's clock; later candidates must be absent from
  the baseline and created no earlier than :data:`RECONCILE_SKEW` before that newest
  meeting (older ones were all read by the baseline).
- **No guess between two.** One new match is adopted; two or more (someone else sent a
  bot to the same link meanwhile) end the item in :class:`AmbiguousCreateError`.
- **No assumption about order or spelling.** Scans read by ``created_at``, not by
  position (an early stop needs pages that really are newest first), and links are
  compared normalised (host case, default port, query order, trailing slash).

When a scan cannot be complete (too many meetings) or the baseline could not be read,
"not found" cannot be told from "not read": the item ends ambiguous, never re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from .._convert import parse_datetime
from ._links import clean_link
from ._models import Meeting
from ._pages import Lister

__all__ = [
    "RECONCILE_SCAN",
    "RECONCILE_SKEW",
    "Identity",
    "RecentMeetings",
    "identity",
    "normalize_link",
]

#: How many meetings one scan reads at most.
RECONCILE_SCAN = 2_000
#: Seconds before the newest pre-existing meeting that the baseline covers.
RECONCILE_SKEW = 120.0

Identity = tuple[str, int | None]
_DEFAULT_PORTS = {"https": 443, "http": 80}


def normalize_link(raw: str) -> str:
    """A meeting link in one spelling: cleaned of mail-client wrapping, scheme and host
    in lower case, default port and trailing slash dropped, query parameters sorted."""
    link = clean_link(raw)
    try:
        parts = urlsplit(link)
        port = parts.port
    except ValueError:
        return link.rstrip("/")
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), query, parts.fragment))


def identity(meeting_url: object, join_at: object) -> Identity:
    """What identifies a bot for reconciliation: its normalised link and join second."""
    link = normalize_link(meeting_url) if isinstance(meeting_url, str) else repr(meeting_url)
    if isinstance(join_at, str):
        try:
            join_at = parse_datetime(join_at)
        except ValueError:
            join_at = None
    seconds = int(join_at.timestamp()) if isinstance(join_at, datetime) else None
    return link, seconds


def _created(meeting: Meeting) -> float | None:
    return meeting.created_at.timestamp() if meeting.created_at is not None else None


@attrs.define
class Scan:
    """What one scan read: the matching meetings, whether it read all it had to, and
    the newest ``created_at`` it met."""

    matches: dict[Identity, list[Meeting]] = attrs.Factory(dict)
    complete: bool = False
    newest: float | None = None


async def scan(
    listing: Lister[Meeting],
    wanted: set[Identity],
    *,
    floor: float | None = None,
    window: float | None = None,
) -> Scan:
    """Read the key's meetings, keeping those whose identity is ``wanted``. Stops at the
    end, at :data:`RECONCILE_SCAN`, or once the pages have been newest first all along
    and a whole page is older than ``floor`` (or, without one, ``window`` seconds older
    than the newest meeting seen): the rest is older still."""
    out = Scan()
    seen, descending, page_old = 0, True, True
    previous: float | None = None
    async with contextlib.aclosing(listing(page_size=100)) as meetings:
        async for meeting in meetings:
            seen += 1
            created = _created(meeting)
            if created is not None:
                out.newest = created if out.newest is None else max(out.newest, created)
                descending = descending and (previous is None or created <= previous)
                previous = created
            bound = floor
            if bound is None and window is not None and out.newest is not None:
                bound = out.newest - window
            page_old = page_old and created is not None and bound is not None and created < bound
            key = identity(meeting.meeting_url, meeting.join_at)
            if key in wanted:
                out.matches.setdefault(key, []).append(meeting)
            if seen % 100 == 0:
                if descending and page_old:
                    out.complete = True
                    return out
                page_old = True
            if seen >= RECONCILE_SCAN:
                return out
    out.complete = True
    return out


class RecentMeetings:
    """The look-ups of one bulk run: one baseline before anything is sent, then scans
    on demand, one at a time and shared (a scan begun after an item failed answers for
    it, so a burst of failures costs one scan)."""

    def __init__(self, listing: Lister[Meeting], wanted: set[Identity]) -> None:
        self._listing = listing
        self._wanted = wanted
        self._lock = asyncio.Lock()
        self._baseline: set[str] | None = None
        self._floor: float | None = None
        self._latest = Scan()
        # Events are ordered by a counter, not a clock (a virtual clock can stand still):
        # a scan answers for a failure only if it began after it.
        self._events = itertools.count()
        self._scanned_from = -1
        self.claimed: set[str] = set()
        self.scans = 0

    async def take_baseline(self) -> None:
        """Record what already exists. A failure leaves the baseline unknown: every
        later match is then ambiguous."""
        with contextlib.suppress(Exception):
            await self.read_baseline()

    async def read_baseline(self) -> None:
        """:meth:`take_baseline` for a caller that retries a failed read itself: its
        error is raised. An incomplete scan still leaves the baseline unknown."""
        before = await scan(self._listing, self._wanted, window=RECONCILE_SKEW)
        self.scans += 1
        if not before.complete:
            return
        self._baseline = {m.id for found in before.matches.values() for m in found}
        if before.newest is not None:
            self._floor = before.newest - RECONCILE_SKEW

    def baseline(self) -> dict[str, Any]:
        """What :meth:`take_baseline` recorded, as plain data (for a create that resumes
        in another process: :meth:`from_baseline`)."""
        ids = None if self._baseline is None else sorted(self._baseline)
        return {"ids": ids, "floor": self._floor}

    @classmethod
    def from_baseline(
        cls, listing: Lister[Meeting], wanted: set[Identity], data: dict[str, Any]
    ) -> RecentMeetings:
        """Look-ups that go on from a baseline taken earlier (:meth:`baseline`)."""
        recent = cls(listing, wanted)
        ids = data.get("ids")
        recent._baseline = None if ids is None else set(ids)
        recent._floor = data.get("floor")
        return recent

    def mark(self) -> int:
        """A ticket for "now": pass it to :meth:`find` to require a scan begun later."""
        return next(self._events)

    async def find(self, body: dict[str, Any], failed_at: int) -> Meeting | Literal[False] | None:
        """The one new meeting matching ``body`` (claimed), ``None`` when there is surely
        none, or ``False`` when it cannot be told (then nothing may be re-sent)."""
        async with self._lock:
            if self._scanned_from < failed_at:
                self._scanned_from = self.mark()
                self._latest = await scan(self._listing, self._wanted, floor=self._floor)
                self.scans += 1
            found = [m for m in self._candidates(body) if m.id not in self.claimed]
            if self._baseline is None:
                return False if found or not self._latest.complete else None
            if len(found) > 1 or (not found and not self._latest.complete):
                return False
            if not found:
                return None
            self.claimed.add(found[0].id)
            return found[0]

    def _candidates(self, body: dict[str, Any]) -> list[Meeting]:
        key = identity(body["meeting_url"], body.get("join_at"))
        out = []
        for meeting in self._latest.matches.get(key, ()):
            if self._baseline is not None and meeting.id in self._baseline:
                continue
            created = _created(meeting)
            if self._floor is not None and (created is None or created < self._floor):
                continue
            if "title" in body and meeting.title != body["title"]:
                continue
            if "workspace_id" in body and meeting.workspace_id != body["workspace_id"]:
                continue
            out.append(meeting)
        return out
