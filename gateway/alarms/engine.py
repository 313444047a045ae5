"""The alarm engine: one place where poll outcomes become alarm and status events.

For every alarm rule of every device it keeps the alarm's current grade and
publishes a transition when the grade changes: ``raised`` (from normal),
``level_changed``, ``cleared`` (back to normal). Device health (ok, fault,
offline) is tracked per device, published as a retained device status, and
raised as a ``device_fault`` alarm while it is not ok.

Precedence, so that a true event is never hidden:
- a device's own alarm bits raise at once, whatever the value and delays say;
- while the device reports its own fault, the gateway's thresholds on its
  values are frozen: a faulty reading neither raises nor clears;
- a device that stops answering keeps its alarms as they were (no data is
  not an all-clear).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drivers.observation import Fault, PollOutcome
from gateway.alarms.thresholds import Crossing, ThresholdLadder
from gateway.config import LoadedConfig
from gateway.config.profiles import AlarmRule
from gateway.events import (
    AlarmEvent,
    AlarmSource,
    AlarmState,
    DeviceHealth,
    DeviceStatusEvent,
    Envelope,
    Transition,
)
from gateway.levels import DEFAULT_COLOURS, Grade

DEVICE_CONDITION = "DEVICE"
COMM_CONDITION = "COMM"


@dataclass
class _ActiveAlarm:
    first_id: str
    grade: Grade
    raised_at: datetime


@dataclass
class _RuleState:
    name: str
    rule: AlarmRule
    ladders: list[ThresholdLadder]
    active: _ActiveAlarm | None = None


@dataclass
class _DeviceState:
    name: str
    rules: list[_RuleState]
    health: DeviceHealth | None = None  # unknown until the first poll
    reason: str | None = None
    failed_polls: int = 0
    fault_alarm: _ActiveAlarm | None = None
    values: dict[str, float | bool] = field(default_factory=dict)


def _inputs(rule: AlarmRule) -> set[str]:
    """The points a rule reads: its value point and the device's alarm bits."""
    return set(rule.device_bits) | ({rule.point} if rule.point else set())


def _ladders(rule: AlarmRule) -> list[ThresholdLadder]:
    options = {"deadband": rule.deadband, "on_delay": rule.on_delay, "off_delay": rule.off_delay}
    ladders = []
    if rule.high:
        ladders.append(ThresholdLadder.high([(r.level, r.at) for r in rule.high], **options))
    if rule.low:
        ladders.append(ThresholdLadder.low([(r.level, r.at) for r in rule.low], **options))
    return ladders


class AlarmEngine:
    """Feed it every :class:`PollOutcome`; it returns the events to publish."""

    def __init__(
        self, config: LoadedConfig, stamp: Callable[[], dict[str, Any]], offline_after: int = 2
    ):
        self._config = config
        self._stamp = stamp
        self._offline_after = offline_after
        self._station = config.station.station.id
        self._devices = {
            name: _DeviceState(
                name,
                [
                    _RuleState(rule_name, rule, _ladders(rule))
                    for rule_name, rule in config.rules[name].items()
                    if rule.enabled
                ],
            )
            for name in config.station.devices
        }

    def handle(self, outcome: PollOutcome) -> list[Envelope]:
        device = self._devices.get(outcome.device)
        if device is None:
            return []
        if outcome.fault is not None:
            return self._poll_failed(device, outcome, outcome.fault)
        device.failed_polls = 0
        read = {o.point: o.value for o in outcome.observations}
        # A poll may carry only some points (routine telemetry read less often than
        # alarm points): keep the others' last values, and judge only the rules
        # whose inputs this poll read. A point not read is not an all-clear.
        device.values.update(read)
        device_faults = self._device_reported_faults(device)
        events = self._set_health(
            device,
            DeviceHealth.FAULT if device_faults else DeviceHealth.OK,
            "; ".join(device_faults) or None,
            outcome.observed_at,
        )
        for state in device.rules:
            if _inputs(state.rule) & read.keys():
                events.extend(self._evaluate(device, state, outcome, frozen=bool(device_faults)))
        return events

    # -- device health ----------------------------------------------------------
    def _device_reported_faults(self, device: _DeviceState) -> list[str]:
        faults = self._config.profile_of(device.name).faults
        return [reason for flag, reason in faults.items() if device.values.get(flag)]

    def _poll_failed(
        self, device: _DeviceState, outcome: PollOutcome, fault: Fault
    ) -> list[Envelope]:
        device.failed_polls += 1
        if device.failed_polls < self._offline_after:
            return []
        health = (
            DeviceHealth.OFFLINE if fault.category.is_communication_loss else DeviceHealth.FAULT
        )
        return self._set_health(device, health, fault.reason, outcome.observed_at)

    def _set_health(
        self, device: _DeviceState, health: DeviceHealth, reason: str | None, when: datetime
    ) -> list[Envelope]:
        if (health, reason) == (device.health, device.reason):
            return []
        device.health, device.reason = health, reason
        events: list[Envelope] = [
            DeviceStatusEvent(
                device=device.name, status=health, reason=reason, since=when, **self._stamp()
            )
        ]
        grade = None if health is DeviceHealth.OK else Grade.FAULT
        events.extend(self._fault_alarm(device, grade, reason, when))
        return events

    def _fault_alarm(
        self, device: _DeviceState, grade: Grade | None, reason: str | None, when: datetime
    ) -> list[Envelope]:
        previous = device.fault_alarm
        if (previous is None) == (grade is None):
            return []
        stamp = self._stamp()
        if grade is not None:
            device.fault_alarm = _ActiveAlarm(stamp["id"], grade, when)
            transition, text = Transition.RAISED, f"{device.name}: {reason}"
        else:
            device.fault_alarm = None
            transition, text = Transition.CLEARED, f"{device.name}: back to normal"
        active = device.fault_alarm or previous
        assert active is not None
        return [
            self._alarm_event(
                stamp,
                device.name,
                key="fault",
                kind="device_fault",
                active=active,
                transition=transition,
                condition=COMM_CONDITION
                if device.health is DeviceHealth.OFFLINE
                else DEVICE_CONDITION,
                point=None,
                observed_at=when,
                message=text,
            )
        ]

    # -- alarm rules --------------------------------------------------------------
    def _evaluate(
        self, device: _DeviceState, state: _RuleState, outcome: PollOutcome, frozen: bool
    ) -> list[Envelope]:
        rule = state.rule
        grade, condition, threshold = None, "", None
        crossings: list[Crossing] = []
        value = device.values.get(rule.point) if rule.point else None
        if isinstance(value, int | float) and not isinstance(value, bool) and not frozen:
            crossings = [
                c
                for ladder in state.ladders
                if (c := ladder.update(value, outcome.received_monotonic))
            ]
        elif frozen:
            crossings = [c for ladder in state.ladders if (c := ladder.crossing)]
        for crossing in crossings:
            if grade is None or crossing.level.rank > grade.rank:
                grade, condition, threshold = crossing.level, crossing.name, crossing.threshold
        for bit, bit_grade in rule.device_bits.items():
            if device.values.get(bit) and (grade is None or bit_grade.rank >= grade.rank):
                grade, condition, threshold = bit_grade, DEVICE_CONDITION, None
        previous = state.active
        if previous is None and grade is None:
            return []
        if previous is not None and grade == previous.grade:
            return []
        stamp = self._stamp()
        unit = self._config.profile_of(device.name).units().get(rule.point or "")
        if previous is None:
            assert grade is not None
            state.active = _ActiveAlarm(stamp["id"], grade, outcome.observed_at)
            transition = Transition.RAISED
        elif grade is None:
            state.active = None
            transition = Transition.CLEARED
        else:
            state.active = _ActiveAlarm(previous.first_id, grade, previous.raised_at)
            transition = Transition.LEVEL_CHANGED
        active = state.active or previous
        assert active is not None
        described = (
            f"{value:g} {unit or ''}".strip() if isinstance(value, float) else "device alarm"
        )
        verb = {"raised": "alarm", "level_changed": "now", "cleared": "back to normal"}[transition]
        return [
            self._alarm_event(
                stamp,
                device.name,
                key=state.name,
                kind=rule.kind,
                active=active,
                transition=transition,
                condition=condition or "NORMAL",
                point=rule.point,
                observed_at=outcome.observed_at,
                value=value,
                unit=unit,
                threshold=threshold,
                message=f"{device.name} {state.name} {verb}: {described}",
            )
        ]

    def _alarm_event(
        self,
        stamp: dict[str, Any],
        device: str,
        *,
        key: str,
        kind: str,
        active: _ActiveAlarm,
        transition: Transition,
        condition: str,
        point: str | None,
        observed_at: datetime,
        message: str,
        value: float | bool | None = None,
        unit: str | None = None,
        threshold: float | None = None,
    ) -> AlarmEvent:
        config = self._config.station.devices[device]
        cleared = transition is Transition.CLEARED
        return AlarmEvent(
            alarm_key=f"{self._station}.{device}.{key}",
            first_id=active.first_id,
            transition=transition,
            kind=kind,
            level=DEFAULT_COLOURS[active.grade],
            grade=active.grade,
            condition=condition,
            state=AlarmState.CLEARED_UNACK if cleared else AlarmState.ACTIVE_UNACK,
            source=AlarmSource(
                device=device,
                point=point,
                bus=config.bus,
                unit=config.unit,
                profile=config.profile,
                location=config.location,
            ),
            value=value,
            unit=unit,
            threshold=threshold,
            observed_at=observed_at,
            raised_at=active.raised_at,
            message=message,
            **stamp,
        )

    def active_alarms(self) -> list[str]:
        """Keys of the alarms that are active now."""
        keys = []
        for device in self._devices.values():
            if device.fault_alarm:
                keys.append(f"{self._station}.{device.name}.fault")
            keys.extend(f"{self._station}.{device.name}.{s.name}" for s in device.rules if s.active)
        return keys
