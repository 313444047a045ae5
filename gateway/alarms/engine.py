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

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from drivers.observation import DeviceFault, PollOutcome
from gateway.alarms.clock import Clock
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
    TEST_ALARM,
    TEST_CONDITION,
    TEST_KIND,
    Condition,
    DeviceState,
    Exercise,
    ExternalCondition,
    FloodCondition,
    HealthCondition,
    Readings,
    RuleCondition,
    Seen,
    Suppression,
    TestCondition,
    ZoneCondition,
    ladders_of,
    number,
)
from gateway.alarms.detector_test import DetectorTest, LastTest, TestStep
from gateway.alarms.events import NO_MEASUREMENT, EventMaker, Measurement, Stamp
from gateway.alarms.lifecycle import Alarm
from gateway.alarms.nuisance import ChatterTracker, FloodGate
from gateway.alarms.plausibility import PlausibilityCheck, Verdict
from gateway.alarms.rate import RateOfRiseDetector
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
)
from gateway.contract.levels import Grade
from gateway.i18n import Translator

C = TypeVar("C", bound=Condition)

ALARM_ENTRY = "alarm/"  # a state entry per alarm occurrence: ``alarm/<alarm_key>``
EXERCISE_ENTRY = "exercise"
FLOOD_ENTRY = "flood"
TESTS_ENTRY = "tests"  # detectors' last tests
CHATTER_ENTRY = "chatter"  # activation windows, on the wall clock
SUPPRESSIONS_ENTRY = "suppressions"
OWN_ENTRIES = (EXERCISE_ENTRY, FLOOD_ENTRY, TESTS_ENTRY, CHATTER_ENTRY, SUPPRESSIONS_ENTRY)
# Any other entry belongs to a part that keeps its memory with the alarms (``radio/dedupe``, ...).


class CommandRefused(Exception):
    """An operator's request the engine cannot carry out; the message says why."""


class AlarmEngine:
    """Feed it poll outcomes and operators' requests; it returns the events to publish.

    Time is ``clock``'s alone (shelving ends, re-alarms, a flood's end), apart
    from the moments each observation or radio event carries itself.
    """

    def __init__(
        self,
        config: LoadedConfig,
        stamp: Stamp,
        *,
        clock: Clock,
        saved: Mapping[str, Any] | None = None,
    ):
        self._config = config
        self._policy = config.station.alarm_policy
        self._stamp = stamp
        # Every event message in the station's language; device names, keys and values as written.
        self.t = Translator(config.station.station.locale)
        self._events = EventMaker(self._policy, stamp, self.t)
        self._clock = clock
        self._changed: set[str] = set()  # state entries changed since the last take_state
        self._flood_version = 0  # the flood gate's version last taken
        self._unannounced = False  # an alarm changed without an event (held in a flood)
        self._station = config.station.station.id
        self._exercise = Exercise(
            config.station.exercise, {n for n, d in config.station.devices.items() if d.exercise}
        )
        self._devices: dict[str, DeviceState] = {}
        self._by_key: dict[str, Condition] = {}
        self._flood = FloodGate(self._policy.flood)
        self._suppressions: dict[str, Suppression] = {}  # by device: suppressed by a command
        self._kept: dict[str, Any] = {}  # other parts' entries (see :meth:`keep`), as JSON values
        self.counts: Counter[str] = Counter()  # every transition since start, for the reports
        for name in config.station.devices:
            profile = config.profile_of(name)
            readings = Readings(profile.test_flag)
            conditions = [
                self._rule_condition(name, rule_name, rule, readings)
                for rule_name, rule in config.rules[name].items()
                if rule.enabled
            ]
            health = self._add(
                HealthCondition(
                    key=self._key(name, FAULT_ALARM),
                    device=name,
                    name=FAULT_ALARM,
                    kind="device_fault",
                    source=self._device_source(name, None),
                    suppressed_by=self._suppressed_by(name),
                    chatter=ChatterTracker(self._policy.chatter),  # a flapping connection chatters too
                    readings=readings,
                )
            )
            checks = {
                rule.point: PlausibilityCheck(rule.point, rule.plausible, self.t)
                for rule in config.rules[name].values()
                if rule.point and rule.plausible
            }
            self._devices[name] = DeviceState(
                name,
                readings,
                conditions,
                health,
                profile.faults,
                plausibility=checks,
                test_condition=self._test_condition(name, readings) if profile.test_flag else None,
            )
        location = config.station.station.location
        self._zones = [
            self._add(
                ZoneCondition(
                    key=self._key(f"zone-{zone_name}", "confirmed"),
                    device=f"zone-{zone_name}",
                    name="confirmed",
                    kind="fire_confirmed",
                    source=self._station_source(f"zone-{zone_name}", zone.description or location),
                    suppressed_by=self._suppressed_by(f"zone-{zone_name}"),
                    zone=zone,
                    members=[c for d in zone.devices for c in self._devices[d].conditions],
                )
            )
            for zone_name, zone in config.station.zones.items()
        ]
        self._flood_condition = self._add(
            FloodCondition(
                key=self._key(STATION_SOURCE, "flood"),
                device=STATION_SOURCE,
                name="flood",
                kind=FLOOD_KIND,
                source=self._station_source(STATION_SOURCE, location),
                suppressed_by=self._suppressed_by(STATION_SOURCE),
            )
        )
        if saved:
            self.restore(saved)

    def _add(self, condition: C) -> C:
        self._by_key[condition.key] = condition
        return condition

    def _rule_condition(self, device: str, name: str, rule: AlarmRule, readings: Readings) -> RuleCondition:
        return self._add(
            RuleCondition(
                key=self._key(device, name),
                device=device,
                name=name,
                kind=rule.kind,
                source=self._device_source(device, rule.point),
                suppressed_by=self._suppressed_by(device),
                chatter=ChatterTracker(self._policy.chatter),
                readings=readings,
                rule=rule,
                ladders=ladders_of(rule, self._config.station.devices[device].poll_interval),
                rate=RateOfRiseDetector(rule.rate_of_rise) if rule.rate_of_rise else None,
                unit=self._config.profile_of(device).units().get(rule.point or ""),
                inputs=frozenset(rule.inputs()),
            )
        )

    def _test_condition(self, device: str, readings: Readings) -> TestCondition:
        """A detector's tests: the condition that announces them, and what follows them."""
        bits = {
            bit for rule in self._config.rules[device].values() if rule.enabled for bit in rule.device_bits
        }
        readings.test = DetectorTest(self._config.profile_of(device).test_alarm_within, frozenset(bits))
        return self._add(
            TestCondition(
                key=self._key(device, TEST_ALARM),
                device=device,
                name=TEST_ALARM,
                kind=TEST_KIND,
                source=self._device_source(device, self._config.profile_of(device).test_flag),
                suppressed_by=self._suppressed_by(device),
                readings=readings,
            )
        )

    def _key(self, device: str, name: str) -> str:
        return f"{self._station}.{device}.{name}"

    def _device_source(self, name: str, point: str | None) -> AlarmSource:
        device = self._config.station.devices[name]
        return AlarmSource(
            device=name,
            point=point,
            bus=device.bus,
            unit=device.unit,
            profile=device.profile,
            location=device.location,
        )

    @staticmethod
    def _station_source(name: str, location: str) -> AlarmSource:
        """Where an event of the station itself (a zone, the flood summary) comes from."""
        return AlarmSource(device=name, point=None, bus="", profile="", location=location)

    def _suppressed_by(self, name: str) -> str | None:
        device = self._config.station.devices.get(name)
        return device.suppressed if device else None

    # -- persistence ----------------------------------------------------------------
    def _wall_offset(self) -> float:
        """Unix time minus the monotonic clock, now: a monotonic moment plus this is its Unix time.

        Windows (chatter, flood) are saved on the wall clock to survive a restart;
        the offset is read once per entry, not once per moment in it.
        """
        return self._clock.now().timestamp() - self._clock.monotonic()

    def _from_wall(self, unix: float) -> float:
        return self._clock.monotonic() - (self._clock.now().timestamp() - unix)

    # The state is a flat mapping of entries (one per alarm occurrence, the exercise
    # marks, the flood gate, detector tests, chatter windows, suppressions, other parts'
    # memory), so a step that changes one alarm stores one entry. A state saved before
    # has only some.
    def restore(self, saved: Mapping[str, Any]) -> None:
        """Take back the state :meth:`state` gave (at start, or in a reload's new engine)."""
        self._kept |= {
            name: value
            for name, value in saved.items()
            if not name.startswith(ALARM_ENTRY) and name not in OWN_ENTRIES
        }
        for device, kept in saved.get(SUPPRESSIONS_ENTRY, {}).items():
            if device in self._devices:
                until = datetime.fromisoformat(kept["until"])
                self._suppressions[device] = Suppression(kept["reason"], until, kept["by"])
                self._mark_suppressed(device)
        for name, value in saved.items():
            if not name.startswith(ALARM_ENTRY):
                continue
            key = name.removeprefix(ALARM_ENTRY)
            target = self._by_key.get(key)
            if target is None and value.get("external"):
                last = AlarmEvent.model_validate(value["last"])  # what it was, from where
                device = last.source.device
                alarm_name = key.removeprefix(f"{self._station}.{device}.")
                target = self._external_condition(
                    key, device, alarm_name, last.kind, last.source, last.latched
                )
                target.heard(last.source, last.radio)
            if target is not None:
                target.restore(value)
        for name, kept in saved.get(TESTS_ENTRY, {}).items():
            tested = self._devices.get(name)
            if tested is not None and tested.readings.test is not None:
                tested.readings.test.last = LastTest(datetime.fromisoformat(kept["at"]), kept["passed"])
                tested.test_failure = kept.get("failure")
        for key, moments in saved.get(CHATTER_ENTRY, {}).items():
            if (target := self._by_key.get(key)) is not None:
                target.chatter.resume([self._from_wall(t) for t in moments])
        exercise = saved.get(EXERCISE_ENTRY, {})
        self._exercise.station = exercise.get("station", self._exercise.station)
        self._exercise.devices |= set(exercise.get("devices", [])) & set(self._devices)
        self._flood.resume(saved.get(FLOOD_ENTRY, {}), self._from_wall)
        self._flood_version = self._flood.version

    def _external_condition(
        self, key: str, device: str, name: str, kind: str, source: AlarmSource, latched: bool
    ) -> ExternalCondition:
        """The condition of an alarm another part of the gateway judges, made on its first event."""
        return self._add(
            ExternalCondition(
                key=key,
                device=device,
                name=name,
                kind=kind,
                source=source,
                suppressed_by=self._suppressed_by(device),
                latch=latched,
            )
        )

    def state(self) -> dict[str, Any]:
        """The whole state, entry by entry: what a restart or a reload needs to go on where this left off."""
        entries = {name: self._entry(name) for name in self._entry_names()}
        return {name: value for name, value in entries.items() if value is not None}

    def take_state(self) -> dict[str, Any] | None:
        """The entries changed since the last call (None for one that is gone), or None if nothing changed.

        Taken right after each step and committed with that step's events, so
        the stored state always matches the stored events.
        """
        if self._flood.version != self._flood_version:
            self._flood_version = self._flood.version
            self._changed.add(FLOOD_ENTRY)
        if any(name.startswith(ALARM_ENTRY) for name in self._changed):
            self._changed.add(CHATTER_ENTRY)  # an activation is counted when an alarm changes
        if not self._changed:
            return None
        changed = {name: self._entry(name) for name in sorted(self._changed)}
        self._changed.clear()
        return changed

    def _entry_names(self) -> list[str]:
        alarms = [ALARM_ENTRY + key for key, c in self._by_key.items() if c.alarm is not None]
        return [*alarms, *OWN_ENTRIES, *self._kept]

    def _entry(self, name: str) -> Any:
        if name == EXERCISE_ENTRY:
            return {"station": self._exercise.station, "devices": sorted(self._exercise.devices)}
        if name == FLOOD_ENTRY:
            offset = self._wall_offset()
            return self._flood.to_dict(lambda moment: moment + offset)
        if name == TESTS_ENTRY:
            return {
                device: {
                    "at": result.at.isoformat(),
                    "passed": result.passed,
                    "failure": self._devices[device].test_failure,
                }
                for device, result in self.detector_tests().items()
                if result is not None
            }
        if name == CHATTER_ENTRY:
            offset = self._wall_offset()
            return {
                key: [t + offset for t in moments]
                for key, c in self._by_key.items()
                if (moments := c.chatter.activations())
            }
        if name == SUPPRESSIONS_ENTRY:
            return {
                device: {"reason": s.reason, "until": s.until.isoformat(), "by": s.by}
                for device, s in self._suppressions.items()
            }
        if not name.startswith(ALARM_ENTRY):
            return self._kept.get(name)
        target = self._by_key.get(name.removeprefix(ALARM_ENTRY))
        if target is None or target.alarm is None:
            return None
        return {**target.alarm.to_dict(), "external": isinstance(target, ExternalCondition)}

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
        device.readings.values.update(read)
        for point in device.plausibility.keys() & read.keys():
            device.verdicts[point] = self._plausibility(device, point, now)
        tested = self._follow_test(device, outcome)
        reported = self._device_reported_faults(device)
        implausible = [v.fault for v in device.verdicts.values() if v.fault]
        failed_test = [device.test_failure] if device.test_failure else []
        health, reasons = (
            DeviceHealth.FAULT if reported or implausible or failed_test else DeviceHealth.OK,
            reported + implausible + failed_test,
        )
        if health is DeviceHealth.OK and outcome.degraded is not None:
            health, reasons = DeviceHealth.DEGRADED, [outcome.degraded.reason]
        cause = DEVICE_CONDITION if reported else IMPLAUSIBLE_CONDITION if implausible else TEST_CONDITION
        events = tested + self._set_health(
            device, health, "; ".join(reasons) or None, outcome.observed_at, now, cause
        )
        for condition in device.conditions:
            rule = condition.rule
            if condition.inputs.isdisjoint(read):
                continue  # a poll that did not read this rule's points says nothing about it
            verdict = device.verdicts.get(rule.point) if rule.point else None
            frozen = bool(reported) or (verdict is not None and not verdict.usable)
            events.extend(self._evaluate(device, condition, outcome, frozen))
        return events

    def _follow_test(self, device: DeviceState, outcome: PollOutcome) -> list[Envelope]:
        """A detector's test starting or ending: its ``test`` event, and a fault if it failed."""
        target, test = device.test_condition, device.readings.test
        if target is None or test is None:
            return []
        step = test.observe(device.readings.values, device.readings.testing, outcome.received_monotonic)
        when, now = outcome.observed_at, outcome.received_monotonic
        if step is None:
            if device.readings.testing or target.alarm is None or not target.alarm.active:
                return []
            text = self.t("alarm.test_interrupted", device=device.name)
            return self._update(
                target, grade=None, condition=TEST_CONDITION, observed_at=when, now=now, text=text
            )
        if step is TestStep.STARTED:
            text = self.t("alarm.test_started", device=device.name)
            return self._update(
                target, grade=Grade.FAULT, condition=TEST_CONDITION, observed_at=when, now=now, text=text
            )
        passed = step is TestStep.PASSED
        verdict = test.verdict(self.t)
        test.last = LastTest(when, passed)
        device.test_failure = None if passed else verdict
        self._changed.add(TESTS_ENTRY)
        measurement = Measurement(passed, None, test.alarm_within)
        return self._update(
            target,
            grade=None,
            condition=TEST_CONDITION,
            observed_at=when,
            now=now,
            text=self.t("alarm.test_verdict", device=device.name, verdict=verdict),
            measurement=measurement,
        )

    def _plausibility(self, device: DeviceState, point: str, now: float) -> Verdict:
        """One verdict per point, shared by every rule on it (a spike fools none of them)."""
        value = number(device.readings.values.get(point))
        return Verdict(True, None) if value is None else device.plausibility[point].check(value, now)

    def _device_reported_faults(self, device: DeviceState) -> list[str]:
        return [reason for flag, reason in device.faults.items() if device.readings.values.get(flag)]

    def _poll_failed(self, device: DeviceState, outcome: PollOutcome, fault: DeviceFault) -> list[Envelope]:
        device.failed_polls += 1
        if device.failed_polls < self._config.offline_after(device.name):
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
                text=self.t("alarm.device_normal", device=device.name)
                if ok
                else self.t("alarm.device_fault", device=device.name, reason=reason),
            )
        )
        return events

    def _evaluate(
        self, device: DeviceState, target: RuleCondition, outcome: PollOutcome, frozen: bool
    ) -> list[Envelope]:
        rule = target.rule
        now = outcome.received_monotonic
        raw = device.readings.values.get(rule.point) if rule.point else None
        value = number(raw)
        warming = device.warming_since is not None and now - device.warming_since < rule.warmup
        target.warming_up = warming
        judged = None if frozen or warming else value  # the gateway's own thresholds wait
        grade, condition, threshold = target.judge(judged, now)
        unit = target.unit
        described = f"{value:g} {unit or ''}".strip() if value is not None else self.t("alarm.device_alarm")
        if condition == RATE_CONDITION and target.rate is not None:
            rise = f"{target.rate.rise():g} {unit or ''}".strip()
            described = self.t(
                "alarm.rising", reading=described, rise=rise, window=f"{target.rate.spec.window:g}"
            )
        return self._update(
            target,
            grade=grade,
            condition=condition,
            observed_at=outcome.observed_at,
            now=now,
            text=self.t("alarm.reading", device=device.name, alarm=target.name, reading=described),
            measurement=Measurement(raw, unit, threshold),
        )

    def _evaluate_zones(self, observed_at: datetime, now: float) -> list[Envelope]:
        """Every zone's confirmation, judged from its own members' alarms only (none: no work)."""
        events: list[Envelope] = []
        for target in self._zones:
            alarmed = {
                c.device: c.alarm.grade for c in target.members if c.alarm is not None and c.alarm.active
            }
            agreeing = confirming_devices(target.zone, alarmed)
            is_confirmed = confirmed(target.zone, alarmed)
            text = (
                self.t("alarm.zone_confirmed", zone=target.device, devices=", ".join(agreeing))
                if is_confirmed
                else self.t("alarm.zone_unconfirmed", zone=target.device)
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
            text = self.t(
                "alarm.flood",
                count=policy.count,
                minutes=f"{policy.window / 60:g}",
                grade=self.t.word("grade", policy.summarise_up_to.value),
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
                passed.append(self._events.late(late_raise))
            if publish:
                passed.append(event)
            else:
                self._unannounced = True
        if not flooding and summary.alarm is not None and summary.alarm.active:
            passed += [self._events.late(e) for e in flood.release(self._still_active)]
            text = self.t("alarm.flood_over", held=flood.held)
            passed += self._update(
                summary, grade=None, condition=FLOOD_CONDITION, observed_at=observed_at, now=now, text=text
            )
        return passed

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
        measurement: Measurement = NO_MEASUREMENT,
    ) -> list[Envelope]:
        """Tell one alarm its condition is at ``grade`` (None: normal), and announce what that changed."""
        target.seen = Seen(measurement.value, observed_at, text)
        alarm = target.alarm
        chatter = target.chatter
        target.chattering = chatter.chattering(now)
        transition: Transition | None
        if grade is None:
            if alarm is None or not alarm.clearable:
                return []
            if not chatter.may_clear(now):
                return []  # chattering: it must stay normal longer before it clears
            transition, condition = alarm.clear(), NORMAL_CONDITION
        else:
            chatter.still_active()
            if alarm is None:
                target.raise_alarm(grade, observed_at)
                transition = Transition.RAISED
            else:
                transition = alarm.activate(grade, observed_at)
            if transition is Transition.RAISED:
                chatter.activated(now)
                target.chattering = chatter.chattering(now)
                if target.kind != FLOOD_KIND:
                    self._flood.raised(now)
        if transition is None:
            return []
        status = target.status(self._exercise)
        event = self._events.changed(target, transition, condition, observed_at, text, status, measurement)
        self._made(target, event)
        return [event]

    def _made(self, target: Condition, event: AlarmEvent) -> None:
        """Bookkeeping of an event made: the alarm refers to it, the state is to save, it counts."""
        target.record(event)
        self._changed.add(ALARM_ENTRY + target.key)
        self.counts[event.transition.value] += 1
        if event.transition in (Transition.RAISED, Transition.LEVEL_CHANGED):
            self.counts[f"{event.transition.value}.{event.grade.value}"] += 1
        if event.status is not EventStatus.ACTUAL:
            self.counts[f"{event.transition.value}.{event.status.value}"] += 1

    def _again(self, target: Condition, transition: Transition, text: str) -> AlarmEvent:
        """The alarm's latest event again, as of now, for an operator's action on it."""
        event = self._events.again(target, transition, text, target.status(self._exercise))
        self._made(target, event)
        return event

    def _realarmed(self, target: Condition) -> AlarmEvent:
        """The alarm announced again, as its condition is now."""
        event = self._events.realarmed(target, target.status(self._exercise))
        self._made(target, event)
        return event

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
            target = self._external_condition(key, device, name, kind, source, latched)
        assert isinstance(target, ExternalCondition), f"{target.key} is not judged outside the engine"
        target.heard(source, radio)
        events = self._update(
            target, grade=grade, condition=condition, observed_at=observed_at, now=now, text=text
        )
        alarm = target.alarm
        if repeat and not events and alarm is not None and alarm.realarm(observed_at):
            events = [self._realarmed(target)]
        return self._through_flood_gate(events, observed_at, now)

    def note_repeat(self, device: str, name: str, radio: RadioDetails) -> None:
        """A copy of the latest press, merged: counted in the alarm, announced with its next event."""
        target = self._by_key.get(self._key(device, name))
        if isinstance(target, ExternalCondition) and target.alarm is not None:
            target.heard(target.source, radio)
            self._changed.add(ALARM_ENTRY + target.key)

    def external_update(
        self, device: str, name: str, *, text: str, source: AlarmSource, radio: RadioDetails
    ) -> list[Envelope]:
        """The source says more about its active alarm (a new text, a restore while latched).

        Announced at once as ``updated``, carrying what it said; the alarm's state,
        grade and acknowledgement stay as they are. Nothing when no alarm is active.
        """
        target = self._by_key.get(self._key(device, name))
        if not isinstance(target, ExternalCondition) or target.alarm is None or not target.alarm.active:
            return []
        target.heard(source, radio)
        return [self._again(target, Transition.UPDATED, text)]

    def alarm_of(self, device: str, name: str) -> tuple[Alarm | None, RadioDetails | None]:
        """An external alarm's occurrence, and the radio details merged into it so far."""
        target = self._by_key.get(self._key(device, name))
        return (target.alarm, target.radio) if target is not None else (None, None)

    def keep(self, name: str, value: Any, *, store: bool = True) -> None:
        """Another part's memory (a JSON value) kept as state entry ``name``, restored with the alarms.

        ``store`` commits it with this step's events; False leaves it to the
        next step that stores it (memory worth a write only with something else).
        """
        self._kept[name] = value
        if store:
            self._changed.add(name)

    def kept(self, name: str) -> Any:
        """What :meth:`keep` was given for ``name`` (before a restart too), or None."""
        return self._kept.get(name)

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
        if alarm.acknowledge(by) is None:
            raise CommandRefused(f"{key} is already acknowledged by {alarm.acknowledged_by}")
        return [self._again(target, Transition.ACKNOWLEDGED, self.t("alarm.acknowledged", key=key, by=by))]

    def shelve(self, key: str, seconds: float, by: str) -> list[Envelope]:
        target, alarm = self._target(key)
        transition = alarm.shelve(self._clock.now() + timedelta(seconds=seconds))
        text = self.t("alarm.shelved", key=key, by=by, minutes=f"{seconds / 60:g}")
        return [self._again(target, transition, text)]

    def unshelve(self, key: str, by: str) -> list[Envelope]:
        target, alarm = self._target(key)
        if alarm.unshelve() is None:
            raise CommandRefused(f"{key} is not shelved")
        return [self._again(target, Transition.UNSHELVED, self.t("alarm.unshelved", key=key, by=by))]

    def reset(self, key: str, by: str) -> list[Envelope]:
        """Release a latched alarm; it clears if its condition is gone, else stays active."""
        target, alarm = self._target(key)
        if alarm.reset(still_present=target.still_present()) is None:
            raise CommandRefused(f"{key} is not a latched alarm")
        return [self._again(target, Transition.RESET, self.t("alarm.reset", key=key, by=by))]

    def suppress(self, device: str, reason: str, seconds: float, by: str) -> list[Envelope]:
        """Suppress a device's alarms (maintenance, out of service) for a while: still reported, marked."""
        if device not in self._devices:
            raise CommandRefused(f"no device {device!r} at this station")
        self._suppressions[device] = Suppression(reason, self._clock.now() + timedelta(seconds=seconds), by)
        text = self.t("alarm.suppressed", device=device, reason=reason, by=by, minutes=f"{seconds / 60:g}")
        return self._suppression_changed(device, Transition.SUPPRESSED, text)

    def unsuppress(self, device: str, by: str) -> list[Envelope]:
        if self._suppressions.pop(device, None) is None:
            raise CommandRefused(f"{device} is not suppressed by a command")
        text = self.t("alarm.unsuppressed", device=device, by=by)
        return self._suppression_changed(device, Transition.UNSUPPRESSED, text)

    def _mark_suppressed(self, device: str) -> list[Condition]:
        """Mark the device's conditions as its suppression now says; the ones with an alarm."""
        command = self._suppressions.get(device)
        reason = command.reason if command else self._suppressed_by(device)
        alarmed = []
        for target in self._by_key.values():
            if target.device == device:
                target.suppressed_by = reason
                if target.alarm is not None:
                    target.alarm.suppressed_by = reason
                    alarmed.append(target)
        return alarmed

    def _suppression_changed(self, device: str, transition: Transition, text: str) -> list[Envelope]:
        """Every alarm of the device announced with its new suppression."""
        self._changed.add(SUPPRESSIONS_ENTRY)
        return [self._again(target, transition, text) for target in self._mark_suppressed(device)]

    def set_exercise(self, on: bool, device: str | None = None) -> None:
        """Mark events of the station (or one device) as an exercise, or as real again."""
        self._changed.add(EXERCISE_ENTRY)
        if device is None:
            self._exercise.station = on
            return
        if device not in self._devices:
            raise CommandRefused(f"no device {device!r} at this station")
        if on:
            self._exercise.devices.add(device)
        else:
            self._exercise.devices.discard(device)

    @property
    def exercise(self) -> bool:
        return self._exercise.station or bool(self._exercise.devices)

    def tick(self) -> list[Envelope]:
        """Expire shelving, re-alarm what nobody acknowledged, end a flood; call about once a second."""
        now, monotonic = self._clock.now(), self._clock.monotonic()
        events: list[Envelope] = []
        for device, suppression in list(self._suppressions.items()):
            if suppression.until <= now:
                del self._suppressions[device]
                text = self.t("alarm.suppression_expired", device=device, reason=suppression.reason)
                events += self._suppression_changed(device, Transition.UNSUPPRESSED, text)
        for target in self._by_key.values():
            alarm = target.alarm
            if alarm is None:
                continue
            if alarm.expire_shelving(now):
                text = self.t("alarm.shelving_expired", key=target.key)
                events.append(self._again(target, Transition.UNSHELVED, text))
            if alarm.realarm_due(now, self._policy.realarm_after, self._policy.realarm_from):
                events.append(self._realarmed(target))
        return self._through_flood_gate(events, now, monotonic)

    # -- views --------------------------------------------------------------------
    def take_unannounced(self) -> bool:
        """Did an alarm change since the last call without an event of its own (a transition a
        flood holds back)? The active alarms listed differ all the same."""
        unannounced, self._unannounced = self._unannounced, False
        return unannounced

    def active_alarms(self) -> list[ActiveAlarm]:
        """Every alarm not yet back to normal (active, or cleared but unacknowledged)."""
        return self.active_alarms_as_now()()

    def active_alarms_as_now(self) -> Callable[[], list[ActiveAlarm]]:
        """:meth:`active_alarms` as they stand now, built when called: after an alarm's commit, say.

        Taking them is a few microseconds; building them (a model each) is the
        most of a millisecond that an alarm's commit would otherwise wait for.
        """
        colour = self._policy.colour
        taken = [
            (target.key, target.kind, target.device, alarm.last, alarm.grade, alarm.state, alarm.shelved)
            for target in self._by_key.values()
            if (alarm := target.alarm) is not None
        ]

        def build() -> list[ActiveAlarm]:
            alarms = []
            for key, kind, device, last, grade, state, shelved in taken:
                assert last is not None
                alarms.append(
                    ActiveAlarm.from_event(
                        last,
                        alarm_key=key,
                        kind=kind,
                        level=colour(grade),
                        grade=grade,
                        state=state,
                        shelved=shelved,
                        device=device,
                    )
                )
            return alarms

        return build

    def detector_tests(self) -> dict[str, LastTest | None]:
        """The last test of every detector that has a test bit (None: not tested yet)."""
        return {
            name: d.readings.test.last for name, d in self._devices.items() if d.readings.test is not None
        }

    def device_health(self) -> dict[str, tuple[DeviceHealth | None, str | None]]:
        return {name: (d.health, d.reason) for name, d in self._devices.items()}
