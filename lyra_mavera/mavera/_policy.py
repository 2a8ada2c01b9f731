"""``PollPolicy``: how often a followed bot is asked for its status (plain values; the
decisions that use them are in :mod:`lyra_mavera.mavera._step`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

from .. import _retry
from .._errors import ValidationError
from ._models import MeetingStatus

__all__ = ["PollPolicy"]

S = MeetingStatus

_DEFAULT_INTERVALS = {
    S.PENDING: 10.0,
    S.JOINING_CALL: 3.0,
    S.IN_WAITING_ROOM: 5.0,
    S.IN_CALL_NOT_RECORDING: 10.0,
    S.IN_CALL_RECORDING: 15.0,
    S.RECORDING_PERMISSION_DENIED: 5.0,
    S.CALL_ENDED: 5.0,
    S.RECORDING_DONE: 5.0,
}


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValidationError(
            f"PollPolicy.{attribute.name}", f"must be a number >= 0, got {value!r}"
        )


@attrs.frozen
class PollPolicy:
    """How often a bot's status is asked for -- separate from :class:`RetryPolicy`,
    which governs retrying one HTTP request.

    - ``intervals``: seconds between polls per status (joining and waiting room every few
      seconds; in the call slower; ``call_ended``/``recording_done`` faster again, since
      ``done`` is near). ``default_interval`` covers statuses not listed (unknown ones).
    - ``growing`` statuses poll ``growth`` times slower on each poll that finds no change,
      up to ``max_interval``. ``jitter`` spreads polls by up to +/- that fraction.
    - A ``pending`` bot whose ``join_at`` is ahead is not polled until ``join_lead``
      seconds before it.
    - ``permission_denied_grace``: how long ``recording_permission_denied`` may last
      before it counts as a failure.
    - ``max_errors`` failed polls in a row end the wait with the last error; between them
      waits grow from ``error_wait``.
    - ``sweep_min``: ``wait_many`` sweeps ``GET /meetings`` pages (100 bots a request)
      instead of fetching bots one by one when at least this many are due within
      ``sweep_horizon`` seconds and a sweep costs fewer requests than single fetches.
    - ``time_scale`` divides every wait: ``PollPolicy(time_scale=100)`` follows a
      ``FakeServer(time_scale=100)``.
    """

    intervals: Mapping[str, float] = attrs.field(factory=lambda: dict(_DEFAULT_INTERVALS))
    default_interval: float = attrs.field(default=10.0, validator=_positive)
    growing: frozenset[str] = frozenset({S.IN_CALL_NOT_RECORDING, S.IN_CALL_RECORDING})
    growth: float = attrs.field(default=1.5, validator=_positive)
    max_interval: float = attrs.field(default=60.0, validator=_positive)
    jitter: float = attrs.field(default=0.1, validator=_positive)
    join_lead: float = attrs.field(default=30.0, validator=_positive)
    permission_denied_grace: float = attrs.field(default=120.0, validator=_positive)
    max_errors: int = 5
    error_wait: float = attrs.field(default=2.0, validator=_positive)
    sweep_min: int = 50
    sweep_horizon: float = attrs.field(default=2.0, validator=_positive)
    time_scale: float = 1.0

    def __attrs_post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValidationError("PollPolicy.time_scale", "must be > 0")
        if self.jitter > 1:
            raise ValidationError("PollPolicy.jitter", "must be a fraction from 0 to 1")
        for name in ("max_errors", "sweep_min"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"PollPolicy.{name}", f"must be an int >= 1, got {value!r}")
        for status, seconds in self.intervals.items():
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int | float)
                or not seconds >= 0
            ):
                raise ValidationError(f"PollPolicy.intervals[{status!r}]", "must be a number >= 0")

    def interval(self, status: str, unchanged_polls: int, rand: float) -> float:
        """Seconds until the next poll of a bot in ``status`` (pure; ``rand`` in [0, 1))."""
        base = self.intervals.get(status, self.default_interval)
        if status in self.growing and unchanged_polls:
            try:
                base *= self.growth ** min(unchanged_polls, 1_000)
            except OverflowError:
                base = math.inf
        base = min(base, self.max_interval)
        spread = base * self.jitter * (2 * min(max(rand, 0.0), 1.0) - 1)
        return max(base + spread, 0.0) / self.time_scale

    def error_delay(self, errors: int, rand: float) -> float:
        """Seconds to wait after ``errors`` failed polls in a row."""
        return (
            _retry.backoff(
                errors,
                wait_initial=self.error_wait,
                wait_max=self.max_interval,
                wait_jitter=self.error_wait * self.jitter,
                wait_exp_base=2.0,
                rand=rand,
            )
            / self.time_scale
        )
