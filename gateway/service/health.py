"""What the station says about itself: ``/healthz``, the systemd status line, the gauges, station reports.

All of it is read from the running parts at the moment it is asked for, so
it never disagrees with what the gateway is doing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from drivers.observation import BusPoller
from gateway import __version__
from gateway.alarms.engine import AlarmEngine
from gateway.alarms.reports import CountBook, ReportClock, bus_reports, detector_tests
from gateway.config import LoadedConfig
from gateway.contract.events import DeviceReport, StationReport, utc_now
from gateway.contract.stamp import Stamper
from gateway.outbox import Outbox
from gateway.service.boot import Boot
from gateway.service.metrics import Metrics
from gateway.service.supervisor import TaskFaults
from gateway.service.systemd import Progress
from gateway.uplink.mqtt import MqttUplink
from gateway.uplink.telemetry import Latest

if TYPE_CHECKING:
    from gateway.radio.hub import RadioHub


class Health:
    """One configuration's view of the station's health; a reload builds a new one."""

    def __init__(
        self,
        config: LoadedConfig,
        *,
        boot: Boot,
        engine: AlarmEngine,
        stamp: Stamper,
        outbox: Outbox,
        uplink: MqttUplink,
        radio_hub: RadioHub | None,
        pollers: Mapping[str, BusPoller],
        latest: Callable[[str], Mapping[str, Latest]],
        progress: Progress,
        metrics: Metrics,
        counts: CountBook,
        faults: TaskFaults,
    ) -> None:
        self._config = config
        self._boot = boot
        self._engine = engine
        self._stamp = stamp
        self._outbox = outbox
        self._uplink = uplink
        self._radio_hub = radio_hub
        self._pollers = pollers
        self._latest = latest
        self._progress = progress
        self._metrics = metrics
        self._counts = counts
        self._faults = faults
        self._report_clock = ReportClock(config.station.reports, boot.started_at)

    def snapshot(self) -> dict[str, Any]:
        """What ``/healthz`` and ``outpost status`` show."""
        devices = {
            name: {"status": status.value if status else "unknown", "reason": reason} | self._rejected(name)
            for name, (status, reason) in self._engine.device_health().items()
        }
        stalled = self._progress.stalled(self._config.station.service.stall_after) + self.also_stalled()
        stats = self._outbox.stats()
        return {
            # Events held only in memory would not survive a crash: not healthy until stored.
            "healthy": not stalled and stats.storage_error is None and stats.memory_only == 0,
            "station": self._config.station.station.id,
            "version": __version__,
            "boot_id": self._boot.id,
            "uptime_s": self._boot.uptime(),
            "mqtt": {
                "connected": self._uplink.connected,
                "published": self._uplink.published,
                "refused": self._uplink.refused,
                "last_error": self._uplink.last_error,
            },
            "stalled": stalled,
            "tasks": {"down": dict(self._faults.down), "failures": dict(self._faults.failures)},
            "devices": devices,
            "alarms_active": [a.alarm_key for a in self._engine.active_alarms()],
            "exercise": self._engine.exercise,
            "outbox": stats.as_dict(),
            "radios": self._radio_hub.health() if self._radio_hub is not None else {},
        }

    def values(self) -> dict[str, Any]:
        """``/values``: every device's latest reading of each point, with when it was read and its age."""
        now = datetime.now(UTC)
        return {
            device: {
                point: {
                    "value": reading.value,
                    "unit": reading.unit,
                    "observed_at": reading.observed_at.isoformat(),
                    "age_s": round((now - reading.observed_at).total_seconds(), 3),
                }
                for point, reading in self._latest(device).items()
            }
            for device in self._config.station.devices
        }

    def _rejected(self, device: str) -> dict[str, Any]:
        """The frames ``device``'s bus refused for it, by reason, and the last one (escaped)."""
        poller = self._pollers.get(self._config.station.devices[device].bus)
        if poller is None or device not in poller.rejections.last:
            return {}
        last = poller.rejections.last[device]
        return {
            "rejected": poller.rejections.of(device),
            "last_rejected": {"reason": last.reason, "frame": last.frame, "at": last.at},
        }

    def status_line(self) -> str:
        """One line for systemd's STATUS=: devices, alarms, backlog, uplink."""
        health = self._engine.device_health().values()
        ok = sum(1 for status, _ in health if status is not None and status.value == "ok")
        stats = self._outbox.stats()
        storage = f", STORAGE FAULT ({stats.memory_only} held in memory)" if stats.storage_error else ""
        return (
            f"{ok}/{len(health)} devices ok, {len(self._engine.active_alarms())} alarm(s) active, "
            f"backlog {stats.backlog}, mqtt {'up' if self._uplink.connected else 'down'}{storage}"
        )

    def also_stalled(self) -> list[str]:
        """Besides parts without progress: a stuck uplink, and every supervised task that is down."""
        stuck = ["mqtt uplink"] if self.uplink_stuck() else []
        return stuck + [f"{name} ({why})" for name, why in sorted(self._faults.down.items())]

    def uplink_stuck(self) -> bool:
        """A batch unacknowledged for longer than ``stall_after``: the watchdog treats it as a stall."""
        since = self._uplink.waiting_since
        return since is not None and time.monotonic() - since > self._config.station.service.stall_after

    def update_gauges(self) -> None:
        """Bring the Prometheus gauges up to date (just before a scrape)."""
        stats = self._outbox.stats()
        self._metrics.outbox_depth.set(stats.backlog)
        self._metrics.outbox_bytes.set(stats.bytes_used)
        self._metrics.outbox_headroom.set(
            stats.headroom_hours if stats.headroom_hours is not None else float("inf")
        )
        self._metrics.mqtt_connected.set(1 if self._uplink.connected else 0)
        self._metrics.alarms_active.set(len(self._engine.active_alarms()))
        if self._uplink.last_publish_monotonic is not None:
            age = time.monotonic() - self._uplink.last_publish_monotonic
            self._metrics.last_publish.set(time.time() - age)

    def due_reports(self, now: datetime) -> list[StationReport]:
        """The periodic and daily reports due at ``now``."""
        return [self.report(period) for period in self._report_clock.due(now)]

    def report(self, period: str = "requested") -> StationReport:
        """The situation now; for ``periodic``/``daily``, with the counts since the last one of its kind."""
        active = self._engine.active_alarms()
        devices = [
            DeviceReport(
                device=name, status=status, reason=reason, bus=self._config.station.devices[name].bus
            )
            for name, (status, reason) in self._engine.device_health().items()
        ]
        since = self._report_clock.last.get(period, self._boot.started_at)
        counts = self._counts.since_last(period, self._engine.counts)
        tested, untested = detector_tests(
            self._engine.detector_tests(), since, utc_now(), self._config.station.reports.untested_after
        )
        report = StationReport(
            detectors_tested=tested,
            detectors_untested=untested,
            period=period,  # type: ignore[arg-type]
            since=since,
            all_clear=not active,
            exercise=self._engine.exercise,
            buses=bus_reports(devices),
            devices=devices,
            active_alarms=active,
            counts=counts,
            outbox=self._outbox.stats().as_dict(),
            **self._stamp(),
        )
        self._report_clock.last[period] = report.created_at
        return report
