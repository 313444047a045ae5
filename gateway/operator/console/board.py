"""What the duty officer's console knows: each station's status, active alarms and recent events.

Built only from what the platform receives: the retained birth/Will, the
retained ``alarms/active`` snapshot (the truth after a reconnect), retained
device statuses and the live alarm events, which update the picture before
the next snapshot arrives. Kept free of MQTT and of the terminal so that it
can be tested and rendered on its own.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from gateway.operator.describe import describe


@dataclass
class StationState:
    station: str
    state: str = "unknown"  # online | offline | unknown (no retained birth yet)
    version: str = ""
    name: str = ""
    devices: dict[str, str] = field(default_factory=dict)  # device -> ok | fault (reason) | offline
    alarms: dict[str, dict] = field(default_factory=dict)  # alarm_key -> active alarm (snapshot shape)
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
        """Take in one message; returns the event-log line it makes (retained state makes none)."""
        try:
            body = json.loads(payload) if payload else None
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        state = self.station(station)
        schema = body.get("schema", "")
        if schema.startswith("outpost.status/"):
            state.state = body.get("state", "unknown")
            state.version = body.get("version", "")
            state.name = body.get("name", "")
        elif schema.startswith("outpost.alarms_active/"):
            state.alarms = {alarm["alarm_key"]: alarm for alarm in body.get("alarms", [])}
        elif schema.startswith("outpost.device_status/"):
            reason = f" ({body['reason']})" if body.get("reason") else ""
            state.devices[body["device"]] = f"{body['status']}{reason}"
        elif schema.startswith("outpost.alarm/"):
            self._alarm_event(state, body)
        elif schema.startswith("outpost.report/"):
            state.exercise = bool(body.get("exercise"))
        if retained or schema.startswith(("outpost.alarms_active/", "outpost.telemetry/")):
            return None
        line = LogLine(_moment(body), station, describe(topic, payload, prefix))
        self.log.append(line)
        return line

    @staticmethod
    def _alarm_event(state: StationState, event: dict) -> None:
        key = event["alarm_key"]
        if event["state"] == "cleared":  # acknowledged and back to normal: no longer on the board
            state.alarms.pop(key, None)
            return
        state.alarms[key] = {
            "alarm_key": key,
            "level": event["level"],
            "grade": event["grade"],
            "state": event["state"],
            "status": event.get("status", "actual"),
            "shelved": event.get("shelved", False),
            "raised_at": event.get("raised_at"),
            "device": event["source"]["device"],
            "location": event["source"].get("location", ""),
            "message": event.get("message", ""),
        }

    def active_alarms(self) -> list[tuple[str, dict]]:
        """Every active alarm of every station, most severe first."""
        order = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
        alarms = [(s.station, alarm) for s in self.stations.values() for alarm in s.alarms.values()]
        return sorted(
            alarms, key=lambda item: (order.get(item[1]["level"], 9), item[1].get("raised_at") or "")
        )


def _moment(body: dict) -> datetime:
    try:
        return datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    except (KeyError, ValueError, AttributeError):
        return datetime.now().astimezone()
