"""What the page shows, read from the running gateway at the moment it is asked for.

The page never keeps its own idea of the station: devices, alarms, buses and
the uplink come from the engine, the outbox and the uplink as they are now;
only the trends (:mod:`gateway.station_page.trend`) are the page's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Protocol

from gateway.alarms.engine import AlarmEngine
from gateway.alarms.reports import bus_reports
from gateway.config import LoadedConfig
from gateway.contract.events import ActiveAlarm, AlarmState, BusReport, DeviceReport
from gateway.contract.time_quality import time_quality
from gateway.i18n import station_zone
from gateway.operator.walktest.tracker import WalkTest
from gateway.outbox import Outbox
from gateway.station_page.trend import Trends
from gateway.uplink.mqtt import MqttUplink

if TYPE_CHECKING:
    from gateway.radio.hub import RadioHub


class StationParts(Protocol):
    """The running gateway's parts the page reads (a reload replaces them: read them each time)."""

    config: LoadedConfig
    engine: AlarmEngine
    outbox: Outbox
    uplink: MqttUplink
    radio_hub: RadioHub | None


@dataclass(frozen=True, slots=True)
class Threshold:
    grade: str
    at: float
    side: str  # "high" or "low"


@dataclass(frozen=True, slots=True)
class PointView:
    name: str
    value: float | bool | None
    unit: str | None
    thresholds: tuple[Threshold, ...]
    samples: list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class DeviceView:
    name: str
    location: str
    bus: str
    health: str  # ok | degraded | fault | offline | unknown
    reason: str | None
    seen_ago: float | None  # seconds since it last answered
    points: tuple[PointView, ...]


@dataclass(frozen=True, slots=True)
class AlarmView:
    alarm: ActiveAlarm
    value: float | bool | None
    unit: str | None
    threshold: float | None

    @property
    def active(self) -> bool:
        return self.alarm.state in (AlarmState.ACTIVE_UNACK, AlarmState.ACTIVE_ACK)


@dataclass(frozen=True, slots=True)
class WalkRow:
    """One device in walk-test mode: tested once its alarm reached the broker, with when and how fast."""

    device: str
    location: str
    reached_at: datetime | None  # in the station's time zone
    latency: float | None  # seconds from the reading to the broker's acknowledgement
    value: float | bool | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class PageState:
    station_id: str
    station_name: str
    station_location: str
    now: datetime  # in the station's time zone
    zone: tzinfo
    trend_hours: float
    devices: tuple[DeviceView, ...]
    alarms: tuple[AlarmView, ...]
    buses: tuple[BusReport, ...]
    radios: dict[str, bool]  # bridge -> connected
    uplink_connected: bool
    backlog: int
    time_quality: str
    exercise: bool
    walk: tuple[WalkRow, ...] | None  # None: walk-test mode is off


def read_state(parts: StationParts, trends: Trends, walk: WalkTest | None = None) -> PageState:
    config = parts.config
    now = time.time()
    health = parts.engine.device_health()
    devices = []
    for name, device in config.station.devices.items():
        status, reason = health.get(name, (None, None))
        seen = trends.last_seen.get(name)
        devices.append(
            DeviceView(
                name=name,
                location=device.location,
                bus=device.bus,
                health=status.value if status is not None else "unknown",
                reason=reason,
                seen_ago=None if seen is None else max(0.0, now - seen),
                points=tuple(_points(config, trends, name, now)),
            )
        )
    reports = [
        DeviceReport(device=d.name, status=health.get(d.name, (None, None))[0], reason=d.reason, bus=d.bus)
        for d in devices
    ]
    radios = parts.radio_hub.health() if parts.radio_hub is not None else {}
    zone = station_zone(config.station.reports.timezone)
    return PageState(
        station_id=config.station.station.id,
        station_name=config.station.station.name,
        station_location=config.station.station.location,
        now=datetime.fromtimestamp(now, zone),
        zone=zone,
        trend_hours=trends.hours,
        devices=tuple(devices),
        alarms=tuple(_alarm(config, trends, a) for a in parts.engine.active_alarms()),
        buses=tuple(bus_reports(reports)),
        radios={name: bool(r["connected"]) for name, r in radios.items()},
        uplink_connected=parts.uplink.connected,
        backlog=parts.outbox.stats().backlog,
        time_quality=time_quality().value,
        exercise=parts.engine.exercise,
        walk=None if walk is None else tuple(_walk_rows(walk, zone)),
    )


def _walk_rows(walk: WalkTest, zone: tzinfo) -> list[WalkRow]:
    return [
        WalkRow(
            device=check.device,
            location=check.location,
            reached_at=check.reached_at.astimezone(zone) if check.reached_at else None,
            latency=check.latency,
            value=check.event.value if check.event else None,
            unit=check.event.unit if check.event else None,
        )
        for check in walk.devices.values()
    ]


def _thresholds(config: LoadedConfig, device: str, point: str) -> tuple[Threshold, ...]:
    found = []
    for rule in config.rules.get(device, {}).values():
        if rule.point != point or not rule.enabled:
            continue
        found += [Threshold(r.level.value, r.at, "high") for r in rule.high]
        found += [Threshold(r.level.value, r.at, "low") for r in rule.low]
    return tuple(found)


def _points(config: LoadedConfig, trends: Trends, device: str, now: float) -> list[PointView]:
    """The device's measured values (not its flags): those with thresholds first."""
    views = []
    for point, spec in config.profile_of(device).points.items():
        series = trends.series.get((device, point))
        if spec.flags or (series is not None and isinstance(series.latest, bool)):
            continue  # a status word or a contact: its meaning shows as the device's health or alarm
        views.append(
            PointView(
                name=point,
                value=series.latest if series is not None else None,
                unit=spec.unit,
                thresholds=_thresholds(config, device, point),
                samples=trends.window(device, point, now),
            )
        )
    return sorted(views, key=lambda v: not v.thresholds)


def _alarm(config: LoadedConfig, trends: Trends, alarm: ActiveAlarm) -> AlarmView:
    """The alarm with its point's value now and the threshold of its grade, where it has them."""
    rule = config.rules.get(alarm.device, {}).get(alarm.alarm_key.rsplit(".", 1)[-1])
    if rule is None or rule.point is None:
        return AlarmView(alarm, None, None, None)
    series = trends.series.get((alarm.device, rule.point))
    rungs = [r.at for r in (*rule.high, *rule.low) if r.level == alarm.grade]
    return AlarmView(
        alarm,
        series.latest if series is not None else None,
        series.unit if series is not None else None,
        rungs[0] if rungs else None,
    )
