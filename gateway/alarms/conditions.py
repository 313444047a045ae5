"""The kinds of alarm condition the engine keeps, what it keeps per device, and condition names.

Each condition holds at most one alarm occurrence. A device's profile rule
judges its readings through threshold ladders, a rate of rise and the
device's own alarm bits; a device's health is raised by the engine from poll
outcomes; a zone is confirmed by the alarms of its detectors; the station's
flood summary counts what a flood holds back; an external condition is
judged elsewhere (a radio's press, a radio link). What differs between kinds
(latching, CAP category, test and exercise status, what a reset finds, what a
restart restores) is a method of each kind, so the engine never asks which
kind it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from gateway.alarms.detector_test import DetectorTest
from gateway.alarms.lifecycle import Alarm
from gateway.alarms.nuisance import ChatterTracker, NeverChatters
from gateway.alarms.plausibility import PlausibilityCheck, Verdict
from gateway.alarms.rate import RateOfRiseDetector
from gateway.alarms.thresholds import ThresholdLadder
from gateway.config.alarm_policy import Zone
from gateway.config.profiles import AlarmRule
from gateway.contract.events import AlarmEvent, AlarmSource, DeviceHealth, EventStatus, RadioDetails
from gateway.contract.levels import CapCategory, Grade

DEVICE_CONDITION = "DEVICE"
COMM_CONDITION = "COMM"
RATE_CONDITION = "RATE"
IMPLAUSIBLE_CONDITION = "IMPLAUSIBLE"
CONFIRMED_CONDITION = "CONFIRMED"
FLOOD_CONDITION = "FLOOD"
TEST_CONDITION = "TEST"
RADIO_CONDITION = "RADIO"
NORMAL_CONDITION = "NORMAL"
FAULT_ALARM = "fault"
TEST_ALARM = "test"
TEST_KIND = "detector_test"
TEST_NEEDS_NO_ACK = "not needed: a detector test"
FLOOD_KIND = "alarm_flood"
STATION_SOURCE = "station"


@dataclass
class Exercise:
    """Which events are a drill: the whole station's, or those of some devices."""

    station: bool
    devices: set[str]

    def covers(self, device: str) -> bool:
        return self.station or device in self.devices


@dataclass(frozen=True)
class Suppression:
    """A device suppressed by a command: until when, why and by whom; it always expires."""

    reason: str  # maintenance | out_of_service
    until: datetime
    by: str


@dataclass
class Readings:
    """The latest value of every point of one device, kept across polls that read only some."""

    test_flag: str | None  # the profile's test bit
    values: dict[str, float | bool] = field(default_factory=dict)
    test: DetectorTest | None = None  # the detector's tests, when it has a test bit

    @property
    def testing(self) -> bool:
        """The device's test bit is set: its events are a test."""
        return bool(self.test_flag and self.values.get(self.test_flag))

    def bit(self, name: str) -> bool:
        """An alarm bit as the rules see it: during a test, as it was before (the test's answer)."""
        return self.test.bit(self.values, name) if self.test else bool(self.values.get(name))


@dataclass(frozen=True)
class Seen:
    """What a condition's inputs said at its latest judgement: a re-alarm tells the present."""

    value: float | bool | None
    observed_at: datetime
    text: str


@dataclass(kw_only=True, eq=False)
class Condition:
    """One alarm condition: its key, where its events say they come from, and its occurrence."""

    key: str
    device: str  # the device, or a station-level name (``zone-NAME``, ``station``, ``radio-ID``)
    name: str
    kind: str
    source: AlarmSource
    suppressed_by: str | None = None  # its device is under maintenance or out of service
    alarm: Alarm | None = None
    chatter: ChatterTracker | NeverChatters = field(default_factory=NeverChatters)
    chattering: bool = False
    warming_up: bool = False  # its device's sensor warms up: the gateway's own thresholds wait
    seen: Seen | None = None  # not saved: the next poll after a restart says it again

    @property
    def latched(self) -> bool:
        return False

    @property
    def category(self) -> CapCategory | None:
        """The condition's own CAP category, if it names one."""
        return None

    @property
    def radio(self) -> RadioDetails | None:
        """The radio details its events carry."""
        return None

    def status(self, exercise: Exercise) -> EventStatus:
        return EventStatus.EXERCISE if exercise.covers(self.device) else EventStatus.ACTUAL

    def still_present(self) -> bool:
        """Is the condition still there, for a reset? Only a rule can tell."""
        return False

    def raise_alarm(self, grade: Grade, at: datetime) -> None:
        """A new occurrence, latched and suppressed as this condition is."""
        self.alarm = Alarm.raised(grade, at, latched=self.latched, suppressed_by=self.suppressed_by)

    def record(self, event: AlarmEvent) -> None:
        """The event just made for its alarm; once cleared and acknowledged, the occurrence is over."""
        assert self.alarm is not None
        self.alarm.record(event)
        if self.alarm.finished:
            self.alarm = None  # back to normal

    def restore(self, saved: dict[str, Any]) -> None:
        """Take a saved occurrence back."""
        self.alarm = Alarm.from_dict(saved, latched=self.latched, suppressed_by=self.suppressed_by)


@dataclass(kw_only=True, eq=False)
class DeviceCondition(Condition):
    """A condition of one configured device: its events are a test while its test bit is set."""

    readings: Readings

    def status(self, exercise: Exercise) -> EventStatus:
        return EventStatus.TEST if self.readings.testing else super().status(exercise)


class Judgement(NamedTuple):
    """What a rule says of the readings: its grade (None: normal), the condition and set point."""

    grade: Grade | None
    condition: str
    threshold: float | None


@dataclass(kw_only=True, eq=False)
class RuleCondition(DeviceCondition):
    """A device's profile rule, with its threshold ladders, rate of rise and chatter history."""

    rule: AlarmRule
    ladders: list[ThresholdLadder]
    rate: RateOfRiseDetector | None
    # Looked up once rather than on every poll: its point's unit, the points it reads.
    unit: str | None
    inputs: frozenset[str]

    @property
    def latched(self) -> bool:
        return self.rule.latched

    @property
    def category(self) -> CapCategory | None:
        return self.rule.category

    def judge(self, value: float | None, now: float) -> Judgement:
        """Feed the reading the gateway's thresholds may use (None: they wait), and judge.

        The highest grade wins; a device's own alarm bit wins a tie, whatever
        the thresholds (waiting or not) say.
        """
        if value is not None:
            for ladder in self.ladders:
                ladder.update(value, now)
            if self.rate is not None:
                self.rate.update(value, now)  # unknown until a whole window: keeps its state
        candidates = [(c.level, c.name, c.threshold) for ladder in self.ladders if (c := ladder.crossing)]
        if self.rate is not None and self.rate.active:
            candidates.append((self.rate.spec.level, RATE_CONDITION, self.rate.spec.rise))
        verdict = Judgement(None, "", None)
        for level, name, at in candidates:
            if verdict.grade is None or level.rank > verdict.grade.rank:
                verdict = Judgement(level, name, at)
        for bit, bit_grade in self.rule.device_bits.items():
            if self.readings.bit(bit) and (verdict.grade is None or bit_grade.rank >= verdict.grade.rank):
                verdict = Judgement(bit_grade, DEVICE_CONDITION, None)
        return verdict

    def still_present(self) -> bool:
        bits = any(self.readings.bit(bit) for bit in self.rule.device_bits)
        rising = self.rate is not None and self.rate.active
        return bits or rising or any(ladder.crossing for ladder in self.ladders)

    def restore(self, saved: dict[str, Any]) -> None:
        """Take a saved occurrence back, and put the detectors where it left them."""
        super().restore(saved)
        alarm = self.alarm
        assert alarm is not None
        if not alarm.active:
            return
        condition = alarm.last.condition if alarm.last else ""
        if condition == RATE_CONDITION and self.rate is not None:
            self.rate.active = True
        for ladder in self.ladders:
            ladder.restore(condition)


@dataclass(kw_only=True, eq=False)
class HealthCondition(DeviceCondition):
    """A device's health: a ``device_fault`` alarm while it is faulty or offline."""


@dataclass(kw_only=True, eq=False)
class TestCondition(DeviceCondition):
    """A detector's test: active while its test bit is set, always a test, never latched.

    A test needs no acknowledgement: its occurrence is over when the test ends.
    """

    def status(self, exercise: Exercise) -> EventStatus:
        return EventStatus.TEST

    def raise_alarm(self, grade: Grade, at: datetime) -> None:
        super().raise_alarm(grade, at)
        assert self.alarm is not None
        self.alarm.acknowledged_by = TEST_NEEDS_NO_ACK


@dataclass(kw_only=True, eq=False)
class ZoneCondition(Condition):
    """A zone's confirmation: enough of its detectors in alarm at once."""

    zone: Zone
    members: list[RuleCondition]  # the rules of the zone's devices

    def status(self, exercise: Exercise) -> EventStatus:
        statuses = {c.status(exercise) for c in self.members if c.alarm is not None and c.alarm.active}
        if not statuses or EventStatus.ACTUAL in statuses:
            return EventStatus.ACTUAL  # one real detector makes the confirmation real
        return sorted(statuses)[0]  # every agreeing detector is in a drill or a test


@dataclass(kw_only=True, eq=False)
class FloodCondition(Condition):
    """The station's flood summary: active while a flood holds lower grades back."""


@dataclass(kw_only=True, eq=False)
class ExternalCondition(Condition):
    """An alarm judged elsewhere in the gateway (a radio's press, a radio link)."""

    latch: bool = False
    radio: RadioDetails | None = None  # the latest details a radio sent with it

    @property
    def latched(self) -> bool:
        return self.latch

    def heard(self, source: AlarmSource, radio: RadioDetails | None) -> None:
        """The source spoke again: where it is now, and its latest radio details if it sent any."""
        self.source = source
        self.radio = radio or self.radio


@dataclass
class DeviceState:
    name: str
    readings: Readings
    conditions: list[RuleCondition]
    health_condition: HealthCondition
    faults: Mapping[str, str]  # the profile's fault flags and what each means, looked up once
    test_condition: TestCondition | None = None  # a detector with a test bit
    test_failure: str | None = None  # the verdict of a failed test: a fault until a test passes
    health: DeviceHealth | None = None  # unknown until the first poll
    reason: str | None = None
    status_published_at: float = float("-inf")  # monotonic
    failed_polls: int = 0
    plausibility: dict[str, PlausibilityCheck] = field(default_factory=dict)  # by point
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # the last one of each point read
    warming_since: float | None = None  # monotonic time of the first answer after start or loss


def ladders_of(rule: AlarmRule, poll_interval: float) -> list[ThresholdLadder]:
    """The rule's ladders; their delays are judged to half a poll interval (see thresholds)."""
    options = {
        "deadband": rule.deadband,
        "on_delay": rule.on_delay,
        "off_delay": rule.off_delay,
        "tolerance": poll_interval / 2,
    }
    ladders = []
    if rule.high:
        ladders.append(ThresholdLadder.high([(r.level, r.at) for r in rule.high], **options))
    if rule.low:
        ladders.append(ThresholdLadder.low([(r.level, r.at) for r in rule.low], **options))
    return ladders


def number(value: float | bool | None) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
