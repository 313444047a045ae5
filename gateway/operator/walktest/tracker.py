"""Which configured devices have been heard from during a walk test, and with what.

A technician triggers each detector (gas, the smoke detector's test button)
and each button in turn; a device has *reached the platform* when an alarm
event from it (actual, test or exercise) arrives over MQTT. Device faults,
retained copies and late (``historical``) events do not count: they do not
show that this trigger worked end to end. Each device's latency is from the
gateway's reading of the value to its event's arrival here (both clocks are
assumed synchronised, as the event's ``time_quality`` says they should be).
The record stays language-neutral: UTC times and the station's time zone
by name, for the report to show local times from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from gateway.config import LoadedConfig
from gateway.contract.decode import Payload, Unknown
from gateway.contract.events import AlarmEvent, Transition, rfc3339
from gateway.i18n import station_zone

# An activation, not its clearing or handling.
COUNTS = {Transition.RAISED, Transition.LEVEL_CHANGED, Transition.REALARMED}
# What the report keeps of the event that reached the platform.
REPORTED = {
    "id",
    "created_at",
    "alarm_key",
    "kind",
    "transition",
    "status",
    "grade",
    "level",
    "value",
    "unit",
    "threshold",
    "message",
}


@dataclass
class DeviceCheck:
    device: str
    profile: str
    bus: str
    location: str
    reached_at: datetime | None = None
    event: AlarmEvent | None = None
    faults: list[str] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.reached_at is not None

    @property
    def latency(self) -> float | None:
        """Seconds from the gateway's reading to the event's arrival at the platform."""
        if self.reached_at is None or self.event is None:
            return None
        return max(0.0, (self.reached_at - self.event.observed_at).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "profile": self.profile,
            "bus": self.bus,
            "location": self.location,
            "reached": self.reached,
            "reached_at": rfc3339(self.reached_at) if self.reached_at else None,
            "latency_s": round(self.latency, 3) if self.latency is not None else None,
            "event": self.event.model_dump(mode="json", include=REPORTED) if self.event else None,
            "faults": self.faults,
        }


class WalkTest:
    def __init__(self, config: LoadedConfig) -> None:
        self.station = config.station.station.id
        self.name = config.station.station.name
        self.zone: tzinfo = station_zone(config.station.reports.timezone)
        self.devices = {
            name: DeviceCheck(name, device.profile, device.bus, device.location)
            for name, device in config.station.devices.items()
        }
        self.started_at = datetime.now(UTC)  # reset when listening begins
        self.ended_at: datetime | None = None
        self.listening = False

    def observe(self, payload: Payload | Unknown, retained: bool = False) -> DeviceCheck | None:
        """Take in one message from the station; returns the device it reached for the first time."""
        if retained or not isinstance(payload, AlarmEvent) or payload.historical:
            return None
        check = self.devices.get(payload.source.device)
        if check is None:
            return None
        if payload.kind == "device_fault":
            if payload.transition in COUNTS:
                check.faults.append(payload.message)
            return None
        if check.reached or payload.transition not in COUNTS:
            return None
        check.reached_at = datetime.now(UTC)
        check.event = payload
        return check

    @property
    def reached(self) -> list[DeviceCheck]:
        return [check for check in self.devices.values() if check.reached]

    @property
    def missing(self) -> list[DeviceCheck]:
        return [check for check in self.devices.values() if not check.reached]

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": "outpost.walktest/1",
            "station": self.station,
            "name": self.name,
            "timezone": str(self.zone),
            "started_at": rfc3339(self.started_at),
            "ended_at": rfc3339(self.ended_at) if self.ended_at else None,
            "complete": not self.missing,
            "reached": [check.device for check in self.reached],
            "missing": [check.device for check in self.missing],
            "devices": [check.as_dict() for check in self.devices.values()],
        }
