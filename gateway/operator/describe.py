"""One readable line per message the district platform receives."""

from __future__ import annotations

from gateway.contract.decode import Payload, Unknown
from gateway.contract.events import AlarmEvent, DeviceStatusEvent, StationStatusEvent


def describe(topic: str, payload: Payload | Unknown, prefix: str) -> str:
    """``topic`` relative to ``prefix`` and the gist of the (decoded) payload."""
    where = topic.removeprefix(prefix + "/")
    if isinstance(payload, Unknown):
        return f"{where}: ({payload.reason}, {payload.size} bytes)"
    if isinstance(payload, AlarmEvent):
        return (
            f"#{payload.seq} ALARM {payload.transition.upper():<13} {payload.level:<6} {payload.alarm_key}"
            f"  {payload.message}"
        )
    if isinstance(payload, DeviceStatusEvent):
        reason = f" ({payload.reason})" if payload.reason else ""
        return f"#{payload.seq} device {payload.device}: {payload.status}{reason}"
    if isinstance(payload, StationStatusEvent):
        return f"#{payload.seq} station {payload.station} {payload.state} (version {payload.version})"
    return f"#{payload.seq} {where}: {payload.schema_}"
