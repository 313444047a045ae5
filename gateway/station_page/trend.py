"""The recent readings behind the page's trends: a bounded ring per point, in memory only.

A Pi has no room (and needs no database) for history: the page shows the
last few hours, at most :data:`SAMPLES` points per series, one per time step;
within a step the reading furthest from the one kept before wins, so a
short spike still shows. Nothing is written to disk.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from drivers.observation import PollOutcome

SAMPLES = 720  # per series: a point every 30 s over 6 h


class Samples:
    """At most ``size`` (unix time, value) pairs, oldest first, stored as raw doubles.

    Why not a deque of tuples: a tuple of two floats is about 100 bytes, a pair
    of doubles 16. Full trends of a 20-detector station took 3 MB that way,
    of 200 detectors 30 MB; in two arrays they take about a seventh. A series
    gains a pair at most once per time step, so dropping the oldest by moving
    the rest (a few kilobytes) costs nothing worth a ring.
    """

    __slots__ = ("_size", "_times", "_values")

    def __init__(self, size: int = SAMPLES) -> None:
        self._size = size
        self._times = array("d")
        self._values = array("d")

    def __len__(self) -> int:
        return len(self._times)

    def append(self, pair: tuple[float, float]) -> None:
        """Add the newest pair; once full, the oldest goes."""
        self._times.append(pair[0])
        self._values.append(pair[1])
        if len(self._times) > self._size:
            del self._times[0], self._values[0]

    def __getitem__(self, position: int) -> tuple[float, float]:
        return self._times[position], self._values[position]

    def __setitem__(self, position: int, pair: tuple[float, float]) -> None:
        self._times[position], self._values[position] = pair

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return zip(self._times, self._values, strict=True)


@dataclass(slots=True)
class Series:
    """One point's kept readings (unix time, value), oldest first, and its latest reading."""

    unit: str | None
    samples: Samples = field(default_factory=Samples)
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
