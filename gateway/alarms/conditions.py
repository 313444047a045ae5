"""What the engine keeps per alarm condition and per device, and the names of conditions.

A condition is a profile rule of one device (with its threshold ladders, rate
of rise and chatter history), a device's health, a zone's confirmation or the
station's flood summary; each holds at most one alarm occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.alarms.lifecycle import Alarm
from gateway.alarms.nuisance import ChatterTracker
from gateway.alarms.plausibility import PlausibilityCheck, Verdict
from gateway.alarms.rate import RateOfRiseDetector
from gateway.alarms.thresholds import ThresholdLadder
from gateway.config.alarm_policy import Zone
from gateway.config.profiles import AlarmRule
from gateway.contract.events import AlarmSource, DeviceHealth, RadioDetails
from gateway.contract.levels import CapCategory

DEVICE_CONDITION = "DEVICE"
COMM_CONDITION = "COMM"
RATE_CONDITION = "RATE"
IMPLAUSIBLE_CONDITION = "IMPLAUSIBLE"
CONFIRMED_CONDITION = "CONFIRMED"
FLOOD_CONDITION = "FLOOD"
RADIO_CONDITION = "RADIO"
NORMAL_CONDITION = "NORMAL"
FAULT_ALARM = "fault"
FLOOD_KIND = "alarm_flood"
STATION_SOURCE = "station"


@dataclass
class Condition:
    """One alarm condition: a device's profile rule, its health, a zone, or the flood summary."""

    key: str
    device: str  # the device, or a station-level name (``zone-NAME``, ``station``)
    name: str
    kind: str
    rule: AlarmRule | None = None
    ladders: list[ThresholdLadder] = field(default_factory=list)
    rate: RateOfRiseDetector | None = None
    chatter: ChatterTracker | None = None
    zone: Zone | None = None
    alarm: Alarm | None = None
    chattering: bool = False
    # An alarm judged outside the engine (a radio press, a radio link): where it comes from.
    external: AlarmSource | None = None
    latch: bool = False
    radio: RadioDetails | None = None

    @property
    def latched(self) -> bool:
        return self.latch or bool(self.rule and self.rule.latched)

    @property
    def category(self) -> CapCategory | None:
        """The rule's own CAP category, if it names one."""
        return self.rule.category if self.rule else None

    def restore(self, alarm: Alarm) -> None:
        """Take a saved occurrence back, and put the detectors where it left them."""
        self.alarm = alarm
        condition = alarm.last.condition if alarm.last else ""
        if alarm.active and condition == RATE_CONDITION and self.rate is not None:
            self.rate.active = True
        if alarm.active:
            for ladder in self.ladders:
                ladder.restore(condition)


@dataclass
class DeviceState:
    name: str
    conditions: list[Condition]
    health_condition: Condition
    health: DeviceHealth | None = None  # unknown until the first poll
    reason: str | None = None
    status_published_at: float = float("-inf")  # monotonic
    failed_polls: int = 0
    values: dict[str, float | bool] = field(default_factory=dict)
    plausibility: dict[str, PlausibilityCheck] = field(default_factory=dict)  # by point
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # the last one of each point read
    warming_since: float | None = None  # monotonic time of the first answer after start or loss
    testing: bool = False  # the device's test bit is set


def ladders_of(rule: AlarmRule) -> list[ThresholdLadder]:
    options = {"deadband": rule.deadband, "on_delay": rule.on_delay, "off_delay": rule.off_delay}
    ladders = []
    if rule.high:
        ladders.append(ThresholdLadder.high([(r.level, r.at) for r in rule.high], **options))
    if rule.low:
        ladders.append(ThresholdLadder.low([(r.level, r.at) for r in rule.low], **options))
    return ladders


def number(value: float | bool | None) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
