"""Threshold ladders with deadband and on/off delays.

A ladder is a list of rungs (``HI`` then ``HIHI``, or ``LO`` then ``LOLO``).
Each rung is a small state machine: it turns on once the value has been past
``at`` for ``on_delay`` seconds, and off once the value has been back inside
``at`` minus the deadband for ``off_delay`` seconds. The ladder's level is its
highest rung that is on.

Time is whatever monotonic clock the caller passes, so delays survive wall
clock jumps and tests can drive time directly.

Delays are judged on the polls that saw the condition, with a tolerance of
half a poll interval: a delay of D holds once the polls that saw it span at
least D minus half an interval. Polls are never exactly one interval apart
(answers arrive a few milliseconds early or late); without the tolerance a
2 s delay at 1 s polls would take the third poll or the fourth depending on
sub-millisecond timing, so the same input would give different alarms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.contract.levels import Grade

HIGH_NAMES = ("HI", "HIHI", "HIHIHI")
LOW_NAMES = ("LO", "LOLO", "LOLOLO")


@dataclass(frozen=True, slots=True)
class RungSpec:
    name: str
    level: Grade
    at: float


@dataclass(frozen=True, slots=True)
class Crossing:
    """The rung a ladder is on: its name (``HIHI``), level and set point."""

    name: str
    level: Grade
    threshold: float


class _Rung:
    __slots__ = ("_pending_since", "active", "spec")

    def __init__(self, spec: RungSpec) -> None:
        self.spec = spec
        self.active = False
        self._pending_since: float | None = None

    def update(self, beyond: bool, inside: bool, now: float, on_delay: float, off_delay: float) -> None:
        """``beyond``: past the set point; ``inside``: back past the deadband.

        The delays come with the ladder's tolerance already taken off.
        """
        wants_change = beyond if not self.active else inside
        if not wants_change:
            self._pending_since = None
            return
        if self._pending_since is None:
            self._pending_since = now
        delay = off_delay if self.active else on_delay
        if now - self._pending_since >= delay:
            self.active = not self.active
            self._pending_since = None


class ThresholdLadder:
    """Evaluates one side (high or low) of one point's thresholds."""

    def __init__(
        self,
        rungs: Sequence[RungSpec],
        *,
        rising: bool,
        deadband: float = 0.0,
        on_delay: float = 0.0,
        off_delay: float = 0.0,
        tolerance: float = 0.0,
    ) -> None:
        """``tolerance``: half the poll interval of the point (see the module's docstring)."""
        self._rungs = [_Rung(spec) for spec in rungs]
        self._rising = rising
        self._deadband = deadband
        self._on_delay = on_delay - tolerance
        self._off_delay = off_delay - tolerance

    @classmethod
    def high(cls, levels: Sequence[tuple[Grade, float]], **options: float) -> ThresholdLadder:
        specs = [RungSpec(HIGH_NAMES[i], level, at) for i, (level, at) in enumerate(levels)]
        return cls(specs, rising=True, **options)

    @classmethod
    def low(cls, levels: Sequence[tuple[Grade, float]], **options: float) -> ThresholdLadder:
        specs = [RungSpec(LOW_NAMES[i], level, at) for i, (level, at) in enumerate(levels)]
        return cls(specs, rising=False, **options)

    def update(self, value: float, now: float) -> Crossing | None:
        """Feed one reading taken at ``now``; return the highest rung that is on."""
        for rung in self._rungs:
            at = rung.spec.at
            if self._rising:
                beyond, inside = value >= at, value < at - self._deadband
            else:
                beyond, inside = value <= at, value > at + self._deadband
            rung.update(beyond, inside, now, self._on_delay, self._off_delay)
        return self.crossing

    def restore(self, name: str) -> bool:
        """Turn rungs up to ``name`` on (a restored alarm); False if no rung has that name."""
        names = [rung.spec.name for rung in self._rungs]
        if name not in names:
            return False
        for rung in self._rungs[: names.index(name) + 1]:
            rung.active = True
        return True

    @property
    def crossing(self) -> Crossing | None:
        for rung in reversed(self._rungs):
            if rung.active:
                return Crossing(rung.spec.name, rung.spec.level, rung.spec.at)
        return None
