"""What the gateway makes of a radio event: a ``radio_sos`` alarm, a link fault, a message.

Each press is a ``radio_sos`` alarm at the life-safety level (``radios.level``),
latched until reset, one per radio (``station.radio-<id>.sos``). Copies of the
same press (APRS retransmissions, digipeated copies, a receiver's repeats)
within ``dedupe_window`` of the previous one are merged into it and counted;
a press after the window, while the alarm is still active, announces it again
(``realarmed``) and needs a fresh acknowledgement: the person is still
waiting. A radio nobody registered still raises its alarm, marked unknown.
"""

from __future__ import annotations

import re

from drivers.radio.events import RadioEvent, RadioEventKind
from gateway.alarms.conditions import COMM_CONDITION, NORMAL_CONDITION, RADIO_CONDITION
from gateway.alarms.engine import AlarmEngine
from gateway.config.radios import RadiosConfig
from gateway.contract.events import AlarmSource, Envelope, RadioDetails, RadioTraffic
from gateway.contract.levels import Grade
from gateway.radio.registry import RadioRegistry

SOS_KIND = "radio_sos"
SOS_ALARM = "sos"
LINK_ALARM = "link"
RADIO_PROFILE = "radio"


def radio_device(radio: str) -> str:
    """The alarm key's device part for a radio: ``radio-bh4abc-7`` (key-safe)."""
    return "radio-" + (re.sub(r"[^a-z0-9_-]", "_", radio.lower()) or "unknown")


class RadioAlarms:
    """Radio events in, events for the outbox out; the engine keeps the alarms' lifecycle."""

    def __init__(self, config: RadiosConfig, engine: AlarmEngine, registry: RadioRegistry, stamp) -> None:
        self._config = config
        self._engine = engine
        self._registry = registry
        self._stamp = stamp
        self._last_press: dict[str, float] = {}  # radio -> monotonic time of its last press

    def handle(self, event: RadioEvent) -> list[Envelope]:
        if event.kind is RadioEventKind.LINK:
            return self._link(event)
        if event.radio:
            self._registry.heard(event.radio, event.bridge, event.position, event.received_at)
        match event.kind:
            case RadioEventKind.EMERGENCY:
                return self._press(event)
            case RadioEventKind.RESTORE:
                return self._restore(event)
            case RadioEventKind.TEXT | RadioEventKind.STATUS:
                return [
                    RadioTraffic(event="message", radio=self.details(event), text=event.text, **self._stamp())
                ]
        return []  # a position: remembered for the next alarm

    def details(self, event: RadioEvent, presses: int = 1) -> RadioDetails:
        member = self._registry.member(event.radio)
        return RadioDetails(
            radio=event.radio,
            known=member is not None,
            member=member.name if member else None,
            team=(member.team or None) if member else None,
            role=(member.role or None) if member else None,
            bridge=event.bridge,
            channel=event.channel,
            text=event.text,
            code=event.code,
            position=self._registry.position(event.radio, event.received_at),
            signal=event.signal,
            via=list(event.via),
            raw_hex=event.raw.hex(),
            presses=presses,
        )

    def _source(self, event: RadioEvent, details: RadioDetails) -> AlarmSource:
        who = details.member or f"unknown radio {event.radio}"
        where = f"{details.position.lat:.5f},{details.position.lon:.5f}" if details.position else ""
        return AlarmSource(
            device=radio_device(event.radio),
            point=None,
            bus=event.bridge,
            profile=RADIO_PROFILE,
            location=f"{who} ({where})" if where else who,
        )

    def _level(self, event: RadioEvent) -> Grade:
        try:
            return Grade(event.level) if event.level else self._config.level
        except ValueError:
            return self._config.level

    def _press(self, event: RadioEvent) -> list[Envelope]:
        device = radio_device(event.radio)
        alarm, previous = self._engine.alarm_of(device, SOS_ALARM)
        last = self._last_press.get(device)
        self._last_press[device] = event.received_monotonic
        active = alarm is not None and alarm.active
        presses = (previous.presses + 1) if active and previous is not None else 1
        details = self.details(event, presses)
        within = last is not None and event.received_monotonic - last <= self._config.dedupe_window
        if active and within:
            self._engine.note_repeat(device, SOS_ALARM, details)  # a copy of the same press
            return []
        who = details.member or f"unknown radio {event.radio}"
        text = f"EMERGENCY from {who} ({event.radio}) via {event.bridge}: {event.text}".strip()
        return self._engine.external(
            device,
            SOS_ALARM,
            kind=SOS_KIND,
            grade=self._level(event),
            condition=RADIO_CONDITION,
            text=text,
            source=self._source(event, details),
            observed_at=event.received_at,
            now=event.received_monotonic,
            latched=True,
            radio=details,
            repeat=True,
        )

    def _restore(self, event: RadioEvent) -> list[Envelope]:
        """The radio (receiver) says it is over; the alarm stays latched until a reset."""
        details = self.details(event)
        return self._engine.external(
            radio_device(event.radio),
            SOS_ALARM,
            kind=SOS_KIND,
            grade=None,
            condition=NORMAL_CONDITION,
            text=f"{event.radio}: restore via {event.bridge}",
            source=self._source(event, details),
            observed_at=event.received_at,
            now=event.received_monotonic,
            latched=True,
            radio=details,
        )

    def _link(self, event: RadioEvent) -> list[Envelope]:
        device = f"radio-bridge-{event.bridge}"
        source = AlarmSource(device=device, point=None, bus=event.bridge, profile=RADIO_PROFILE, location="")
        return self._engine.external(
            device,
            LINK_ALARM,
            kind="device_fault",
            grade=None if event.link_ok else Grade.FAULT,
            condition=NORMAL_CONDITION if event.link_ok else COMM_CONDITION,
            text=f"radio bridge {event.bridge}: {event.text}",
            source=source,
            observed_at=event.received_at,
            now=event.received_monotonic,
        )
