"""Bulk runs: bounded concurrency, every item accounted for, nothing created twice."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias, TypeVar

import attrs

from ._errors import APIConnectionError, LyraMaveraError, ServerError, ValidationError

__all__ = [
    "AmbiguousCreateError",
    "BulkFailed",
    "BulkOk",
    "BulkResult",
    "OnResult",
    "Progress",
    "bare_errors",
    "check_concurrency",
    "check_requests",
    "is_ambiguous",
    "run_bulk",
]

logger = logging.getLogger("lyra_mavera")

T = TypeVar("T")
R = TypeVar("R")


class _BulkResult(Generic[T]):
    """One item of a bulk run: a :class:`BulkOk` (``ok`` is ``True``, ``value`` is set)
    or a :class:`BulkFailed` (``ok`` is ``False``, ``error`` is set). Both carry the
    item's ``index`` in the input and its ``request``.

    For type checkers ``BulkResult[T]`` is the union ``BulkOk[T] | BulkFailed``, so
    checking ``r.ok`` (or ``match r: case BulkOk(value=v): ...``) narrows ``r.value`` to
    ``T`` and ``r.error`` to the error. At run time it is the two kinds' common base, so
    ``isinstance(r, lm.BulkResult)`` holds for both.
    """

    __slots__ = ()


_BulkResult.__name__ = _BulkResult.__qualname__ = "BulkResult"


@attrs.frozen
class BulkOk(_BulkResult[T]):
    """An item of a bulk run that succeeded: ``value`` is what it created."""

    index: int
    request: Any
    value: T

    @property
    def ok(self) -> Literal[True]:
        """Always ``True``: this item succeeded."""
        return True

    @property
    def error(self) -> None:
        """Always ``None``: a successful item has no error."""
        return None


@attrs.frozen
class BulkFailed(_BulkResult[Any]):
    """An item of a bulk run that failed: ``error`` says why (an
    :class:`AmbiguousCreateError` when it may nevertheless have created something)."""

    index: int
    request: Any
    error: LyraMaveraError

    @property
    def ok(self) -> Literal[False]:
        """Always ``False``: this item failed."""
        return False

    @property
    def value(self) -> None:
        """Always ``None``: a failed item created nothing that is known."""
        return None


if TYPE_CHECKING:
    BulkResult: TypeAlias = BulkOk[T] | BulkFailed
else:
    BulkResult = _BulkResult


class AmbiguousCreateError(LyraMaveraError):
    """A create failed in a way that leaves it unknown whether the server created the
    resource (a timeout or dropped connection after sending, or a 5xx). ``cause`` is the
    original error (``None`` when the process stopped mid-request). The item was not
    sent again, so nothing was created twice."""

    def __init__(self, message: str, *, provider: str, cause: LyraMaveraError | None) -> None:
        super().__init__(message)
        self.provider = provider
        self.cause = cause


def is_ambiguous(exc: LyraMaveraError) -> bool:
    """Whether a failed create may nevertheless have been carried out."""
    if isinstance(exc, APIConnectionError):
        return exc.sent
    return isinstance(exc, ServerError)


Progress = Callable[[int, int], Awaitable[Any] | Any]
OnResult = Callable[["BulkResult[Any]"], Awaitable[Any] | Any]


@contextlib.asynccontextmanager
async def bare_errors() -> AsyncIterator[None]:
    """Around a task group: let the first error of a task out as itself, not wrapped in
    an ``ExceptionGroup`` (a user's callback that raises ``KeyError`` raises ``KeyError``,
    as it would without concurrency). The group has cancelled and awaited the rest."""
    try:
        yield
    except BaseExceptionGroup as group:
        errors = [e for e in _leaves(group) if not isinstance(e, asyncio.CancelledError)]
        raise (errors or _leaves(group))[0] from None


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for error in group.exceptions:
        out.extend(_leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    return out


def check_requests(requests: object) -> list[Any]:
    """The items of a bulk run, as a list. One string (a single link or title), bytes or
    a mapping is refused: iterating it would send its characters or keys."""
    if isinstance(requests, str | bytes | bytearray | Mapping) or not isinstance(
        requests, Iterable
    ):
        raise ValidationError(
            "requests",
            f"must be a list (or other iterable) of requests, got {type(requests).__name__}",
        )
    return list(requests)


def check_concurrency(concurrency: object) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency", f"must be an int >= 1, got {concurrency!r}")
    return concurrency


async def _settle(
    index: int, request: R, create: Callable[[int, R], Awaitable[T]]
) -> BulkResult[T]:
    """One item's result: its value, or the error that ended it (never an escape)."""
    try:
        value = await create(index, request)
    except LyraMaveraError as exc:
        return BulkFailed(index, request, exc)
    except Exception as exc:  # a bug must still leave a result for the item
        error = LyraMaveraError(f"unexpected {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return BulkFailed(index, request, error)
    return BulkOk(index, request, value)


async def run_bulk(
    requests: Iterable[R],
    create: Callable[[int, R], Awaitable[T]],
    *,
    concurrency: int,
    on_progress: Progress | None,
    on_result: OnResult | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[BulkResult[T]]:
    """Run ``create(index, request)`` for every request with at most ``concurrency`` at
    once; results in input order. No item's failure stops the others or escapes.

    ``on_start(index)`` runs just before an item is sent, ``on_result(result)`` as soon as
    it is known (before ``on_progress``); both may be plain or async (``on_start`` plain)."""
    items = check_requests(requests)
    check_concurrency(concurrency)
    total = len(items)
    results: list[BulkResult[T] | None] = [None] * total
    next_index = iter(range(total))
    done = 0
    progress_failed = False

    async def report(result: BulkResult[T]) -> None:
        nonlocal progress_failed
        if on_result is not None:
            # Unlike progress, a failing result sink is the caller's data at stake: raise.
            outcome = on_result(result)
            if inspect.isawaitable(outcome):
                await outcome
        if on_progress is None or progress_failed:
            return
        try:
            outcome = on_progress(done, total)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            # A broken progress callback must not lose the run's results.
            progress_failed = True
            logger.exception("on_progress raised; no further progress is reported")

    async def worker() -> None:
        nonlocal done
        for index in next_index:
            request = items[index]
            if on_start is not None:
                on_start(index)
            result = results[index] = await _settle(index, request, create)
            done += 1
            await report(result)

    async with bare_errors(), asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, total)):
            group.create_task(worker())
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]
