"""One line, in words a duty officer reads, per message the district platform receives.

Structured fields (transition, grade, colour, health) become words of the
chosen language from :mod:`gateway.i18n`; device names, locations and alarm
keys pass through as written. The line carries no time: the console and the
demo put the station's local time in front. The command path's own traffic
(the commands on ``cmd/...`` and their answers) is told apart, so that a
person watching events sees it only when asking for it (``--debug``).
"""

from __future__ import annotations

from gateway.contract.decode import Payload, Unknown
from gateway.contract.events import (
    ActiveAlarmsSnapshot,
    AlarmEvent,
    AlarmState,
    CommandResult,
    DeviceStatusEvent,
    EventStatus,
    RadioTraffic,
    Reading,
    StationReport,
    StationStatusEvent,
    TelemetryEvent,
)
from gateway.i18n import Translator


def is_protocol(where: str, payload: Payload | Unknown) -> bool:
    """A command on its way to a station, or a station's answer to one."""
    return where.startswith("cmd/") or isinstance(payload, CommandResult)


def short_key(alarm_key: str) -> str:
    """``device.alarm``: the alarm key within its station."""
    return alarm_key.split(".", 1)[-1]


def quantity(value: float | bool, unit: str | None, t: Translator) -> str:
    """``61 %LEL``; an on/off point in words."""
    if isinstance(value, bool):
        return t("value.on" if value else "value.off")
    return f"{value:.4g} {unit}" if unit else f"{value:.4g}"


def reading(value: float | bool | None, unit: str | None, threshold: float | None, t: Translator) -> str:
    """``61 %LEL, threshold 50 %LEL``, or nothing when the alarm carries no value."""
    if value is None:
        return ""
    if threshold is None:
        return quantity(value, unit, t)
    return t("event.value_threshold", value=quantity(value, unit, t), threshold=quantity(threshold, unit, t))


def after(text: str, t: Translator) -> str:
    """``: TEXT`` to follow a name, or nothing for no text."""
    return t("event.reading", reading=text) if text else ""


def describe(where: str, payload: Payload | Unknown, t: Translator) -> str:
    """``where`` is the topic within the station's prefix (``alarm``, ``device/kitchen-gas/status``)."""
    if isinstance(payload, Unknown):
        return t("event.unknown", topic=where, reason=payload.reason, size=payload.size)
    return f"#{payload.seq} {_gist(payload, t)}"


def _gist(payload: Payload, t: Translator) -> str:
    match payload:
        case AlarmEvent():
            return _alarm(payload, t)
        case DeviceStatusEvent(device=device, status=status, reason=reason):
            health = t.word("health", status.value) + (f" ({reason})" if reason else "")
            return t("event.device", device=device, health=health)
        case StationStatusEvent(state="online"):
            return t("event.online", station=payload.station, version=payload.version)
        case StationStatusEvent():
            return t("event.offline", station=payload.station) + (
                f" ({payload.reason})" if payload.reason else ""
            )
        case ActiveAlarmsSnapshot(alarms=[]):
            return t("event.active_none")
        case ActiveAlarmsSnapshot(alarms=alarms):
            active = sum(a.state in (AlarmState.ACTIVE_UNACK, AlarmState.ACTIVE_ACK) for a in alarms)
            listed = ", ".join(f"{short_key(a.alarm_key)} {t.word('grade', a.grade.value)}" for a in alarms)
            return t("event.alarms", active=active, cleared=len(alarms) - active, alarms=listed)
        case TelemetryEvent(device=device, readings=readings):
            return t("event.readings", device=device, readings=_summary(readings, t))
        case StationReport(all_clear=True):
            return t("event.report_clear")
        case StationReport(active_alarms=active):
            return t("event.report", count=len(active))
        case CommandResult(ok=True, command=command):
            return t("event.answer_ok", command=command)
        case CommandResult(command=command, error=error):
            return t("event.answer_refused", command=command, error=error or "")
        case RadioTraffic(event="message", radio=radio, text=text):
            return t("event.radio_message", radio=radio.radio if radio else "?", text=text)
        case RadioTraffic(deliveries=deliveries, text=text):
            return t("event.radio_delivery", count=len(deliveries), text=text)
    return payload.schema_


def _summary(readings: dict[str, Reading], t: Translator) -> str:
    """The measurements (values with a unit) and the flags that are on; raw status words left out."""
    shown = [
        f"{name} {quantity(r.value, r.unit, t)}" if r.unit else name
        for name, r in readings.items()
        if r.unit or r.value is True
    ]
    return ", ".join(shown) or "–"


def _alarm(event: AlarmEvent, t: Translator) -> str:
    line = t(
        "event.alarm",
        transition=t.word("transition", event.transition.value),
        grade=t.word("grade", event.grade.value),
        colour=t.word("colour", event.level.value),
        key=short_key(event.alarm_key),
        location=event.source.location,
    )
    line += after(reading(event.value, event.unit, event.threshold, t), t)
    if event.acknowledged_by and event.transition == "acknowledged":
        line += t("event.by", who=event.acknowledged_by)
    if event.status != EventStatus.ACTUAL:
        line += f" [{t.word('status', event.status.value)}]"
    if event.value is None:
        line += f"  {event.message}"  # a fault's reason, a radio's caller: only the message says it
    return line
