"""The alarm engine: one place where poll outcomes become alarm and status events.

For every alarm rule of every device it keeps one alarm with an ISA-18.2
lifecycle: raised (active, unacknowledged), acknowledged, cleared (returned
to normal, unacknowledged until someone acknowledges it). Every transition is
one event referring to the event that raised the alarm (``first_id``).
Device health (ok, fault, offline) is tracked per device, published as a
retained device status, and raised as a ``device_fault`` alarm while not ok.

Precedence, so that a true event is never hidden:
- a device's own alarm bits raise at once, whatever the value and delays say;
- while the device reports its own fault, the gateway's thresholds on its
  values are frozen: a faulty reading neither raises nor clears;
- a device that stops answering keeps its alarms as they were (no data is
  not an all-clear);
- a latched alarm stays active after its condition clears, until a reset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from drivers.observation import Fault, PollOutcome
from gateway.alarms.thresholds import Crossing, ThresholdLadder
from gateway.config import LoadedConfig
from gateway.config.profiles import AlarmRule
from gateway.events import (
    ActiveAlarm,
    AlarmEvent,
    AlarmSource,
    AlarmState,
    DeviceHealth,
    DeviceStatusEvent,
    Envelope,
    EventStatus,
    Transition,
    utc_now,
)
from gateway.levels import DEFAULT_COLOURS, Grade

DEVICE_CONDITION = "DEVICE"
COMM_CONDITION = "COMM"
NORMAL_CONDITION = "NORMAL"
FAULT_ALARM = "fault"


class CommandRefused(Exception):
    """An operator's request the engine cannot carry out; the message says why."""


@dataclass
class _Alarm:
    """One occurrence of an alarm, from raise until it is cleared and acknowledged."""

    grade: Grade
    last: AlarmEvent | None = None  # the latest event published for it
    active: bool = True
    acknowledged_by: str | None = None
    shelved_until: datetime | None = None

    @property
    def state(self) -> AlarmState:
        if self.active:
            return AlarmState.ACTIVE_ACK if self.acknowledged_by else AlarmState.ACTIVE_UNACK
        return AlarmState.CLEARED if self.acknowledged_by else AlarmState.CLEARED_UNACK


@dataclass
class _Condition:
    """One alarm condition of one device: a profile rule, or the device's own health."""

    key: str
    device: str
    name: str
    kind: str
    rule: AlarmRule | None
    ladders: list[ThresholdLadder] = field(default_factory=list)
    alarm: _Alarm | None = None

    @property
    def latched(self) -> bool:
        return bool(self.rule and self.rule.latched)


@dataclass
class _Device:
    name: str
    conditions: list[_Condition]
    health_condition: _Condition
    health: DeviceHealth | None = None  # unknown until the first poll
    reason: str | None = None
    failed_polls: int = 0
    values: dict[str, float | bool] = field(default_factory=dict)


def _ladders(rule: AlarmRule) -> list[ThresholdLadder]:
    options = {"deadband": rule.deadband, "on_delay": rule.on_delay, "off_delay": rule.off_delay}
    ladders = []
    if rule.high:
        ladders.append(ThresholdLadder.high([(r.level, r.at) for r in rule.high], **options))
    if rule.low:
        ladders.append(ThresholdLadder.low([(r.level, r.at) for r in rule.low], **options))
    return ladders


class AlarmEngine:
    """Feed it poll outcomes and operators' requests; it returns the events to publish."""

    def __init__(self, config: LoadedConfig, stamp: Callable[[], dict[str, Any]], offline_after: int = 2):
        self._config = config
        self._stamp = stamp
        self._offline_after = offline_after
        self._station = config.station.station.id
        self._exercise_station = False
        self._exercise_devices: set[str] = set()
        self._devices: dict[str, _Device] = {}
        self._by_key: dict[str, _Condition] = {}
        for name in config.station.devices:
            conditions = [
                _Condition(self._key(name, rule_name), name, rule_name, rule.kind, rule, _ladders(rule))
                for rule_name, rule in config.rules[name].items()
                if rule.enabled
            ]
            health = _Condition(self._key(name, FAULT_ALARM), name, FAULT_ALARM, "device_fault", None)
            self._devices[name] = _Device(name, conditions, health)
            self._by_key.update((c.key, c) for c in [*conditions, health])

    def _key(self, device: str, name: str) -> str:
        return f"{self._station}.{device}.{name}"

    # -- observations -------------------------------------------------------------
    def handle(self, outcome: PollOutcome) -> list[Envelope]:
        device = self._devices.get(outcome.device)
        if device is None:
            return []
        if outcome.fault is not None:
            return self._poll_failed(device, outcome, outcome.fault)
        device.failed_polls = 0
        device.values = {o.point: o.value for o in outcome.observations}
        device_faults = self._device_reported_faults(device)
        events = self._set_health(
            device,
            DeviceHealth.FAULT if device_faults else DeviceHealth.OK,
            "; ".join(device_faults) or None,
            outcome.observed_at,
        )
        for condition in device.conditions:
            events.extend(self._evaluate(device, condition, outcome, frozen=bool(device_faults)))
        return events

    def _device_reported_faults(self, device: _Device) -> list[str]:
        faults = self._config.profile_of(device.name).faults
        return [reason for flag, reason in faults.items() if device.values.get(flag)]

    def _poll_failed(self, device: _Device, outcome: PollOutcome, fault: Fault) -> list[Envelope]:
        device.failed_polls += 1
        if device.failed_polls < self._offline_after:
            return []
        health = DeviceHealth.OFFLINE if fault.category.is_communication_loss else DeviceHealth.FAULT
        return self._set_health(device, health, fault.reason, outcome.observed_at)

    def _set_health(
        self, device: _Device, health: DeviceHealth, reason: str | None, when: datetime
    ) -> list[Envelope]:
        if (health, reason) == (device.health, device.reason):
            return []
        first_report = device.health is None
        device.health, device.reason = health, reason
        events: list[Envelope] = [
            DeviceStatusEvent(device=device.name, status=health, reason=reason, since=when, **self._stamp())
        ]
        if first_report and health is DeviceHealth.OK:
            return events
        ok = health is DeviceHealth.OK
        events.extend(
            self._update(
                device.health_condition,
                grade=None if ok else Grade.FAULT,
                condition=COMM_CONDITION if health is DeviceHealth.OFFLINE else DEVICE_CONDITION,
                observed_at=when,
                text=f"{device.name}: back to normal" if ok else f"{device.name}: {reason}",
            )
        )
        return events

    def _evaluate(
        self, device: _Device, target: _Condition, outcome: PollOutcome, frozen: bool
    ) -> list[Envelope]:
        rule = target.rule
        assert rule is not None
        grade, condition, threshold = None, "", None
        value = device.values.get(rule.point) if rule.point else None
        crossings: list[Crossing] = []
        if frozen:
            crossings = [c for ladder in target.ladders if (c := ladder.crossing)]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            now = outcome.received_monotonic
            crossings = [c for ladder in target.ladders if (c := ladder.update(value, now))]
        for crossing in crossings:
            if grade is None or crossing.level.rank > grade.rank:
                grade, condition, threshold = crossing.level, crossing.name, crossing.threshold
        for bit, bit_grade in rule.device_bits.items():
            if device.values.get(bit) and (grade is None or bit_grade.rank >= grade.rank):
                grade, condition, threshold = bit_grade, DEVICE_CONDITION, None
        unit = self._config.profile_of(device.name).units().get(rule.point or "")
        described = f"{value:g} {unit or ''}".strip() if isinstance(value, float) else "device alarm"
        return self._update(
            target,
            grade=grade,
            condition=condition,
            observed_at=outcome.observed_at,
            text=f"{device.name} {target.name}: {described}",
            point=rule.point,
            value=value,
            unit=unit,
            threshold=threshold,
        )

    def _update(
        self,
        target: _Condition,
        *,
        grade: Grade | None,
        condition: str,
        observed_at: datetime,
        text: str,
        **measurement: Any,
    ) -> list[Envelope]:
        """Move one alarm to ``grade`` (None: its condition is normal) and say so."""
        alarm = target.alarm
        if grade is None:
            if alarm is None or not alarm.active or target.latched:
                return []
            alarm.active = False
            event = self._new_event(
                target, Transition.CLEARED, NORMAL_CONDITION, observed_at, text, **measurement
            )
            if alarm.acknowledged_by:
                target.alarm = None
            return [event]
        if alarm is None or not alarm.active:
            target.alarm = _Alarm(grade)
            return [self._new_event(target, Transition.RAISED, condition, observed_at, text, **measurement)]
        if grade == alarm.grade:
            return []
        if grade.rank > alarm.grade.rank:
            alarm.acknowledged_by = None  # an escalation needs a fresh acknowledgement
        alarm.grade = grade
        return [
            self._new_event(target, Transition.LEVEL_CHANGED, condition, observed_at, text, **measurement)
        ]

    def _status(self, device: str) -> EventStatus:
        exercise = self._exercise_station or device in self._exercise_devices
        return EventStatus.EXERCISE if exercise else EventStatus.ACTUAL

    def _new_event(
        self,
        target: _Condition,
        transition: Transition,
        condition: str,
        observed_at: datetime,
        text: str,
        *,
        point: str | None = None,
        value: float | bool | None = None,
        unit: str | None = None,
        threshold: float | None = None,
    ) -> AlarmEvent:
        alarm = target.alarm
        assert alarm is not None
        stamp = self._stamp()
        device = self._config.station.devices[target.device]
        first = alarm.last
        event = AlarmEvent(
            alarm_key=target.key,
            first_id=first.first_id if first else stamp["id"],
            transition=transition,
            kind=target.kind,
            level=DEFAULT_COLOURS[alarm.grade],
            grade=alarm.grade,
            condition=condition,
            state=alarm.state,
            status=self._status(target.device),
            shelved=alarm.shelved_until is not None,
            shelved_until=alarm.shelved_until,
            latched=target.latched,
            acknowledged_by=alarm.acknowledged_by,
            source=AlarmSource(
                device=target.device,
                point=point,
                bus=device.bus,
                unit=device.unit,
                profile=device.profile,
                location=device.location,
            ),
            value=value,
            unit=unit,
            threshold=threshold,
            observed_at=observed_at,
            raised_at=first.raised_at if first else observed_at,
            message=text,
            **stamp,
        )
        alarm.last = event
        return event

    def _restamped(self, target: _Condition, transition: Transition, text: str) -> AlarmEvent:
        """The alarm's latest event again, as of now, for an operator's action on it."""
        alarm = target.alarm
        assert alarm is not None
        assert alarm.last is not None
        event = alarm.last.model_copy(
            update={
                **self._stamp(),
                "transition": transition,
                "state": alarm.state,
                "status": self._status(target.device),
                "shelved": alarm.shelved_until is not None,
                "shelved_until": alarm.shelved_until,
                "acknowledged_by": alarm.acknowledged_by,
                "message": text,
            }
        )
        alarm.last = event
        return event

    # -- operators' requests --------------------------------------------------------
    def _target(self, key: str) -> _Condition:
        target = self._by_key.get(key)
        if target is None:
            raise CommandRefused(f"no alarm {key!r} at this station")
        if target.alarm is None:
            raise CommandRefused(f"{key} is not in alarm")
        return target

    def acknowledge(self, key: str, by: str) -> list[Envelope]:
        target = self._target(key)
        alarm = target.alarm
        assert alarm is not None
        if alarm.acknowledged_by:
            raise CommandRefused(f"{key} is already acknowledged by {alarm.acknowledged_by}")
        alarm.acknowledged_by = by
        event = self._restamped(target, Transition.ACKNOWLEDGED, f"{key} acknowledged by {by}")
        if not alarm.active:
            target.alarm = None  # cleared and acknowledged: back to normal
        return [event]

    def shelve(self, key: str, seconds: float, by: str) -> list[Envelope]:
        target = self._target(key)
        alarm = target.alarm
        assert alarm is not None
        alarm.shelved_until = utc_now() + timedelta(seconds=seconds)
        text = f"{key} shelved by {by} for {seconds / 60:g} min"
        return [self._restamped(target, Transition.SHELVED, text)]

    def unshelve(self, key: str, by: str) -> list[Envelope]:
        target = self._target(key)
        alarm = target.alarm
        assert alarm is not None
        if alarm.shelved_until is None:
            raise CommandRefused(f"{key} is not shelved")
        alarm.shelved_until = None
        return [self._restamped(target, Transition.UNSHELVED, f"{key} unshelved by {by}")]

    def reset(self, key: str, by: str) -> list[Envelope]:
        """Release a latched alarm; it clears if its condition is gone, else stays active."""
        target = self._target(key)
        alarm = target.alarm
        assert alarm is not None
        if not target.latched:
            raise CommandRefused(f"{key} is not a latched alarm")
        if not self._still_present(target):
            alarm.active = False
        event = self._restamped(target, Transition.RESET, f"{key} reset by {by}")
        if not alarm.active and alarm.acknowledged_by:
            target.alarm = None
        return [event]

    def _still_present(self, target: _Condition) -> bool:
        rule = target.rule
        assert rule is not None
        values = self._devices[target.device].values
        bits = any(values.get(bit) for bit in rule.device_bits)
        return bits or any(ladder.crossing for ladder in target.ladders)

    def set_exercise(self, on: bool, device: str | None = None) -> None:
        """Mark events of the station (or one device) as an exercise, or as real again."""
        if device is None:
            self._exercise_station = on
            return
        if device not in self._devices:
            raise CommandRefused(f"no device {device!r} at this station")
        if on:
            self._exercise_devices.add(device)
        else:
            self._exercise_devices.discard(device)

    @property
    def exercise(self) -> bool:
        return self._exercise_station or bool(self._exercise_devices)

    def tick(self, now: datetime | None = None) -> list[Envelope]:
        """Expire shelving (it always ends); call about once a second."""
        now = now or utc_now()
        events: list[Envelope] = []
        for target in self._by_key.values():
            alarm = target.alarm
            if alarm and alarm.shelved_until and alarm.shelved_until <= now:
                alarm.shelved_until = None
                events.append(self._restamped(target, Transition.UNSHELVED, f"{target.key} shelving expired"))
        return events

    # -- views --------------------------------------------------------------------
    def active_alarms(self) -> list[ActiveAlarm]:
        """Every alarm not yet back to normal (active, or cleared but unacknowledged)."""
        alarms = []
        for target in self._by_key.values():
            alarm = target.alarm
            if alarm is None:
                continue
            last = alarm.last
            assert last is not None
            alarms.append(
                ActiveAlarm(
                    alarm_key=target.key,
                    first_id=last.first_id,
                    kind=target.kind,
                    level=DEFAULT_COLOURS[alarm.grade],
                    grade=alarm.grade,
                    state=alarm.state,
                    status=last.status,
                    shelved=alarm.shelved_until is not None,
                    raised_at=last.raised_at,
                    device=target.device,
                    location=last.source.location,
                    message=last.message,
                )
            )
        return alarms

    def device_health(self) -> dict[str, tuple[DeviceHealth | None, str | None]]:
        return {name: (d.health, d.reason) for name, d in self._devices.items()}
