"""What one simulated station publishes: the gateway's own payload models on the gateway's own topics.

Every station of a fleet has the devices of a template station file (by
default the shipped example station), so sizes and shapes of birth, device
status, telemetry, report and alarm messages are those a real station sends.
Only the values are invented.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from gateway import __version__
from gateway.alarms.cap import cap_fields
from gateway.config import LoadedConfig
from gateway.contract.events import (
    ActiveAlarm,
    ActiveAlarmsSnapshot,
    AlarmEvent,
    AlarmSource,
    AlarmState,
    DeviceHealth,
    DeviceReport,
    DeviceStatusEvent,
    DeviceSummary,
    Envelope,
    Reading,
    StationReport,
    StationStatusEvent,
    TelemetryEvent,
    Transition,
    utc_now,
)
from gateway.contract.levels import DEFAULT_COLOURS, Grade
from gateway.contract.stamp import Stamper
from gateway.outbox import Message
from gateway.uplink.topics import message_for


@dataclass(frozen=True)
class DeviceTemplate:
    """One device of the template station: what its messages say about it."""

    summary: DeviceSummary
    units: dict[str, str | None]  # value points and their units (telemetry readings)
    alarm: str  # the rule a simulated alarm of this device raises
    kind: str


def devices_of(config: LoadedConfig) -> list[DeviceTemplate]:
    devices = []
    for name, device in config.station.devices.items():
        profile = config.profile_of(name)
        rules = [(rule_name, rule) for rule_name, rule in config.rules[name].items() if rule.enabled]
        rule_name, rule = rules[0] if rules else ("alarm", None)
        devices.append(
            DeviceTemplate(
                summary=DeviceSummary(
                    id=name, profile=device.profile, bus=device.bus, location=device.location
                ),
                units=profile.units(),
                alarm=rule_name,
                kind=rule.kind if rule is not None else "gas",
            )
        )
    return devices


class Outgoing(NamedTuple):
    """A message and the ``id`` inside it, which the platform's receipt is matched by."""

    message: Message
    id: str


class _Sequence:
    """The per-station ``seq``: in memory, since a simulated station has no restarts to survive."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def next(self) -> int:
        return next(self._numbers)


class StationPayloads:
    """Builds the messages of one station; keeps its active alarms for the retained snapshot."""

    def __init__(self, station: str, prefix: str, devices: list[DeviceTemplate], rng: random.Random) -> None:
        self.station = station
        self.prefix = prefix
        self.devices = devices
        self._rng = rng
        self._stamp = Stamper(station, _Sequence())  # type: ignore[arg-type]
        self._boot_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self._started_at = utc_now()
        self._boot_count = 0
        self._active: dict[str, ActiveAlarm] = {}

    def _message(self, event: Envelope) -> Outgoing:
        return Outgoing(message_for(event, self.prefix), event.id)

    def status(self, state: str) -> Outgoing:
        """The retained birth (``online``) or Last Will (``offline``)."""
        if state == "online":
            self._boot_count += 1
        return self._message(
            StationStatusEvent(
                state=state,  # type: ignore[arg-type]
                version=__version__,
                boot_id=self._boot_id,
                boot_count=self._boot_count,
                started_at=self._started_at,
                name=f"Simulated station {self.station}",
                district="fleet",
                devices=[device.summary for device in self.devices],
                **self._stamp(),
            )
        )

    def snapshot(self) -> Outgoing:
        return self._message(ActiveAlarmsSnapshot(alarms=list(self._active.values()), **self._stamp()))

    def device_statuses(self) -> list[Outgoing]:
        now = utc_now()
        return [
            self._message(
                DeviceStatusEvent(
                    device=device.summary.id, status=DeviceHealth.OK, since=now, **self._stamp()
                )
            )
            for device in self.devices
        ]

    def telemetry(self, device: DeviceTemplate) -> Outgoing:
        readings = {
            point: Reading(value=round(self._rng.uniform(0.0, 5.0), 2), unit=unit)
            for point, unit in device.units.items()
        }
        return self._message(
            TelemetryEvent(
                device=device.summary.id, observed_at=utc_now(), readings=readings, **self._stamp()
            )
        )

    def report(self) -> Outgoing:
        devices = [
            DeviceReport(device=d.summary.id, status=DeviceHealth.OK, reason=None, bus=d.summary.bus)
            for d in self.devices
        ]
        return self._message(
            StationReport(
                period="periodic",
                all_clear=not self._active,
                exercise=False,
                devices=devices,
                active_alarms=list(self._active.values()),
                outbox={"backlog": 0, "backlog_alarms": 0},
                **self._stamp(),
            )
        )

    def raise_alarm(self, device: DeviceTemplate) -> Outgoing:
        """A second-stage alarm of ``device``'s first rule; the snapshot lists it until ``clear_alarms``."""
        now = utc_now()
        stamp = self._stamp()
        key = f"{self.station}.{device.summary.id}.{device.alarm}"
        event = self._alarm(
            device, key, stamp["id"], Transition.RAISED, AlarmState.ACTIVE_UNACK, now, now, stamp
        )
        self._active[key] = ActiveAlarm.from_event(event)
        return self._message(event)

    def clear_alarms(self) -> list[Outgoing]:
        """A ``cleared`` event for every active alarm, and the emptied snapshot's turn comes next."""
        messages = []
        by_id = {d.summary.id: d for d in self.devices}
        for key, active in self._active.items():
            event = self._alarm(
                by_id[active.device],
                key,
                active.first_id,
                Transition.CLEARED,
                AlarmState.CLEARED_UNACK,
                utc_now(),
                active.raised_at,
                self._stamp(),
            )
            messages.append(self._message(event))
        self._active.clear()
        return messages

    def _alarm(
        self,
        device: DeviceTemplate,
        key: str,
        first_id: str,
        transition: Transition,
        state: AlarmState,
        observed_at: datetime,
        raised_at: datetime,
        stamp: dict,
    ) -> AlarmEvent:
        active = transition is not Transition.CLEARED
        grade = Grade.SECOND_STAGE
        summary = device.summary
        return AlarmEvent(
            alarm_key=key,
            first_id=first_id,
            transition=transition,
            kind=device.kind,
            level=DEFAULT_COLOURS[grade],
            grade=grade,
            condition="HIHI" if active else "NORMAL",
            state=state,
            source=AlarmSource(
                device=summary.id,
                point=None,
                bus=summary.bus,
                profile=summary.profile,
                location=summary.location,
            ),
            observed_at=observed_at,
            raised_at=raised_at,
            message=f"{summary.id} {device.alarm}: simulated {'alarm' if active else 'all clear'}",
            cap=cap_fields(device.kind, None, grade, "HIHI", active),
            **stamp,
        )
