"""Is a reading physically believable? Implausible readings are faults, never alarms.

Out of range: a fault, and the reading is ignored. A step larger than
``max_step``: believed only once the next poll confirms it (a one-poll spike
is dropped, a real change costs one poll). Not changing at all for
``stuck_after``: a fault, but the reading still counts (a stuck-high sensor
keeps its alarm).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.profiles import Plausibility
from gateway.i18n import Translator


@dataclass(frozen=True, slots=True)
class Verdict:
    usable: bool  # may the thresholds use this reading?
    fault: str | None  # why the reading is implausible, for the device's fault status


class PlausibilityCheck:
    def __init__(self, point: str, spec: Plausibility, t: Translator) -> None:
        self._point = point
        self._spec = spec
        self._t = t  # a fault's reason is read by people, in the station's language
        self._accepted: float | None = None
        self._pending: float | None = None
        self._unchanged_since: float | None = None

    def check(self, value: float, now: float) -> Verdict:
        spec = self._spec
        if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
            return Verdict(False, self._t("alarm.out_of_range", point=self._point, value=f"{value:g}"))
        stuck = self._stuck(value, now)
        if spec.max_step is not None and self._accepted is not None:
            jump = abs(value - self._accepted) > spec.max_step
            confirmed = self._pending is not None and abs(value - self._pending) <= spec.max_step
            if jump and not confirmed:
                self._pending = value
                return Verdict(False, None)
        self._pending = None
        self._accepted = value
        return Verdict(True, stuck)

    def _stuck(self, value: float, now: float) -> str | None:
        after = self._spec.stuck_after
        if after is None:
            return None
        if value != self._accepted or self._unchanged_since is None:
            self._unchanged_since = now
            return None
        if now - self._unchanged_since >= after:
            return self._t("alarm.stuck", point=self._point, value=f"{value:g}")
        return None
