"""Progress bars that say why they stand still.

The session's rate limiter paces requests silently; a bar that freezes for a minute
looks like a hang. :class:`RateWatch` is a middleware that reads what each answer says
about the key's budget (``X-RateLimit-Remaining``/``-Reset``, ``Retry-After`` on a 429),
and :func:`step` turns that into "waiting N s for the key's rate-limit window"
beside the bar (or as a line on stderr when it is not a terminal).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Mapping

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

import lyra_mavera as lm

from ._output import Output

__all__ = ["RateColumn", "RateWatch", "progress_bar", "step"]


class RateColumn(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="cyan")


def progress_bar(out: Output, console: Console | None = None) -> Progress:
    """Count, rate, ETA and a note, on stderr unless told otherwise (stdout carries
    results); off in --json mode. Descriptions and notes are never read as markup."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}", markup=False, style="yellow"),
        console=console or out.err,
        disable=out.json,
        transient=False,
    )


class RateWatch:
    """A session middleware that remembers, per provider, until when the key has no
    budget left, as the server last said."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self.limit: dict[str, int] = {}

    async def __call__(self, request: lm.Request, call_next: lm.Handler) -> lm.Response:
        response = await call_next(request)
        self.observe(request.provider, response.status, response.headers)
        return response

    def observe(self, provider: str, status: int, headers: Mapping[str, str]) -> None:
        get = headers.get
        now = time.time()
        until = 0.0
        limit, remaining, reset = (
            _number(get("X-RateLimit-Limit")),
            _number(get("X-RateLimit-Remaining")),
            _number(get("X-RateLimit-Reset")),
        )
        if limit is not None:
            self.limit[provider] = int(limit)
        if remaining is not None and remaining <= 0 and reset is not None:
            until = reset
        if status == 429:
            retry = _number(get("Retry-After"))
            until = max(until, now + (retry if retry is not None else 1.0))
        self._until[provider] = until

    def pause_left(self) -> float:
        """Seconds until the most constrained key may send again (0: not waiting)."""
        now = time.time()
        return max((until - now for until in self._until.values()), default=0.0)

    def describe(self, seconds: float) -> str:
        limits = ", ".join(f"{n} requests per window" for n in self.limit.values())
        tail = f" ({limits})" if limits else ""
        return f"waiting {math.ceil(seconds)} s for the key's rate-limit window{tail}"


def _number(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@contextlib.asynccontextmanager
async def step(
    out: Output,
    watch: RateWatch,
    bar: Progress,
    description: str,
    *,
    total: int,
    completed: int = 0,
) -> AsyncIterator[TaskID]:
    """A new task on ``bar``; while the block runs, rate-limit pauses are shown beside
    it (or once per pause on stderr when no live bar is drawn)."""
    task = bar.add_task(description, total=total, completed=completed, note="")
    live = not out.json and bar.console.is_terminal

    async def tick() -> None:
        announced = 0.0
        while True:
            left = watch.pause_left()
            finished = any(t.id == task and t.finished for t in bar.tasks)
            waiting = left >= 1.0 and not finished
            if live:
                bar.update(task, note=watch.describe(left) if waiting else "")
            elif waiting and time.time() + left > announced + 1.0:
                announced = time.time() + left
                out.note(watch.describe(left))
            await asyncio.sleep(0.5)

    ticker = asyncio.create_task(tick())
    try:
        yield task
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        bar.update(task, note="")
