"""Test helpers shared by the polling and bulk suites."""

from __future__ import annotations

import asyncio

import lyra_mavera as lm

# The loop accepting a connection for the fake server is server-side work too.
_SERVER_SIDE = (
    "aiohttp/web_protocol.py",
    "aiohttp/web_server.py",
    "aiohttp/web_runner.py",
    "asyncio/selector_events.py",
)


def client_tasks() -> list[asyncio.Task[object]]:
    """Pending tasks other than the current one and the fake server's own handlers."""
    current = asyncio.current_task()
    found = []
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and code.co_filename.endswith(_SERVER_SIDE):
            continue
        found.append(task)
    return found


def open_connections(session: lm.AsyncSession) -> int:
    """Connections the session's connector has handed out and not got back."""
    client = session.client_session
    if client is None or client.connector is None:
        return 0
    return len(client.connector._acquired)  # no public count exists
