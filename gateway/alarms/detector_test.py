"""A detector's test button: when a test starts and ends, and whether the detector answered.

Stations test their detectors monthly. While the test bit is set the
detector is under test: that is a ``test`` event of its own for the
platform to count ("tested at T"), never a real alarm. A detector that works
sets its alarm bit within its profile's ``test_alarm_within``; one that does
not has failed its test, which is a device fault until a later test passes.

The alarm bits a test sets are the test's answer, not an alarm: while a test
runs, and until the bits drop after it (at most ``test_alarm_within`` after
its end, for a detector that resets slowly), the device's rules see its alarm
bits as they were when the test began. An alarm already active stays active;
an alarm bit still set after that grace is an alarm again, so a real fire
during a test is late by at most the grace, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from gateway.i18n import Translator


class TestStep(Enum):
    STARTED = "started"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class LastTest:
    """The last test of a detector: when it ended and whether it passed."""

    at: datetime
    passed: bool


@dataclass
class DetectorTest:
    """One device's test bit and alarm bits, followed poll by poll (monotonic time)."""

    alarm_within: float
    alarm_bits: frozenset[str]
    started: float | None = None
    answered_after: float | None = None  # seconds from the start to the first alarm bit
    ended: float | None = None  # the end of the last test, while its grace runs
    held: dict[str, bool] | None = None  # the alarm bits as the rules see them during a test
    last: LastTest | None = None
    before: dict[str, bool] = field(default_factory=dict)  # the alarm bits of the previous poll

    def observe(self, values: dict[str, float | bool], testing: bool, now: float) -> TestStep | None:
        """One poll: what it means for the test, if anything."""
        before, self.before = self.before, {bit: bool(values.get(bit)) for bit in self.alarm_bits}
        bits_on = any(self.before.values())
        if testing and self.started is None:
            self.started, self.answered_after, self.ended = now, None, None
            if self.held is None:
                self.held = before  # the bits the poll before the test read: the detector's own verdict
            self._answered(bits_on, now)
            return TestStep.STARTED
        if testing:
            self._answered(bits_on, now)
            return None
        if self.started is not None:
            self._answered(bits_on, now)
            passed = not self.alarm_bits or (
                self.answered_after is not None and self.answered_after <= self.alarm_within
            )
            self.started, self.ended = None, now
            return TestStep.PASSED if passed else TestStep.FAILED
        if self.ended is not None and (not bits_on or now - self.ended > self.alarm_within):
            self.ended, self.held = None, None  # the grace is over: the bits are the detector's again
        return None

    def _answered(self, bits_on: bool, now: float) -> None:
        assert self.started is not None
        if bits_on and self.answered_after is None:
            self.answered_after = now - self.started

    def bit(self, values: dict[str, float | bool], name: str) -> bool:
        """An alarm bit as the device's rules see it: held during a test and its grace."""
        if self.held is not None and name in self.held:
            return self.held[name]
        return bool(values.get(name))

    def verdict(self, t: Translator) -> str:
        """One line on the test that just ended, in the station's language."""
        if not self.alarm_bits:
            return t("alarm.test_no_bit")
        if self.answered_after is None:
            return t("alarm.test_silent")
        if self.answered_after > self.alarm_within:
            return t("alarm.test_late", seconds=f"{self.answered_after:g}", limit=f"{self.alarm_within:g}")
        return t("alarm.test_passed", seconds=f"{self.answered_after:g}")
