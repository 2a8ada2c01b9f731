"""Mavera's list endpoints, page by page: cursor (``next_cursor``) or offset
(``offset``/``total``) paging, whichever the answer uses.

A server that ignores the paging parameters would send the same page forever with
``has_more: true``; a repeated cursor or a page whose items were all seen on the page
before ends the listing with :class:`ResponseValidationError` instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, Generic, Protocol, TypeVar

import attrs

from .._errors import ResponseValidationError, ValidationError
from .._responses import remember_like
from .._transport import Transport

__all__ = ["MAX_PAGE_SIZE", "Lister", "Page", "check_page_size", "paginate"]

PROVIDER = "mavera"
#: Mavera's documented maximum page size.
MAX_PAGE_SIZE = 100

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Lister(Protocol[T_co]):
    """A list endpoint as a function: ``Meetings.list`` is one."""

    def __call__(self, *, page_size: int = ...) -> AsyncGenerator[T_co, None]: ...


@attrs.frozen
class Page(Generic[T]):
    """One page of a Mavera list. Both styles Mavera uses are read: cursor
    (``next_cursor``) and offset (``offset``/``total``)."""

    data: tuple[T, ...]
    has_more: bool = False
    next_cursor: str | None = None
    object: str = "list"
    total: int | None = None
    offset: int | None = None
    limit: int | None = None


def _looping(path: str, what: str) -> ResponseValidationError:
    return ResponseValidationError(
        f"mavera answered {path} with {what}; stopping rather than looping forever",
        provider=PROVIDER,
        path=("$.next_cursor: repeated" if "cursor" in what else "$.data: repeated page",),
    )


def _ids(items: tuple[Any, ...]) -> tuple[object, ...]:
    return tuple(getattr(item, "id", item) for item in items)


async def paginate(
    transport: Transport,
    path: str,
    model: type[T],
    params: Mapping[str, str],
    page_size: int,
) -> AsyncGenerator[T, None]:
    """Every item of a list endpoint, following pages until ``has_more`` is false."""
    cursor: str | None = None
    offset = 0
    cursors: set[str] = set()
    previous: tuple[object, ...] | None = None
    while True:
        query = {**params, "limit": str(page_size)}
        if cursor is not None:
            query["cursor"] = cursor
        elif offset:
            query["offset"] = str(offset)
        page = await transport.call(PROVIDER, "GET", path, Page[model], params=query)  # type: ignore[valid-type]
        ids = _ids(page.data)
        if ids and ids == previous:
            raise _looping(path, "the same page twice")
        previous = ids
        for item in page.data:
            remember_like(item, page)  # lm.response_of(item) is its page's response
            yield item
        if not page.has_more or not page.data:
            return
        if page.next_cursor:
            if page.next_cursor in cursors:
                raise _looping(path, f"the cursor {page.next_cursor!r} twice")
            cursors.add(page.next_cursor)
            cursor = page.next_cursor
        else:
            offset += len(page.data)


def check_page_size(value: object) -> int:
    """A page size Mavera accepts (1 to 100)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise ValidationError(
            "page_size", f"must be an int from 1 to {MAX_PAGE_SIZE}, got {value!r}"
        )
    return value
