"""The recent readings behind the page's trends: a bounded ring per point, in memory only.

A Pi has no room (and needs no database) for history: the page shows the
last few hours, at most :data:`SAMPLES` points per series, one per time step;
within a step the reading furthest from the one kept before wins, so a
short spike still shows. Nothing is written to disk.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from drivers.observation import PollOutcome

SAMPLES = 720  # per series: a point every 30 s over 6 h


@dataclass(slots=True)
class Series:
    """One point's kept readings (unix time, value), oldest first, and its latest reading."""

    unit: str | None
    samples: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    latest: float | bool | None = None


class Trends:
    """Every numeric point's series, and when each device last answered."""

    def __init__(self, hours: float) -> None:
        self.hours = hours
        self._step = hours * 3600 / SAMPLES
        self.series: dict[tuple[str, str], Series] = {}
        self.last_seen: dict[str, float] = {}  # device -> unix time of its last answer

    def record(self, outcome: PollOutcome) -> None:
        """Keep what one poll read; a failed poll changes nothing but is no answer either."""
        if not outcome.ok:
            return
        now = time.time()
        self.last_seen[outcome.device] = now
        for observation in outcome.observations:
            key = (observation.device, observation.point)
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = Series(observation.unit)
            series.latest = observation.value
            if isinstance(observation.value, bool):
                continue  # flags are shown as words, not drawn
            self._keep(series, now, float(observation.value))

    def _keep(self, series: Series, now: float, value: float) -> None:
        samples = series.samples
        if samples and samples[-1][0] // self._step == now // self._step:
            reference = samples[-2][1] if len(samples) > 1 else samples[-1][1]
            if abs(value - reference) >= abs(samples[-1][1] - reference):
                samples[-1] = (now, value)
            return
        samples.append((now, value))

    def window(self, device: str, point: str, now: float) -> list[tuple[float, float]]:
        """The kept readings of the last :attr:`hours` hours."""
        series = self.series.get((device, point))
        if series is None:
            return []
        since = now - self.hours * 3600
        return [(t, v) for t, v in series.samples if t >= since]
