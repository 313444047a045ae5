"""What a radio driver hands upward: a press, a restore, a text, a position, the link's health."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from drivers.radio.position import Position
from drivers.shown import shown


class RadioEventKind(StrEnum):
    EMERGENCY = "emergency"  # an emergency button, a Mic-E Emergency status, an SOS message
    RESTORE = "restore"  # the radio (or alarm receiver) says the emergency is over
    STATUS = "status"  # a routine status line from a control station
    TEXT = "text"  # a message for the station's people
    POSITION = "position"  # where a radio is
    LINK = "link"  # the bridge's own link to its TNC or receiver: ``link_ok`` says how it is


@dataclass(frozen=True, slots=True)
class RadioEvent:
    """One thing a radio said, as heard by one bridge.

    ``radio`` is the callsign (APRS) or radio id (line protocols) as the wire
    gives it; the gateway looks it up in its registry. ``raw`` is the frame as
    received, for the record. ``fingerprint`` is the same for copies of one
    transmission (an APRS message's number and text, a Mic-E report's
    information field, a receiver's record) and differs for a new one: only
    copies are merged.
    """

    kind: RadioEventKind
    bridge: str
    radio: str
    channel: str
    text: str = ""
    code: str | None = None  # the line protocol's event code (Contact ID "1100", ...)
    level: str | None = None  # the level the code maps to, if the bridge has a table
    position: Position | None = None
    signal: dict[str, float] = field(default_factory=dict)
    raw: bytes = b""
    via: tuple[str, ...] = ()  # digipeaters the frame came through
    fingerprint: str = ""  # what makes two frames copies of one transmission ("": the text)
    account: str | None = None  # an alarm receiver's account, zone or user, and partition
    zone: str | None = None
    user: str | None = None
    partition: str | None = None
    link_ok: bool = True
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    received_monotonic: float = field(default_factory=time.monotonic)


RadioEmit = Callable[[RadioEvent], Awaitable[None]]
"""The gateway's side: returns once the event is durably queued, raises if it could not be."""


class NotKept(RuntimeError):
    """The gateway could not keep an event (its storage refused it); the message says why."""


async def kept(emit: RadioEmit, event: RadioEvent, log: logging.Logger) -> bool:
    """Hand ``event`` to the gateway; whether it was kept (only then may the radio be acknowledged).

    A failure is logged and reported, never fatal to the bridge: the radio, not
    acknowledged, sends the press again. A refusal the gateway explains
    (:class:`NotKept`) is one line; anything else is a bug, logged with its traceback.
    """
    try:
        await emit(event)
    except NotKept as exc:
        log.warning(
            "%s: %s from %s not acknowledged: %s",
            event.bridge,
            event.kind,
            shown(event.radio),
            exc,
        )
        return False
    except Exception:
        log.exception(
            "%s: the gateway could not keep %s from %s; not acknowledged",
            event.bridge,
            event.kind,
            shown(event.radio),
        )
        return False
    return True
