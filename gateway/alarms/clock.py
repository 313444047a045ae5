"""The one source of time of the alarm engine: a wall clock and a monotonic clock together.

Shelving ends at a moment people read (wall clock); delays and windows run on
a clock that never jumps (monotonic). Both come from one injected object, so
that the daemon runs on the system's clocks while a replay or a test moves
time itself, and a shelving of a day takes no day to test.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Protocol

from gateway.contract.events import utc_now


class Clock(Protocol):
    def now(self) -> datetime:
        """The wall-clock time, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...


class SystemClock:
    """The machine's clocks: what the daemon runs on."""

    def now(self) -> datetime:
        return utc_now()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """Simulated time: ``set(t)`` puts both clocks ``t`` seconds after the start.

    A replay of recorded traces or a test drives the engine with it, so an
    hour of rising water, or a day of shelving, passes in no time.
    """

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._elapsed = 0.0

    def set(self, elapsed: float) -> None:
        self._elapsed = elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed
