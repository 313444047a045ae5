"""What the gateway makes of a radio event: a ``radio_sos`` alarm, a link fault, a message.

Each press is a ``radio_sos`` alarm at the life-safety level (``radios.level``)
or the level its code maps to, latched until reset: one per radio
(``station.radio-<id>.sos``), and one per zone of an alarm receiver's account
(``station.radio-<account>.sos-<zone>``).

Only true copies are merged (counted in ``presses``, nothing announced): a
frame with the same fingerprint as the alarm's last one (an APRS
retransmission or digipeated copy, a receiver's resend of the same record)
within ``dedupe_window``. Anything else is a new fact and is announced at once:
a higher grade escalates (``level_changed``); a new text or code within the
window is ``updated``, carrying it; a press after a restore, after the window,
or the same text under a new message number asks for attention again
(``realarmed``, a fresh acknowledgement needed). A restore marks the latched
alarm ``restored`` (an ``updated`` event); with no alarm to restore it is a
``restore`` message on ``{p}/radio``. A radio nobody registered still raises
its alarm, marked unknown.

What was last heard for each alarm and where each radio was are kept with the
alarm state (:mod:`gateway.radio.memory`): a copy heard after a restart is still
merged. A press whose alarm could not be stored is forgotten there, so the
radio's repeat (it got no acknowledgement) is announced, not merged. A
registered radio's position is stored as it comes; another radio's goes with
its next press.
"""

from __future__ import annotations

import re
from collections import Counter

from drivers.radio.events import RadioEvent, RadioEventKind
from gateway.alarms.conditions import COMM_CONDITION, NORMAL_CONDITION, RADIO_CONDITION
from gateway.alarms.engine import AlarmEngine
from gateway.config.radios import RadiosConfig
from gateway.contract.events import AlarmSource, Envelope, RadioDetails, RadioTraffic
from gateway.contract.levels import Grade
from gateway.radio.memory import RadioMemory
from gateway.radio.registry import RadioRegistry

SOS_KIND = "radio_sos"
SOS_ALARM = "sos"
LINK_ALARM = "link"
RADIO_PROFILE = "radio"


def radio_device(radio: str) -> str:
    """The alarm key's device part for a radio: ``radio-bh4abc-7`` (key-safe)."""
    return "radio-" + (re.sub(r"[^a-z0-9_-]", "_", radio.lower()) or "unknown")


def sos_alarm(event: RadioEvent) -> str:
    """The alarm's name: ``sos``, or ``sos-<zone>`` for a receiver's zone (``000``: no zone)."""
    zone = re.sub(r"[^a-z0-9_-]", "_", (event.zone or "").lower())
    return f"{SOS_ALARM}-{zone}" if zone.strip("0") else SOS_ALARM


class RadioAlarms:
    """Radio events in, events for the outbox out; the engine keeps the alarms' lifecycle."""

    def __init__(self, config: RadiosConfig, engine: AlarmEngine, registry: RadioRegistry, stamp) -> None:
        self._config = config
        self._engine = engine
        self._registry = registry
        self._stamp = stamp
        self._memory = RadioMemory(engine, config.dedupe_window)
        self.counts: Counter[tuple[str, str]] = Counter()  # (bridge, "presses" | "merged") -> count

    def handle(self, event: RadioEvent) -> list[Envelope]:
        if event.kind is RadioEventKind.LINK:
            return self._link(event)
        if event.radio:
            self._registry.heard(event.radio, event.bridge)
        if event.position is not None:
            known = self._registry.member(event.radio) is not None
            store = known or event.kind is not RadioEventKind.POSITION
            self._memory.fixed(event.radio, event.position, event.received_at, store=store)
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

    def details(self, event: RadioEvent, presses: int = 1, *, restored: bool = False) -> RadioDetails:
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
            position=self._memory.position(event.radio, event.received_at),
            signal=event.signal,
            via=list(event.via),
            raw_hex=event.raw.hex(),
            presses=presses,
            account=event.account,
            zone=event.zone,
            user=event.user,
            partition=event.partition,
            restored=restored,
        )

    def _copy(self, event: RadioEvent, device: str, name: str) -> tuple[bool, bool]:
        """Is ``event`` a copy of the alarm's last frame, and did it come within the window?"""
        alarm = f"{device}.{name}"
        last = self._memory.last(alarm)
        fingerprint = f"{event.kind} {event.fingerprint or event.text}"
        self._memory.heard(alarm, fingerprint, event.received_at)
        within = last is not None and last.within(event.received_at, self._config.dedupe_window)
        return within and last is not None and last.fingerprint == fingerprint, within

    def forget(self, event: RadioEvent) -> None:
        """``event``'s press could not be stored: its repeat is a new press, not a copy."""
        if event.kind in (RadioEventKind.EMERGENCY, RadioEventKind.RESTORE):
            self._memory.forget(f"{radio_device(event.radio)}.{sos_alarm(event)}")

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
        device, name = radio_device(event.radio), sos_alarm(event)
        alarm, previous = self._engine.alarm_of(device, name)
        copy, within = self._copy(event, device, name)
        self._memory.store_positions()
        if alarm is None or not alarm.active:
            previous = None  # a new occurrence
        details = self.details(event, previous.presses + 1 if previous else 1)
        self.counts[(event.bridge, "presses")] += 1
        if previous is not None and copy:
            self.counts[(event.bridge, "merged")] += 1
            self._engine.note_repeat(device, name, details)  # announced with the alarm's next event
            return []
        who = details.member or self._engine.t("alarm.radio_unknown", radio=event.radio)
        grade = self._level(event)
        source = self._source(event, details)
        if (
            alarm is not None
            and previous is not None
            and within
            and not previous.restored
            and (event.text, event.code) != (previous.text, previous.code)
            and grade.rank <= alarm.grade.rank
        ):
            text = self._say("alarm.radio_update", event, who)
            return self._engine.external_update(device, name, text=text, source=source, radio=details)
        text = self._say("alarm.radio_emergency", event, who)
        return self._engine.external(
            device,
            name,
            kind=SOS_KIND,
            grade=grade,
            condition=RADIO_CONDITION,
            text=text,
            source=source,
            observed_at=event.received_at,
            now=event.received_monotonic,
            latched=True,
            radio=details,
            repeat=True,
        )

    def _say(self, key: str, event: RadioEvent, who: str) -> str:
        """A press's message in the station's language; the radio's own text as it was sent."""
        return self._engine.t(key, who=who, radio=event.radio, bridge=event.bridge, text=event.text).strip()

    def _restore(self, event: RadioEvent) -> list[Envelope]:
        """The radio (receiver) says it is over: the latched alarm is marked restored, awaiting a reset."""
        device, name = radio_device(event.radio), sos_alarm(event)
        alarm, previous = self._engine.alarm_of(device, name)
        copy, _ = self._copy(event, device, name)
        if copy:
            return []  # the receiver sent the same restore again
        if alarm is None or not alarm.active or previous is None:
            details = self.details(event)
            return [RadioTraffic(event="restore", radio=details, text=event.text, **self._stamp())]
        details = self.details(event, previous.presses, restored=True)
        return self._engine.external_update(
            device,
            name,
            text=self._engine.t("alarm.radio_restore", radio=event.radio, bridge=event.bridge),
            source=self._source(event, details),
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
            text=self._engine.t("alarm.radio_link", bridge=event.bridge, text=event.text),
            source=source,
            observed_at=event.received_at,
            now=event.received_monotonic,
        )
