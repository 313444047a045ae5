"""When the station reports, and what changed since its last report of each kind.

"Report the situation when something happens, report all-clear when nothing
does": a periodic report (hourly by default) and a daily summary at a configured local time, each
with the alarm transitions counted since the previous one of its kind.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from gateway.alarms.detector_test import LastTest
from gateway.config.alarm_policy import ReportsConfig
from gateway.contract.events import BusReport, DetectorTestReport, DeviceHealth, DeviceReport


class ReportClock:
    """Says which periodic reports are due at a given moment (wall clock, so daily is local)."""

    def __init__(self, config: ReportsConfig, start: datetime) -> None:
        self._interval = timedelta(seconds=config.interval) if config.interval else None
        self._zone: tzinfo | None = ZoneInfo(config.timezone) if config.timezone else None
        self._daily_at = config.daily_at
        self.last: dict[str, datetime] = {"periodic": start, "daily": start}
        self._next_periodic = start + self._interval if self._interval else None
        self._next_daily = self._next_daily_after(start)

    def _next_daily_after(self, moment: datetime) -> datetime | None:
        if self._daily_at is None:
            return None
        hour, minute = (int(part) for part in self._daily_at.split(":"))
        local = moment.astimezone(self._zone)
        candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if candidate <= local:
            candidate += timedelta(days=1)
        return candidate

    def due(self, now: datetime) -> list[str]:
        """The periods whose report is due at ``now`` (each is then scheduled again)."""
        periods = []
        if self._next_periodic is not None and now >= self._next_periodic:
            periods.append("periodic")
            assert self._interval is not None
            while self._next_periodic <= now:
                self._next_periodic += self._interval
        if self._next_daily is not None and now >= self._next_daily:
            periods.append("daily")
            self._next_daily = self._next_daily_after(now)
        return periods


class CountBook:
    """Alarm transition counts since the last report of each period, from the engine's running totals."""

    def __init__(self) -> None:
        self._at_last: dict[str, Counter[str]] = {}

    def since_last(self, period: str, totals: Counter[str]) -> dict[str, int]:
        baseline = self._at_last.get(period, Counter())
        self._at_last[period] = Counter(totals)
        return dict(sorted((totals - baseline).items()))


def bus_reports(devices: list[DeviceReport]) -> list[BusReport]:
    """A bus is ok while any of its devices answers, offline when none does (yet)."""
    by_bus: dict[str, list[DeviceReport]] = {}
    for device in devices:
        by_bus.setdefault(device.bus, []).append(device)
    reports = []
    for bus, members in by_bus.items():
        answering = [
            d for d in members if d.status in (DeviceHealth.OK, DeviceHealth.DEGRADED, DeviceHealth.FAULT)
        ]
        ok = sum(1 for d in members if d.status is DeviceHealth.OK)
        known = any(d.status is not None for d in members)
        status = (DeviceHealth.OK if answering else DeviceHealth.OFFLINE) if known else None
        reports.append(BusReport(bus=bus, status=status, devices_ok=ok, devices=len(members)))
    return reports


def detector_tests(
    results: dict[str, LastTest | None], since: datetime, now: datetime, untested_after: float
) -> tuple[list[DetectorTestReport], list[DetectorTestReport]]:
    """The detectors tested since ``since``, and those not tested for more than ``untested_after``.

    Monthly detector tests are the stations' routine: the report says who did
    theirs and who is overdue (a detector never tested is overdue).
    """
    tested, untested = [], []
    overdue = now - timedelta(seconds=untested_after)
    for device, result in sorted(results.items()):
        line = DetectorTestReport(
            device=device, at=result.at if result else None, passed=result.passed if result else None
        )
        if result is not None and result.at >= since:
            tested.append(line)
        if result is None or result.at < overdue:
            untested.append(line)
    return tested, untested
