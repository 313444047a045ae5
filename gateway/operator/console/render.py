"""The console's board as plain text: readable on any terminal, in a log file and in a test."""

from __future__ import annotations

from gateway.contract.events import EventStatus
from gateway.operator.console.board import Board, LogLine


def log_line(line: LogLine) -> str:
    return f"{line.at.astimezone().strftime('%H:%M:%S')} {line.station:<14} {line.text}"


def render(board: Board, events: int = 10) -> str:
    lines = []
    for state in sorted(board.stations.values(), key=lambda s: s.station):
        counts: dict[str, int] = {}
        for status in state.devices.values():
            word = status.split(" ", 1)[0]
            counts[word] = counts.get(word, 0) + 1
        devices = ", ".join(f"{n} {word}" for word, n in sorted(counts.items())) or "no device status yet"
        drill = "  EXERCISE" if state.exercise else ""
        version = f"  outpost {state.version}" if state.version else ""
        lines.append(f"station {state.station}  {state.state.upper()}{version}  devices: {devices}{drill}")
        for device, status in sorted(state.devices.items()):
            if not status.startswith("ok"):
                lines.append(f"  device {device}: {status}")
    active = board.active_alarms()
    lines.append(f"active alarms: {len(active) or 'none'}")
    for _station, alarm in active:
        flags = "".join(
            f" [{flag}]"
            for flag, on in ((alarm.status, alarm.status != EventStatus.ACTUAL), ("shelved", alarm.shelved))
            if on
        )
        lines.append(f"  {alarm.level.upper():<7}{alarm.state:<14}{alarm.alarm_key}  {alarm.message}{flags}")
    recent = list(board.log)[-events:]
    if recent:
        lines.append("recent events:")
        lines.extend("  " + log_line(line) for line in recent)
    return "\n".join(lines)
