"""The console's board as plain text, in the chosen language and the station's time zone.

Readable on any terminal, in a log file and in a test. The alarms are
numbered as :meth:`Board.listed` orders them, so that ``ack 2`` names the
alarm shown as 2.
"""

from __future__ import annotations

from datetime import tzinfo

from gateway.contract.events import EventStatus
from gateway.i18n import Translator
from gateway.operator.console.board import ACTIVE, Board, Listed, LogLine, StationState
from gateway.operator.describe import after, describe, reading, short_key


def log_line(line: LogLine, t: Translator, zone: tzinfo) -> str:
    at = line.at.astimezone(zone).strftime("%H:%M:%S")
    return f"{at} {line.station:<14} {describe(line.where, line.payload, t)}"


def render(
    board: Board, listed: list[Listed], t: Translator, zone: tzinfo, *, full_keys: bool, events: int = 10
) -> str:
    """``full_keys``: alarm keys with their station, for a console watching every station."""
    stations = sorted(board.stations.values(), key=lambda s: s.station)
    lines = [line for state in stations for line in _station(state, t)]
    active = [item for item in listed if item.alarm.state in ACTIVE]
    lines.append(t("console.active", count=len(active)) if active else t("console.active_none"))
    lines.extend(
        _alarm(number, item, t, full_keys) for number, item in enumerate(listed, 1) if item in active
    )
    if cleared := [(n, item) for n, item in enumerate(listed, 1) if item not in active]:
        lines.append(t("console.cleared_unack", count=len(cleared)))
        lines.extend(_alarm(number, item, t, full_keys) for number, item in cleared)
    if recent := list(board.log)[-events:]:
        lines.append(t("console.recent"))
        lines.extend("  " + log_line(line, t, zone) for line in recent)
    return "\n".join(lines)


def _station(state: StationState, t: Translator) -> list[str]:
    counts: dict[str, int] = {}
    for status in state.devices.values():
        counts[status.status.value] = counts.get(status.status.value, 0) + 1
    summary = ", ".join(
        t("console.device_count", count=n, health=t.word("health", health))
        for health, n in sorted(counts.items())
    )
    head = t("console.station", station=state.station, state=t.word("link", state.state))
    version = f"  outpost {state.version}" if state.version else ""
    drill = f"  {t('console.exercise')}" if state.exercise else ""
    devices = t("console.devices", summary=summary or t("console.no_device_status"))
    lines = [f"{head}{version}  {devices}{drill}"]
    for device, status in sorted(state.devices.items()):
        if status.status != "ok":
            health = t.word("health", status.status.value) + (f" ({status.reason})" if status.reason else "")
            lines.append("  " + t("event.device", device=device, health=health))
    return lines


def _alarm(number: int, item: Listed, t: Translator, full_keys: bool) -> str:
    alarm = item.alarm
    line = t(
        "console.alarm",
        grade=t.word("grade", alarm.grade.value),
        colour=t.word("colour", alarm.level.value),
        state=t.word("state", alarm.state.value),
        key=alarm.alarm_key if full_keys else short_key(alarm.alarm_key),
        location=alarm.location,
    )
    if item.value is not None:
        line += after(reading(item.value.value, item.value.unit, item.value.threshold, t), t)
    if alarm.status != EventStatus.ACTUAL:
        line += f" [{t.word('status', alarm.status.value)}]"
    if alarm.shelved:
        line += f" [{t.word('state', 'shelved')}]"
    return f"{number:>4}  {line}"
