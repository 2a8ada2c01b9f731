"""What came with a result: :class:`ResponseInfo` and :func:`response_of`.

Models are frozen attrs classes, so nothing can be added to them. Instead, the SDK
remembers, for each model object a call returned, the :class:`ResponseInfo` of the
response it was read from, in a table keyed by the object's *identity* (never by
equality: two calls that return equal meetings keep their own responses) that holds
the object only weakly: an entry leaves the table when its model is garbage-collected.

The table keeps a few facts per live model (a tuple: status, the response headers,
ids, attempts, timing), never the response body or the request (whose headers carry
the API key); the :class:`ResponseInfo` is built from them when first asked for. A call
pays for one weak reference and one tuple.

May import the core's ``_convert``, ``_headers`` and ``_http`` only.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from ._convert import structure
from ._headers import RateLimitInfo, request_id_of
from ._http import Response

__all__ = ["ResponseInfo", "read_model", "remember_like", "response_of"]

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


#: ``id(model)`` -> ``(weak reference to it, what its info is made of)``: the info's
#: fields as a plain tuple (building the info itself waits until someone asks), or the
#: info once built. Keyed by identity; an entry goes when its model does.
_TABLE: dict[int, tuple[weakref.ref[Any], Any]] = {}


def _forget(key: int, ref: weakref.ref[Any]) -> None:
    # Only this entry: a new object may already have taken the id of the dead one.
    entry = _TABLE.get(key)
    if entry is not None and entry[0] is ref:
        del _TABLE[key]


def _remember(model: object, facts: Any) -> None:
    if type(model).__weakrefoffset__:  # plain lists and strings cannot be referred to weakly
        key = id(model)
        _TABLE[key] = (weakref.ref(model, functools.partial(_forget, key)), facts)


def remember_like(model: object, source: object) -> None:
    """Give ``model`` the response ``source`` was read from (a page's items)."""
    entry = _TABLE.get(id(source))
    if entry is not None and entry[0]() is source:
        _remember(model, entry[1])


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
    key = id(model)
    entry = _TABLE.get(key)
    if entry is None or entry[0]() is not model:
        return None
    ref, facts = entry
    if isinstance(facts, ResponseInfo):
        return facts
    provider, method, url, status, headers, client_request_id, attempts, elapsed = facts
    info = ResponseInfo(
        provider=provider,
        method=method,
        url=url,
        status=status,
        headers=headers,
        request_id=request_id_of(headers),
        client_request_id=client_request_id,
        attempts=attempts,
        elapsed=elapsed,
    )
    _TABLE[key] = (ref, info)  # the same info on every later call
    return info


def read_model(response: Response, model: type[T]) -> T:
    """The response's JSON body read into ``model``, remembered with its response.
    (Per call: one weak reference and a tuple; the info is built when asked for.)"""
    request = response.request
    value = structure(response.json(), model, provider=request.provider)
    if type(value).__weakrefoffset__:  # written out: this runs on every call
        key = id(value)
        facts = (
            request.provider,
            request.method,
            request.url,
            response.status,
            response.headers,
            request.request_id,
            request.attempt,
            response.elapsed,
        )
        _TABLE[key] = (weakref.ref(value, functools.partial(_forget, key)), facts)
    return value
