"""One logical call, attempt after attempt: the retry loop around the middleware chain.

:class:`Pipeline` holds what every call of a session shares (its configuration, the
chain ending in the wire, and the counters) and sends calls with explicit
:class:`~lyra_mavera._options.CallOptions`; every decision between attempts is
:func:`lyra_mavera._waits.next_wait`'s, every wait on the SDK's clock.

May import the core's ``_clock``, ``_config``, ``_errors``, ``_http``, ``_options`` and
``_wire``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from . import _clock
from ._config import SessionConfig
from ._errors import APIConnectionError, APITimeoutError, LyraMaveraError, ValidationError
from ._http import (
    Handler,
    Request,
    Response,
    build_request,
    error_from_response,
)
from ._options import CallOptions
from ._waits import next_wait, past_deadline
from ._wire import Wire

__all__ = ["Pipeline", "Send", "SessionStats"]

#: How a session (or a view of it) sends one logical call: ``send(options, provider,
#: method, path, json_body, params, context)`` -> the 2xx :class:`Response`.
Send = Callable[
    [CallOptions, str, str, str, Any, Mapping[str, str] | None, dict[str, Any] | None],
    Awaitable[Response],
]


@attrs.define
class SessionStats:
    """What a session has done so far (attempts include retries)."""

    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    status_errors: int = 0
    connection_errors: int = 0


class Pipeline:
    """Sends a session's calls: builds the request, runs each attempt through the chain,
    and retries as the call's :class:`RetryPolicy` allows."""

    __slots__ = ("_base_urls", "_wire", "chain", "stats")

    def __init__(self, config: SessionConfig, wire: Wire, chain: Handler) -> None:
        self._base_urls = config.base_urls
        self._wire = wire
        self.chain = chain
        self.stats = SessionStats()

    async def send(
        self,
        options: CallOptions,
        provider: str,
        method: str,
        path: str,
        json_body: Any,
        params: Mapping[str, str] | None,
        context: dict[str, Any] | None,
    ) -> Response:
        """The retry loop: one attempt after another until one succeeds or
        :func:`next_wait` says to stop; every wait on the SDK's clock."""
        if provider not in self._base_urls:
            raise ValidationError("provider", f"must be 'lyra' or 'mavera', got {provider!r}")
        self._wire.client()  # fail fast on a closed session
        first = build_request(
            options, self._base_urls[provider], provider, method, path, json_body, params
        )
        if context is not None:
            first.context = context
        policy = options.retry
        first_at = _clock.monotonic()
        deadline = None if options.deadline is None else first_at + options.deadline
        for attempt in range(1, policy.attempts + 1):
            left = None if deadline is None else deadline - _clock.monotonic()
            if left is not None and left <= 0:
                raise APITimeoutError(
                    f"{provider}: the call's deadline of {options.deadline:g}s passed before "
                    f"attempt {attempt} of {method} {path}; the request was not sent",
                    provider=provider,
                    sent=False,
                )
            if attempt == 1:
                # The first attempt is the request built for it (no copy on the hot path);
                # later ones start from it as it was before any middleware touched it.
                pristine = (first.method, first.url, first.params, first.body, first.headers)
                first.headers = dict(first.headers)
            request = _attempt_of(first, pristine, attempt, left, deadline)
            outcome = await self._attempt(request)
            if isinstance(outcome, Response):
                return outcome
            error = outcome
            wait = next_wait(policy, request, error, rand=random.random())
            if wait is None:
                raise error
            if deadline is not None and not wait < deadline - _clock.monotonic():
                raise past_deadline(request, error, wait, deadline - first_at) from error
            await _clock.sleep(wait)
        raise AssertionError("unreachable: next_wait stops at the last attempt")

    async def _attempt(self, request: Request) -> Response | LyraMaveraError:
        """One trip through the chain: the 2xx response, or the error it amounts to."""
        stats = self.stats
        stats.attempts += 1
        stats.retries += request.attempt > 1
        try:
            response = await self.chain(request)
        except APIConnectionError as exc:
            stats.connection_errors += 1
            return exc
        if response.ok:
            return response
        stats.status_errors += 1
        stats.rate_limited += response.status == 429
        return error_from_response(
            request.provider, response.status, response.headers, response.body
        )


def _attempt_of(
    first: Request,
    pristine: tuple[str, str, Mapping[str, str] | None, bytes | None, dict[str, str]],
    attempt: int,
    left: float | None,
    deadline: float | None,
) -> Request:
    """Attempt ``attempt`` of a call: the first request itself, later a copy of it as it
    was built (``pristine``), with the bounds of what is left of the deadline."""
    timeout = first.timeout if left is None else min(first.timeout, left)
    max_wait = first.max_wait if left is None else min(first.max_wait, left)
    if attempt == 1:
        first.attempt, first.timeout, first.max_wait = 1, timeout, max_wait
        first.deadline_at = deadline
        return first
    method, url, params, body, headers = pristine
    return attrs.evolve(
        first,
        method=method,
        url=url,
        params=params,
        body=body,
        attempt=attempt,
        headers=dict(headers),
        timeout=timeout,
        max_wait=max_wait,
        deadline_at=deadline,
    )
