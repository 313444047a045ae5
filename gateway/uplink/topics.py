"""The MQTT contract: which topic, QoS, retain flag and priority each event gets."""

from __future__ import annotations

from collections.abc import Callable

from gateway.events import AlarmEvent, DeviceStatusEvent, Envelope, StationStatusEvent
from gateway.uplink.queue import Outbound, Priority


def status_topic(prefix: str) -> str:
    return f"{prefix}/status"


def outbound(event: Envelope, prefix: str, order: Callable[[], int]) -> Outbound:
    """Route ``event`` per the contract in the README."""
    payload = event.to_json()
    match event:
        case AlarmEvent(kind="device_fault"):
            return Outbound(Priority.FAULT, order(), f"{prefix}/alarm", payload)
        case AlarmEvent():
            return Outbound(Priority.ALARM, order(), f"{prefix}/alarm", payload)
        case DeviceStatusEvent(device=device):
            topic = f"{prefix}/device/{device}/status"
            return Outbound(Priority.STATUS, order(), topic, payload, retain=True)
        case StationStatusEvent():
            return Outbound(Priority.STATUS, order(), status_topic(prefix), payload, retain=True)
    raise TypeError(f"no topic for {type(event).__name__}")
