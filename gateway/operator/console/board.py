"""What the duty officer's console knows: each station's status, its alarms and recent events.

Built only from what the platform receives: the retained birth/Will, the
retained ``alarms/active`` snapshot (the truth after a reconnect), retained
device statuses and the live alarm events, which update the picture before
the next snapshot arrives. Events and snapshots travel apart (an event waits
its turn in the outbox, a snapshot goes out at once), so either may arrive
after a newer one of the other: each counts only if its ``seq`` is newer than
what the board already knows of that alarm. An alarm's last value and threshold are kept from
the events that carried them: neither the snapshot nor an acknowledgement
repeats them, and the officer still needs to see how high the gas was. Kept
free of MQTT, of the terminal and of any language, so that it can be tested
and rendered on its own.
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
from gateway.operator.describe import is_protocol

SEVERITY = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}  # the board's order, most severe first
ACTIVE = (AlarmState.ACTIVE_UNACK, AlarmState.ACTIVE_ACK)
REMEMBERED_IDS = 2000  # a resend after a reconnect comes within this many messages of the first copy


@dataclass(frozen=True)
class AlarmValue:
    """The value an alarm's events last carried, with its unit and the threshold it crossed."""

    value: float | bool
    unit: str | None
    threshold: float | None


@dataclass
class StationState:
    station: str
    state: str = "unknown"  # online | offline | unknown (no retained birth yet)
    version: str = ""
    name: str = ""
    devices: dict[str, DeviceStatusEvent] = field(default_factory=dict)
    alarms: dict[str, ActiveAlarm] = field(default_factory=dict)  # by alarm_key
    values: dict[str, AlarmValue] = field(default_factory=dict)  # by alarm_key, while on the board
    exercise: bool = False
    boot_id: str = ""  # the gateway run the seq marks below belong to
    snapshot_seq: int = 0  # the seq of the snapshot the board holds
    event_seq: dict[str, int] = field(default_factory=dict)  # by alarm_key: its newest event's seq

    def take_snapshot(self, snapshot: ActiveAlarmsSnapshot) -> None:
        """The snapshot's alarms, except where an event newer than it has been seen."""
        if snapshot.seq <= self.snapshot_seq:
            return  # an older snapshot arriving late
        newer = {key for key, seq in self.event_seq.items() if seq > snapshot.seq}
        alarms = {a.alarm_key: a for a in snapshot.alarms if a.alarm_key not in newer}
        alarms |= {key: alarm for key, alarm in self.alarms.items() if key in newer}
        self.alarms = alarms
        self.snapshot_seq = snapshot.seq
        self.event_seq = {key: seq for key, seq in self.event_seq.items() if key in newer}

    def take_event(self, event: AlarmEvent) -> None:
        """One alarm transition, unless the board already knows a newer state of that alarm
        (a late event, or one sent again after a reconnect)."""
        if event.seq <= max(self.snapshot_seq, self.event_seq.get(event.alarm_key, 0)):
            return
        self.event_seq[event.alarm_key] = event.seq
        if event.state == AlarmState.CLEARED:  # acknowledged and back to normal: off the board
            self.alarms.pop(event.alarm_key, None)
            return
        if event.value is not None:
            self.values[event.alarm_key] = AlarmValue(event.value, event.unit, event.threshold)
        self.alarms[event.alarm_key] = ActiveAlarm.from_event(event)

    def take_status(self, status: StationStatusEvent) -> None:
        """The birth or Will; a new run of the gateway numbers on from a new mark."""
        if status.boot_id != self.boot_id:
            self.boot_id, self.snapshot_seq, self.event_seq = status.boot_id, 0, {}
        self.state, self.version, self.name = status.state, status.version, status.name


@dataclass(frozen=True)
class LogLine:
    at: datetime
    station: str
    where: str  # the topic within the station's prefix
    payload: Payload | Unknown


@dataclass(frozen=True)
class Listed:
    """An alarm as the board lists it: the station, the alarm and its last value."""

    station: str
    alarm: ActiveAlarm
    value: AlarmValue | None


class Board:
    """Folds the messages of one or many stations into what the console shows."""

    def __init__(self, log_size: int = 200, *, protocol: bool = False) -> None:
        self.stations: dict[str, StationState] = {}
        self.log: deque[LogLine] = deque(maxlen=log_size)
        self._protocol = protocol  # log the command path's own traffic too (``--debug``)
        self._recent_ids: deque[str] = deque(maxlen=REMEMBERED_IDS)  # what was logged lately

    def station(self, station: str) -> StationState:
        return self.stations.setdefault(station, StationState(station))

    def apply(self, station: str, topic: str, payload: bytes, prefix: str, retained: bool) -> LogLine | None:
        """Take in one message; returns the event-log line it makes (retained state makes none, nor
        the command path's own traffic unless asked for, nor a second copy of a message: delivery
        is at least once, and the same event twice would read as two).

        What is not one of the contract's payloads changes nothing, and shows in the log as such.
        """
        decoded = decode(payload)
        if not isinstance(decoded, Unknown):
            self._fold(self.station(station), decoded)
        where = topic.removeprefix(prefix + "/")
        if retained or isinstance(decoded, ActiveAlarmsSnapshot | TelemetryEvent):
            return None
        if not isinstance(decoded, Unknown):
            if decoded.id in self._recent_ids:
                return None
            self._recent_ids.append(decoded.id)
        if is_protocol(where, decoded) and not self._protocol:
            return None
        line = LogLine(_moment(decoded), station, where, decoded)
        self.log.append(line)
        return line

    def _fold(self, state: StationState, payload: Payload) -> None:
        if isinstance(payload, StationStatusEvent):
            state.take_status(payload)
        elif isinstance(payload, ActiveAlarmsSnapshot):
            state.take_snapshot(payload)
        elif isinstance(payload, DeviceStatusEvent):
            state.devices[payload.device] = payload
        elif isinstance(payload, AlarmEvent):
            state.take_event(payload)
        elif isinstance(payload, StationReport):
            state.exercise = payload.exercise
        state.values = {key: value for key, value in state.values.items() if key in state.alarms}

    def listed(self) -> list[Listed]:
        """Every alarm on the board, numbered in this order: active ones, then cleared ones awaiting
        acknowledgement; each part most severe first, then oldest first."""
        alarms = [
            Listed(s.station, alarm, s.values.get(key))
            for s in self.stations.values()
            for key, alarm in s.alarms.items()
        ]
        return sorted(
            alarms,
            key=lambda item: (
                item.alarm.state not in ACTIVE,
                SEVERITY.get(item.alarm.level, 9),
                item.alarm.raised_at,
            ),
        )

    def find(self, short_key: str) -> list[str]:
        """The stations with an alarm ``STATION.short_key`` on the board."""
        return [s.station for s in self.stations.values() if f"{s.station}.{short_key}" in s.alarms]


def _moment(payload: Payload | Unknown) -> datetime:
    if isinstance(payload, Unknown):
        return datetime.now().astimezone()
    return payload.created_at
