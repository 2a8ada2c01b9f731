"""What came with a result: :class:`ResponseInfo` and :func:`response_of`.

Models are frozen attrs classes, so nothing can be added to them. Instead, the SDK
remembers, for each model object a call returned, the :class:`ResponseInfo` of the
response it was read from, in a table keyed by the object's *identity* (never by
equality: two calls that return equal meetings keep their own responses) that holds
the object only weakly: an entry leaves the table when its model is garbage-collected.

The table keeps a small info object per live model, never the response body or the
request (whose headers carry the API key).

May import the core's ``_convert``, ``_headers`` and ``_http`` only.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from ._convert import structure
from ._headers import RateLimitInfo
from ._http import Response

__all__ = ["ResponseInfo", "read_model", "remember", "response_of"]

T = TypeVar("T")


@attrs.frozen(repr=False)
class ResponseInfo:
    """The answer a result was read from: ``status`` and the response ``headers``, the
    server's ``request_id`` (``None`` if it sent none), the SDK's own
    ``client_request_id`` for the call (the ``Idempotency-Key`` of a POST), how many
    ``attempts`` the call took, and ``elapsed``: seconds the successful attempt took,
    from sending to the body read. Never holds the request's headers."""

    provider: str
    method: str
    url: str
    status: int
    headers: Mapping[str, str] = attrs.field(eq=False)
    request_id: str | None
    client_request_id: str
    attempts: int
    elapsed: float

    @classmethod
    def of(cls, response: Response) -> ResponseInfo:
        """The info of a finished exchange."""
        request = response.request
        return cls(
            provider=request.provider,
            method=request.method,
            url=request.url,
            status=response.status,
            headers=response.headers,
            request_id=response.request_id,
            client_request_id=request.request_id,
            attempts=request.attempt,
            elapsed=response.elapsed,
        )

    @property
    def retries(self) -> int:
        """Attempts beyond the first."""
        return max(self.attempts - 1, 0)

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """The provider's ``X-RateLimit-*`` headers on this response, if any."""
        return RateLimitInfo.from_headers(self.headers)

    def __repr__(self) -> str:
        # Headers are left out: they are noisy, and reprs end up in logs.
        return (
            f"ResponseInfo({self.status} {self.provider} {self.method} {self.url} "
            f"request_id={self.request_id!r} attempts={self.attempts} "
            f"elapsed={self.elapsed:.3f}s)"
        )


class _Entry(weakref.ref[Any]):
    """A weak reference to a model that carries its table key and its info."""

    __slots__ = ("info", "key")
    key: int
    info: ResponseInfo

    def __new__(cls, obj: Any, key: int, info: ResponseInfo) -> _Entry:
        self = super().__new__(cls, obj, _forget)
        self.key = key
        self.info = info
        return self

    def __init__(self, obj: Any, key: int, info: ResponseInfo) -> None:
        # ref.__init__ must see (obj, callback) only; typeshed does not declare it.
        super().__init__(obj, _forget)  # type: ignore[call-arg]


#: ``id(model)`` -> its entry. Keyed by identity; entries go when their model does.
_TABLE: dict[int, _Entry] = {}


def _forget(entry: _Entry) -> None:
    # Only this entry: a new object may already have taken the id of the dead one.
    if _TABLE.get(entry.key) is entry:
        del _TABLE[entry.key]


def remember(model: object, info: ResponseInfo) -> None:
    """Record that ``model`` was read from the response ``info`` describes (objects
    that cannot be weakly referenced, such as plain lists, are skipped)."""
    if type(model).__weakrefoffset__:
        key = id(model)
        _TABLE[key] = _Entry(model, key, info)


def response_of(model: object) -> ResponseInfo | None:
    """The :class:`ResponseInfo` of the response ``model`` was read from.

    ``meeting = await s.mavera.meetings.get(bot_id); lm.response_of(meeting).request_id``.
    Works for every model a call returned (through a session or a ``with_options`` view),
    for the items of ``list()`` (their page's response), for what ``wait``,
    ``wait_many`` and ``create_many`` return, and for a :class:`Response` from
    ``s.request()``. ``None`` for an object the SDK did not read from a response (one
    built by hand or by :func:`from_dict`).
    """
    if isinstance(model, Response):
        return ResponseInfo.of(model)
    entry = _TABLE.get(id(model))
    if entry is None or entry() is not model:
        return None
    return entry.info


def read_model(response: Response, model: type[T]) -> T:
    """The response's JSON body read into ``model``, remembered with its info."""
    value = structure(response.json(), model, provider=response.request.provider)
    remember(value, ResponseInfo.of(response))
    return value
