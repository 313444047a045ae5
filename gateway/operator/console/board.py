"""What the duty officer's console knows: each station's status, active alarms and recent events.

Built only from what the platform receives: the retained birth/Will, the
retained ``alarms/active`` snapshot (the truth after a reconnect), retained
device statuses and the live alarm events, which update the picture before
the next snapshot arrives. Kept free of MQTT and of the terminal so that it
can be tested and rendered on its own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from gateway.contract.decode import Payload, Unknown, decode
from gateway.contract.events import (
    ActiveAlarm,
    ActiveAlarmsSnapshot,
    AlarmEvent,
    AlarmState,
    DeviceStatusEvent,
    StationReport,
    StationStatusEvent,
    TelemetryEvent,
)
from gateway.operator.describe import describe

SEVERITY = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}  # the board's order, most severe first


@dataclass
class StationState:
    station: str
    state: str = "unknown"  # online | offline | unknown (no retained birth yet)
    version: str = ""
    name: str = ""
    devices: dict[str, str] = field(default_factory=dict)  # device -> ok | fault (reason) | offline
    alarms: dict[str, ActiveAlarm] = field(default_factory=dict)  # by alarm_key
    exercise: bool = False


@dataclass(frozen=True)
class LogLine:
    at: datetime
    station: str
    text: str


class Board:
    """Folds the messages of one or many stations into what the console shows."""

    def __init__(self, log_size: int = 200) -> None:
        self.stations: dict[str, StationState] = {}
        self.log: deque[LogLine] = deque(maxlen=log_size)

    def station(self, station: str) -> StationState:
        return self.stations.setdefault(station, StationState(station))

    def apply(self, station: str, topic: str, payload: bytes, prefix: str, retained: bool) -> LogLine | None:
        """Take in one message; returns the event-log line it makes (retained state makes none).

        What is not one of the contract's payloads changes nothing, and shows in the log as such.
        """
        decoded = decode(payload)
        if not isinstance(decoded, Unknown):
            self._fold(self.station(station), decoded)
        if retained or isinstance(decoded, ActiveAlarmsSnapshot | TelemetryEvent):
            return None
        line = LogLine(_moment(decoded), station, describe(topic, decoded, prefix))
        self.log.append(line)
        return line

    def _fold(self, state: StationState, payload: Payload) -> None:
        if isinstance(payload, StationStatusEvent):
            state.state, state.version, state.name = payload.state, payload.version, payload.name
        elif isinstance(payload, ActiveAlarmsSnapshot):
            state.alarms = {alarm.alarm_key: alarm for alarm in payload.alarms}
        elif isinstance(payload, DeviceStatusEvent):
            reason = f" ({payload.reason})" if payload.reason else ""
            state.devices[payload.device] = f"{payload.status}{reason}"
        elif isinstance(payload, AlarmEvent):
            _alarm_event(state, payload)
        elif isinstance(payload, StationReport):
            state.exercise = payload.exercise

    def active_alarms(self) -> list[tuple[str, ActiveAlarm]]:
        """Every active alarm of every station, most severe first."""
        alarms = [(s.station, alarm) for s in self.stations.values() for alarm in s.alarms.values()]
        return sorted(alarms, key=lambda item: (SEVERITY.get(item[1].level, 9), item[1].raised_at))


def _alarm_event(state: StationState, event: AlarmEvent) -> None:
    if event.state == AlarmState.CLEARED:  # acknowledged and back to normal: no longer on the board
        state.alarms.pop(event.alarm_key, None)
        return
    state.alarms[event.alarm_key] = ActiveAlarm(
        alarm_key=event.alarm_key,
        first_id=event.first_id,
        kind=event.kind,
        level=event.level,
        grade=event.grade,
        state=event.state,
        status=event.status,
        shelved=event.shelved,
        suppressed=event.suppressed,
        chattering=event.chattering,
        raised_at=event.raised_at,
        device=event.source.device,
        location=event.source.location,
        message=event.message,
    )


def _moment(payload: Payload | Unknown) -> datetime:
    if isinstance(payload, Unknown):
        return datetime.now().astimezone()
    return payload.created_at
