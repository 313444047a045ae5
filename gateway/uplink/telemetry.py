"""When a device's readings are worth sending, and what goes out: the latest value of every point.

A device's points are not all read in one poll: alarm points come every poll
interval, routine telemetry in reads of its own. So a telemetry message is
built from the latest value of every point (each with its own age), and a
change is judged point by point against the value last sent for that point:
a poll that did not read a point says nothing about it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from drivers.observation import Observation


@dataclass(frozen=True, slots=True)
class Latest:
    """A point's latest value and when it was read."""

    value: float | bool
    unit: str | None
    observed_at: datetime


@dataclass(slots=True)
class _Device:
    latest: dict[str, Latest]
    sent: dict[str, float | bool]  # per point, the value last sent (or its first reading)
    sent_at: float


class ReportOnChange:
    """Decides, per device, whether the latest readings go out now, and keeps them.

    A point with a deadband reports when it has moved more than that since it
    was last sent (a boolean on any change); every device reports at least
    every ``max_interval`` seconds, however its reads are split. A point's
    first reading is its baseline, and a device's first poll starts its clock.
    """

    def __init__(self, deadbands: dict[str, dict[str, float]], max_interval: float) -> None:
        self._deadbands = deadbands  # device -> point -> deadband
        self._max_interval = max_interval
        self._devices: dict[str, _Device] = {}

    def due(self, device: str, observations: Iterable[Observation], now: float | None = None) -> bool:
        """Take one poll's readings; True when the device's telemetry should go out now."""
        now = time.monotonic() if now is None else now
        state = self._devices.setdefault(device, _Device({}, {}, now))
        bands = self._deadbands.get(device, {})
        moved = False
        for reading in observations:
            state.latest[reading.point] = Latest(reading.value, reading.unit, reading.observed_at)
            before = state.sent.setdefault(reading.point, reading.value)
            band = bands.get(reading.point)
            moved = moved or (band is not None and _moved(before, reading.value, band))
        overdue = self._max_interval > 0 and now - state.sent_at >= self._max_interval
        if not (moved or overdue):
            return False
        state.sent = {point: latest.value for point, latest in state.latest.items()}
        state.sent_at = now
        return True

    def latest(self, device: str) -> dict[str, Latest]:
        """Every point of ``device`` read so far, with its latest value."""
        state = self._devices.get(device)
        return dict(state.latest) if state is not None else {}


def _moved(before: float | bool, after: float | bool, band: float) -> bool:
    if isinstance(before, bool) or isinstance(after, bool):
        return before != after
    return abs(after - before) > band
