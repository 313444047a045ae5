"""The alarm engine: one place where poll outcomes become alarm and status events.

For every alarm rule of every device, every zone and the station's flood
summary it keeps one alarm condition with an ISA-18.2 lifecycle
(:mod:`gateway.alarms.lifecycle`). Every transition is one event referring to
the event that raised the alarm (``first_id``). Device health (ok, degraded,
fault, offline) is tracked per device, published as a retained device status,
and raised as a ``device_fault`` alarm while not ok. The status is published
on every change of health; a new reason within the same health at most once
per poll interval, so a wavering outage does not flap the retained message.

Precedence, so that a true event is never hidden:
- a device's own alarm bits raise at once, whatever the value, the delays
  and the sensor's warm-up say;
- while the device reports its own fault, or a reading is implausible, the
  gateway's thresholds on it are frozen: a faulty reading neither raises nor
  clears;
- a device that stops answering keeps its alarms as they were (no data is
  not an all-clear);
- a latched alarm stays active after its condition clears, until a reset;
- nuisance control delays clears and summarises low grades, never drops an
  alarm: the active-alarm snapshot always lists every alarm.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from drivers.observation import Fault, PollOutcome
from gateway.alarms.cap import cap_fields
from gateway.alarms.conditions import (
    COMM_CONDITION,
    CONFIRMED_CONDITION,
    DEVICE_CONDITION,
    FAULT_ALARM,
    FLOOD_CONDITION,
    FLOOD_KIND,
    IMPLAUSIBLE_CONDITION,
    NORMAL_CONDITION,
    RATE_CONDITION,
    STATION_SOURCE,
    Condition,
    DeviceState,
    ladders_of,
    number,
)
from gateway.alarms.lifecycle import Alarm
from gateway.alarms.nuisance import ChatterTracker, FloodGate
from gateway.alarms.plausibility import PlausibilityCheck, Verdict
from gateway.alarms.rate import RateOfRiseDetector
from gateway.alarms.store import AlarmStore
from gateway.alarms.zones import confirmed, confirming_devices
from gateway.config import LoadedConfig
from gateway.config.profiles import AlarmRule
from gateway.contract.events import (
    ActiveAlarm,
    AlarmEvent,
    AlarmSource,
    DeviceHealth,
    DeviceStatusEvent,
    Envelope,
    EventStatus,
    RadioDetails,
    Transition,
    utc_now,
)
from gateway.contract.levels import (
    Grade,
)


class CommandRefused(Exception):
    """An operator's request the engine cannot carry out; the message says why."""


class AlarmEngine:
    """Feed it poll outcomes and operators' requests; it returns the events to publish."""

    def __init__(
        self,
        config: LoadedConfig,
        stamp: Callable[[], dict[str, Any]],
        offline_after: int = 2,
        store: AlarmStore | None = None,
    ):
        self._config = config
        self._policy = config.station.alarm_policy
        self._stamp = stamp
        self._offline_after = offline_after
        self._store = store
        self._dirty = False
        self._station = config.station.station.id
        self._exercise_station = config.station.exercise
        self._exercise_devices = {n for n, d in config.station.devices.items() if d.exercise}
        self._devices: dict[str, DeviceState] = {}
        self._by_key: dict[str, Condition] = {}
        self._flood = FloodGate(self._policy.flood)
        self.counts: Counter[str] = Counter()  # every transition since start, for the reports
        for name in config.station.devices:
            conditions = [
                self._rule_condition(name, rule_name, rule)
                for rule_name, rule in config.rules[name].items()
                if rule.enabled
            ]
            chatter = ChatterTracker(self._policy.chatter)  # a flapping connection chatters too
            health = self._add(
                Condition(self._key(name, FAULT_ALARM), name, FAULT_ALARM, "device_fault", chatter=chatter)
            )
            checks = {
                rule.point: PlausibilityCheck(rule.point, rule.plausible)
                for rule in config.rules[name].values()
                if rule.point and rule.plausible
            }
            self._devices[name] = DeviceState(name, conditions, health, plausibility=checks)
        self._zones = [
            self._add(
                Condition(
                    self._key(f"zone-{zone_name}", "confirmed"),
                    f"zone-{zone_name}",
                    "confirmed",
                    "fire_confirmed",
                    zone=zone,
                )
            )
            for zone_name, zone in config.station.zones.items()
        ]
        self._flood_condition = self._add(
            Condition(self._key(STATION_SOURCE, "flood"), STATION_SOURCE, "flood", FLOOD_KIND)
        )
        if store is not None:
            self._restore(store.load())

    def _add(self, condition: Condition) -> Condition:
        self._by_key[condition.key] = condition
        return condition

    def _rule_condition(self, device: str, name: str, rule: AlarmRule) -> Condition:
        return self._add(
            Condition(
                self._key(device, name),
                device,
                name,
                rule.kind,
                rule,
                ladders=ladders_of(rule),
                rate=RateOfRiseDetector(rule.rate_of_rise) if rule.rate_of_rise else None,
                chatter=ChatterTracker(self._policy.chatter),
            )
        )

    def _key(self, device: str, name: str) -> str:
        return f"{self._station}.{device}.{name}"

    # -- persistence ----------------------------------------------------------------
    def _restore(self, state: dict[str, Any]) -> None:
        for key, saved in state.get("alarms", {}).items():
            alarm = Alarm.from_dict(saved)
            target = self._by_key.get(key)
            if target is None and saved.get("external"):
                target = self._external_condition(key, alarm)
            if target is not None:
                target.restore(alarm)
        exercise = state.get("exercise", {})
        self._exercise_station = exercise.get("station", self._exercise_station)
        self._exercise_devices |= set(exercise.get("devices", [])) & set(self._devices)

    def _external_condition(self, key: str, alarm: Alarm) -> Condition | None:
        """The condition of a saved alarm that came from outside the engine (a radio press, a link)."""
        last = alarm.last
        if last is None:
            return None
        name = key.removeprefix(f"{self._station}.{last.source.device}.")
        return self._add(
            Condition(
                key,
                last.source.device,
                name,
                last.kind,
                external=last.source,
                latch=last.latched,
                radio=last.radio,
            )
        )

    def save(self) -> None:
        """Write the alarm state if it changed; call once the events are safely in the outbox."""
        if self._store is None or not self._dirty:
            return
        alarms = {
            key: {**c.alarm.to_dict(), "external": c.external is not None}
            for key, c in self._by_key.items()
            if c.alarm is not None
        }
        exercise = {"station": self._exercise_station, "devices": sorted(self._exercise_devices)}
        self._store.save({"alarms": alarms, "exercise": exercise})
        self._dirty = False

    # -- observations -------------------------------------------------------------
    def handle(self, outcome: PollOutcome) -> list[Envelope]:
        device = self._devices.get(outcome.device)
        if device is None:
            return []
        now = outcome.received_monotonic
        if outcome.fault is not None:
            events = self._poll_failed(device, outcome, outcome.fault)
        else:
            events = self._poll_answered(device, outcome)
        events.extend(self._evaluate_zones(outcome.observed_at, now))
        return self._through_flood_gate(events, outcome.observed_at, now)

    def _poll_answered(self, device: DeviceState, outcome: PollOutcome) -> list[Envelope]:
        now = outcome.received_monotonic
        if device.warming_since is None or device.health is DeviceHealth.OFFLINE:
            device.warming_since = now  # a device back from the dead may have restarted
        device.failed_polls = 0
        read = {o.point: o.value for o in outcome.observations}
        # A poll may carry only some points (routine telemetry is read less often than
        # alarm points): keep the others' last values and verdicts, and judge only the
        # rules whose inputs this poll read. A point not read is not an all-clear.
        device.values.update(read)
        test_flag = self._config.profile_of(device.name).test_flag
        device.testing = bool(test_flag and device.values.get(test_flag))
        for point in device.plausibility.keys() & read.keys():
            device.verdicts[point] = self._plausibility(device, point, now)
        reported = self._device_reported_faults(device)
        implausible = [v.fault for v in device.verdicts.values() if v.fault]
        health, reasons = (
            DeviceHealth.FAULT if reported or implausible else DeviceHealth.OK,
            reported + implausible,
        )
        if health is DeviceHealth.OK and outcome.degraded is not None:
            health, reasons = DeviceHealth.DEGRADED, [outcome.degraded.reason]
        events = self._set_health(
            device,
            health,
            "; ".join(reasons) or None,
            outcome.observed_at,
            now,
            DEVICE_CONDITION if reported else IMPLAUSIBLE_CONDITION,
        )
        for condition in device.conditions:
            rule = condition.rule
            if rule is not None and not (rule.inputs() & read.keys()):
                continue  # a poll that did not read this rule's points says nothing about it
            point = rule.point if rule else None
            frozen = bool(reported) or (point in device.verdicts and not device.verdicts[point].usable)
            events.extend(self._evaluate(device, condition, outcome, frozen))
        return events

    def _plausibility(self, device: DeviceState, point: str, now: float) -> Verdict:
        """One verdict per point, shared by every rule on it (a spike fools none of them)."""
        value = number(device.values.get(point))
        return Verdict(True, None) if value is None else device.plausibility[point].check(value, now)

    def _device_reported_faults(self, device: DeviceState) -> list[str]:
        faults = self._config.profile_of(device.name).faults
        return [reason for flag, reason in faults.items() if device.values.get(flag)]

    def _poll_failed(self, device: DeviceState, outcome: PollOutcome, fault: Fault) -> list[Envelope]:
        device.failed_polls += 1
        if device.failed_polls < self._offline_after:
            return []
        lost = fault.category.is_communication_loss
        health = DeviceHealth.OFFLINE if lost else DeviceHealth.FAULT
        condition = COMM_CONDITION if lost else DEVICE_CONDITION
        when, now = outcome.observed_at, outcome.received_monotonic
        return self._set_health(device, health, fault.reason, when, now, condition)

    def _set_health(
        self,
        device: DeviceState,
        health: DeviceHealth,
        reason: str | None,
        when: datetime,
        now: float,
        condition: str = DEVICE_CONDITION,
    ) -> list[Envelope]:
        if (health, reason) == (device.health, device.reason):
            return []
        interval = self._config.station.devices[device.name].poll_interval
        if health == device.health and now - device.status_published_at < interval:
            return []  # the same state for a new reason: said at most once per poll interval
        device.health, device.reason, device.status_published_at = health, reason, now
        events: list[Envelope] = [
            DeviceStatusEvent(device=device.name, status=health, reason=reason, since=when, **self._stamp())
        ]
        ok = health is DeviceHealth.OK
        events.extend(
            self._update(
                device.health_condition,
                grade=None if ok else Grade.FAULT,
                condition=condition,
                observed_at=when,
                now=now,
                text=f"{device.name}: back to normal" if ok else f"{device.name}: {reason}",
            )
        )
        return events

    def _evaluate(
        self, device: DeviceState, target: Condition, outcome: PollOutcome, frozen: bool
    ) -> list[Envelope]:
        rule = target.rule
        assert rule is not None
        now = outcome.received_monotonic
        raw = device.values.get(rule.point) if rule.point else None
        value = number(raw)
        warming = device.warming_since is not None and now - device.warming_since < rule.warmup
        judged = None if frozen or warming else value  # the gateway's own thresholds wait
        if judged is not None:
            for ladder in target.ladders:
                ladder.update(judged, now)
            if target.rate is not None:
                target.rate.update(judged, now)  # unknown until a whole window: keeps its state
        candidates = [(c.level, c.name, c.threshold) for ladder in target.ladders if (c := ladder.crossing)]
        if target.rate is not None and target.rate.active:
            candidates.append((target.rate.spec.level, RATE_CONDITION, target.rate.spec.rise))
        grade, condition, threshold = None, "", None
        for level, name, at in candidates:
            if grade is None or level.rank > grade.rank:
                grade, condition, threshold = level, name, at
        for bit, bit_grade in rule.device_bits.items():
            if device.values.get(bit) and (grade is None or bit_grade.rank >= grade.rank):
                grade, condition, threshold = bit_grade, DEVICE_CONDITION, None
        unit = self._config.profile_of(device.name).units().get(rule.point or "")
        described = f"{value:g} {unit or ''}".strip() if value is not None else "device alarm"
        if condition == RATE_CONDITION and target.rate is not None:
            described += f", rising {target.rate.rise():g} {unit or ''} within {target.rate.spec.window:g} s"
        return self._update(
            target,
            grade=grade,
            condition=condition,
            observed_at=outcome.observed_at,
            now=now,
            text=f"{device.name} {target.name}: {described}",
            point=rule.point,
            value=raw,
            unit=unit,
            threshold=threshold,
        )

    def _evaluate_zones(self, observed_at: datetime, now: float) -> list[Envelope]:
        alarmed = {
            c.device: c.alarm.grade
            for d in self._devices.values()
            for c in d.conditions
            if c.alarm is not None and c.alarm.active
        }
        events: list[Envelope] = []
        for target in self._zones:
            assert target.zone is not None
            agreeing = confirming_devices(target.zone, alarmed)
            is_confirmed = confirmed(target.zone, alarmed)
            text = (
                f"{target.device}: confirmed by {', '.join(agreeing)}"
                if is_confirmed
                else f"{target.device}: no longer confirmed"
            )
            events.extend(
                self._update(
                    target,
                    grade=target.zone.grade if is_confirmed else None,
                    condition=CONFIRMED_CONDITION,
                    observed_at=observed_at,
                    now=now,
                    text=text,
                )
            )
        return events

    def _through_flood_gate(
        self, events: list[Envelope], observed_at: datetime, now: float
    ) -> list[Envelope]:
        """During a flood, hold back the lower grades and count them in the flood alarm."""
        flood = self._flood
        flooding = flood.flooding(now)
        summary = self._flood_condition
        passed: list[Envelope] = []
        if flooding and (summary.alarm is None or not summary.alarm.active):
            flood.held = 0
            policy = self._policy.flood
            text = (
                f"alarm flood: more than {policy.count} alarms within {policy.window / 60:g} min; "
                f"{policy.summarise_up_to} and below summarised"
            )
            passed += self._update(
                summary,
                grade=Grade.FIRST_STAGE,
                condition=FLOOD_CONDITION,
                observed_at=observed_at,
                now=now,
                text=text,
            )
        for event in events:
            if not isinstance(event, AlarmEvent) or event.kind == FLOOD_KIND:
                passed.append(event)
                continue
            publish, late_raise = flood.admit(event, flooding)
            if late_raise is not None:
                passed.append(self._late(late_raise))
            if publish:
                passed.append(event)
        if not flooding and summary.alarm is not None and summary.alarm.active:
            passed += [self._late(e) for e in flood.release(self._still_active)]
            text = f"alarm flood over: {flood.held} lower-grade event(s) were summarised"
            passed += self._update(
                summary, grade=None, condition=FLOOD_CONDITION, observed_at=observed_at, now=now, text=text
            )
        return passed

    def _late(self, held: AlarmEvent) -> AlarmEvent:
        """A raise held back in a flood, going out now: a new message, marked historical."""
        return held.model_copy(update={**self._stamp(), "historical": True})

    def _still_active(self, key: str) -> bool:
        alarm = self._by_key[key].alarm
        return alarm is not None and alarm.active

    def _update(
        self,
        target: Condition,
        *,
        grade: Grade | None,
        condition: str,
        observed_at: datetime,
        now: float,
        text: str,
        **measurement: Any,
    ) -> list[Envelope]:
        """Move one alarm to ``grade`` (None: its condition is normal) and say so."""
        alarm = target.alarm
        if target.chatter is not None:
            target.chattering = target.chatter.chattering(now)
        if grade is None:
            if alarm is None or not alarm.active or target.latched:
                return []
            if target.chatter is not None and not target.chatter.may_clear(now):
                return []  # chattering: it must stay normal longer before it clears
            alarm.active = False
            event = self._new_event(
                target, Transition.CLEARED, NORMAL_CONDITION, observed_at, text, **measurement
            )
            if alarm.finished:
                target.alarm = None
            return [event]
        if target.chatter is not None:
            target.chatter.still_active()
        if alarm is None or not alarm.active:
            if target.chatter is not None:
                target.chatter.activated(now)
                target.chattering = target.chatter.chattering(now)
            if target.kind != FLOOD_KIND:
                self._flood.raised(now)
            target.alarm = Alarm(grade, annunciated_at=observed_at)
            return [self._new_event(target, Transition.RAISED, condition, observed_at, text, **measurement)]
        if grade == alarm.grade or (target.latched and grade.rank < alarm.grade.rank):
            return []
        if grade.rank > alarm.grade.rank:
            alarm.annunciated_at = observed_at
        alarm.escalate(grade)
        return [
            self._new_event(target, Transition.LEVEL_CHANGED, condition, observed_at, text, **measurement)
        ]

    def _status(self, target: Condition) -> EventStatus:
        if target.zone is not None:
            members = [self._devices[d] for d in target.zone.devices]
            statuses = {
                self._status(c)
                for d in members
                for c in d.conditions
                if c.alarm is not None and c.alarm.active
            }
            if not statuses or EventStatus.ACTUAL in statuses:
                return EventStatus.ACTUAL  # one real detector makes the confirmation real
            return sorted(statuses)[0]  # every agreeing detector is in a drill or a test
        device = self._devices.get(target.device)
        if device is not None and device.testing:
            return EventStatus.TEST
        if self._exercise_station or target.device in self._exercise_devices:
            return EventStatus.EXERCISE
        return EventStatus.ACTUAL

    def _source(self, target: Condition, point: str | None) -> AlarmSource:
        if target.external is not None:
            return target.external
        device = self._config.station.devices.get(target.device)
        if device is not None:
            return AlarmSource(
                device=target.device,
                point=point,
                bus=device.bus,
                unit=device.unit,
                profile=device.profile,
                location=device.location,
            )
        location = (target.zone.description if target.zone else "") or self._config.station.station.location
        return AlarmSource(device=target.device, point=None, bus="", profile="", location=location)

    def _flags(self, target: Condition, alarm: Alarm) -> dict[str, Any]:
        """The fields of an event that say how the alarm is being handled right now."""
        device = self._config.station.devices.get(target.device)
        suppressed_by = device.suppressed if device else None
        return {
            "state": alarm.state,
            "status": self._status(target),
            "shelved": alarm.shelved_until is not None,
            "shelved_until": alarm.shelved_until,
            "suppressed": suppressed_by is not None,
            "suppressed_by": suppressed_by,
            "chattering": target.chattering,
            "acknowledged_by": alarm.acknowledged_by,
        }

    def _new_event(
        self,
        target: Condition,
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
        first = alarm.last
        event = AlarmEvent(
            alarm_key=target.key,
            first_id=first.first_id if first else stamp["id"],
            transition=transition,
            kind=target.kind,
            level=self._policy.colour(alarm.grade),
            grade=alarm.grade,
            condition=condition,
            latched=target.latched,
            source=self._source(target, point),
            value=value,
            unit=unit,
            threshold=threshold,
            observed_at=observed_at,
            raised_at=first.raised_at if first else observed_at,
            message=text,
            cap=cap_fields(target.kind, target.category, alarm.grade, condition, alarm.active),
            radio=target.radio,
            **self._flags(target, alarm),
            **stamp,
        )
        return self._made(target, event)

    def _made(self, target: Condition, event: AlarmEvent) -> AlarmEvent:
        assert target.alarm is not None
        target.alarm.last = event
        self._dirty = True
        self.counts[event.transition.value] += 1
        if event.transition in (Transition.RAISED, Transition.LEVEL_CHANGED):
            self.counts[f"{event.transition.value}.{event.grade.value}"] += 1
        if event.status is not EventStatus.ACTUAL:
            self.counts[f"{event.transition.value}.{event.status.value}"] += 1
        return event

    def _restamped(self, target: Condition, transition: Transition, text: str) -> AlarmEvent:
        """The alarm's latest event again, as of now, for an operator's action on it."""
        alarm = target.alarm
        assert alarm is not None
        assert alarm.last is not None
        event = alarm.last.model_copy(
            update={
                **self._stamp(),
                "transition": transition,
                **self._flags(target, alarm),
                "cap": cap_fields(
                    target.kind, target.category, alarm.grade, alarm.last.condition, alarm.active
                ),
                "message": text,
                "radio": target.radio,
            }
        )
        return self._made(target, event)

    # -- alarms judged elsewhere ----------------------------------------------------
    def external(
        self,
        device: str,
        name: str,
        *,
        kind: str,
        grade: Grade | None,
        condition: str,
        text: str,
        source: AlarmSource,
        observed_at: datetime,
        now: float,
        latched: bool = False,
        radio: RadioDetails | None = None,
        repeat: bool = False,
    ) -> list[Envelope]:
        """An alarm whose condition another part of the gateway judges (a radio's press, a link).

        It lives in the same lifecycle as every other alarm: acknowledgement,
        shelving, latching until reset, the snapshot and the saved state. ``grade``
        None says the condition is normal again. ``repeat`` says the source asks
        for attention again (a radio pressed once more): an alarm already active
        is announced again (``realarmed``) and needs a fresh acknowledgement.
        """
        key = self._key(device, name)
        target = self._by_key.get(key)
        if target is None:
            target = self._add(Condition(key, device, name, kind, external=source, latch=latched))
        target.external, target.radio = source, radio or target.radio
        events = self._update(
            target, grade=grade, condition=condition, observed_at=observed_at, now=now, text=text
        )
        alarm = target.alarm
        if repeat and not events and alarm is not None and alarm.active:
            alarm.acknowledged_by = None
            alarm.annunciated_at = observed_at
            events = [self._restamped(target, Transition.REALARMED, text)]
        return self._through_flood_gate(events, observed_at, now)

    def note_repeat(self, device: str, name: str, radio: RadioDetails) -> None:
        """A copy of the latest press, merged: counted in the alarm, announced with its next event."""
        target = self._by_key.get(self._key(device, name))
        if target is not None and target.alarm is not None:
            target.radio = radio
            self._dirty = True

    def alarm_of(self, device: str, name: str) -> tuple[Alarm | None, RadioDetails | None]:
        """An external alarm's occurrence, and the radio details merged into it so far."""
        target = self._by_key.get(self._key(device, name))
        return (target.alarm, target.radio) if target is not None else (None, None)

    # -- operators' requests --------------------------------------------------------
    def _target(self, key: str) -> tuple[Condition, Alarm]:
        target = self._by_key.get(key)
        if target is None:
            raise CommandRefused(f"no alarm {key!r} at this station")
        if target.alarm is None:
            raise CommandRefused(f"{key} is not in alarm")
        return target, target.alarm

    def acknowledge(self, key: str, by: str) -> list[Envelope]:
        target, alarm = self._target(key)
        if alarm.acknowledged_by:
            raise CommandRefused(f"{key} is already acknowledged by {alarm.acknowledged_by}")
        alarm.acknowledged_by = by
        event = self._restamped(target, Transition.ACKNOWLEDGED, f"{key} acknowledged by {by}")
        if alarm.finished:
            target.alarm = None  # cleared and acknowledged: back to normal
        return [event]

    def shelve(self, key: str, seconds: float, by: str) -> list[Envelope]:
        target, alarm = self._target(key)
        alarm.shelved_until = utc_now() + timedelta(seconds=seconds)
        text = f"{key} shelved by {by} for {seconds / 60:g} min"
        return [self._restamped(target, Transition.SHELVED, text)]

    def unshelve(self, key: str, by: str) -> list[Envelope]:
        target, alarm = self._target(key)
        if alarm.shelved_until is None:
            raise CommandRefused(f"{key} is not shelved")
        alarm.shelved_until = None
        return [self._restamped(target, Transition.UNSHELVED, f"{key} unshelved by {by}")]

    def reset(self, key: str, by: str) -> list[Envelope]:
        """Release a latched alarm; it clears if its condition is gone, else stays active."""
        target, alarm = self._target(key)
        if not target.latched:
            raise CommandRefused(f"{key} is not a latched alarm")
        if not self._still_present(target):
            alarm.active = False
        event = self._restamped(target, Transition.RESET, f"{key} reset by {by}")
        if alarm.finished:
            target.alarm = None
        return [event]

    def _still_present(self, target: Condition) -> bool:
        rule = target.rule
        if rule is None:
            return False  # an external alarm (a radio press) is a moment, not a lasting condition
        values = self._devices[target.device].values
        bits = any(values.get(bit) for bit in rule.device_bits)
        rising = target.rate is not None and target.rate.active
        return bits or rising or any(ladder.crossing for ladder in target.ladders)

    def set_exercise(self, on: bool, device: str | None = None) -> None:
        """Mark events of the station (or one device) as an exercise, or as real again."""
        self._dirty = True
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

    def tick(self, now: datetime | None = None, monotonic: float | None = None) -> list[Envelope]:
        """Expire shelving, re-alarm what nobody acknowledged, end a flood; call about once a second."""
        now = now or utc_now()
        monotonic = time.monotonic() if monotonic is None else monotonic
        events: list[Envelope] = []
        realarm_after = timedelta(seconds=self._policy.realarm_after)
        for target in self._by_key.values():
            alarm = target.alarm
            if alarm is None:
                continue
            if alarm.shelved_until and alarm.shelved_until <= now:
                alarm.shelved_until = None
                events.append(self._restamped(target, Transition.UNSHELVED, f"{target.key} shelving expired"))
            due = alarm.annunciated_at is not None and now - alarm.annunciated_at >= realarm_after
            if (
                realarm_after
                and due
                and alarm.active
                and not alarm.acknowledged_by
                and alarm.shelved_until is None
                and alarm.grade.rank >= self._policy.realarm_from.rank
            ):
                alarm.annunciated_at = now
                text = f"{target.key} still unacknowledged: {alarm.last.message if alarm.last else ''}"
                events.append(self._restamped(target, Transition.REALARMED, text))
        return self._through_flood_gate(events, now, monotonic)

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
                    level=self._policy.colour(alarm.grade),
                    grade=alarm.grade,
                    state=alarm.state,
                    status=last.status,
                    shelved=alarm.shelved_until is not None,
                    suppressed=last.suppressed,
                    chattering=last.chattering,
                    raised_at=last.raised_at,
                    device=target.device,
                    location=last.source.location,
                    message=last.message,
                )
            )
        return alarms

    def device_health(self) -> dict[str, tuple[DeviceHealth | None, str | None]]:
        return {name: (d.health, d.reason) for name, d in self._devices.items()}
