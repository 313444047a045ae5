"""The MQTT contract: which topic, QoS, retain flag and priority each event gets."""

from __future__ import annotations

from gateway.contract.events import (
    ActiveAlarmsSnapshot,
    AlarmEvent,
    CommandResult,
    DeviceStatusEvent,
    Envelope,
    RadioTraffic,
    ResponseEvent,
    StationReport,
    StationStatusEvent,
    TelemetryEvent,
)
from gateway.outbox import Message, OutboxPriority


def status_topic(prefix: str) -> str:
    return f"{prefix}/status"


def command_topics(prefix: str) -> str:
    """The only topics the gateway subscribes to: its own station's commands."""
    return f"{prefix}/cmd/+"


def result_topic(prefix: str) -> str:
    return f"{prefix}/cmd/result"


def telemetry_topic(prefix: str, device: str) -> str:
    return f"{prefix}/telemetry/{device}"


def telemetry_message(prefix: str, device: str, payload: bytes) -> Message:
    """Telemetry's route, for a payload made with or without :class:`TelemetryEvent`."""
    return Message(OutboxPriority.TELEMETRY, telemetry_topic(prefix, device), payload)


def message_for(event: Envelope, prefix: str) -> Message:
    """Route ``event`` per the contract in the README."""
    payload = event.to_json()
    match event:
        case AlarmEvent(kind="device_fault"):
            return Message(OutboxPriority.FAULT, f"{prefix}/alarm", payload)
        case AlarmEvent():
            return Message(OutboxPriority.ALARM, f"{prefix}/alarm", payload)
        case DeviceStatusEvent(device=device):
            return Message(OutboxPriority.STATUS, f"{prefix}/device/{device}/status", payload, retain=True)
        case StationStatusEvent():
            return Message(OutboxPriority.STATUS, status_topic(prefix), payload, retain=True)
        case ActiveAlarmsSnapshot():
            return Message(OutboxPriority.STATUS, f"{prefix}/alarms/active", payload, retain=True)
        case StationReport():
            return Message(OutboxPriority.REPORT, f"{prefix}/report", payload)
        case TelemetryEvent(device=device):
            return telemetry_message(prefix, device, payload)
        case ResponseEvent():
            return Message(OutboxPriority.ALARM, f"{prefix}/response", payload)
        case RadioTraffic():
            return Message(OutboxPriority.STATUS, f"{prefix}/radio", payload)
        case CommandResult():
            return Message(OutboxPriority.STATUS, result_topic(prefix), payload)
    raise TypeError(f"no topic for {type(event).__name__}")
