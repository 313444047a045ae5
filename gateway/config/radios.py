"""The ``radios:`` section: radio bridges, the radio registry, groups and what a press means.

Example (every key but ``callsign`` and ``bridges`` optional)::

    radios:
      callsign: BH4XYZ-10             # the gateway's APRS callsign
      keywords: [SOS, HELP, MAYDAY, 救命]
      ack_text: "Help is coming. Stay on this channel."
      dedupe_window: 60s              # repeats of one press within this are one alarm, counted
      retry: {initial: 30s, maximum: 4m, attempts: 5}
      bridges:
        vhf:   {type: kiss-tcp, host: 127.0.0.1, port: 8001}
        usb:   {type: kiss-serial, port: /dev/ttyACM0, baudrate: 9600}
        alarm-receiver: {type: line-radio, serial: {port: /dev/ttyUSB2}, profile: surgard-contact-id}
      registry:
        BH4ABC-7: {name: Li Wei, team: rescue-1, role: team leader}
      groups:
        rescue-1: [BH4ABC-7, BH4DEF-9]
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.config.serial import SerialPortConfig
from gateway.config.types import AsciiBytes, Identifier, Port, Seconds, Strict, in_range, rejected
from gateway.contract.levels import Grade

_CALLSIGN = re.compile(r"^[A-Z0-9]{1,6}(-(1[0-5]|[0-9]))?$")


def _callsign(value: str) -> str:
    value = value.upper()
    if not _CALLSIGN.match(value):
        raise rejected("callsign", "must be a callsign such as BH4XYZ or BH4XYZ-10 (SSID 0..15)", repr(value))
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise rejected("regex", f"must be a regular expression ({exc})", repr(value)) from None
    return value


Callsign = Annotated[str, AfterValidator(_callsign)]
Regex = Annotated[str, AfterValidator(_regex)]
RadioId = Annotated[str, Field(min_length=1, max_length=32)]


class RetryConfig(Strict):
    """Outgoing APRS messages: resent after ``initial``, doubling up to ``maximum``, ``attempts`` times."""

    initial: Seconds = 30.0
    maximum: Seconds = 240.0
    attempts: Annotated[int, in_range(1, 20)] = 5


class KissTcpBridge(Strict):
    """A KISS TNC on the network (direwolf's KISSPORT, a TNC with a TCP server)."""

    type: Literal["kiss-tcp"]
    host: str = "127.0.0.1"
    port: Port = 8001
    kiss_port: Annotated[int, in_range(0, 15)] = 0
    path: list[Callsign] = Field(default_factory=list)  # e.g. [WIDE1-1]
    reconnect_max: Seconds = 10.0


class KissSerialBridge(SerialPortConfig):
    """A KISS TNC on a serial port (a hardware TNC, a radio with a built-in one)."""

    type: Literal["kiss-serial"]
    kiss_port: Annotated[int, in_range(0, 15)] = 0
    path: list[Callsign] = Field(default_factory=list)
    reconnect_max: Seconds = 10.0


class LineRuleConfig(Strict):
    """Lines matching ``match`` are this ``event``; ``heartbeat`` lines only prove the link."""

    event: Literal["emergency", "restore", "status", "text", "heartbeat"]
    match: Regex


class LineRadioProtocolConfig(Strict):
    """How a text-speaking radio or alarm receiver talks (a profile, or inline in the bridge)."""

    description: str = ""
    protocol: Literal["line-radio"] = "line-radio"
    start: AsciiBytes = b""
    end: AsciiBytes = b"\n"
    max_length: Annotated[int, in_range(4, 4096)] = 256
    rules: list[LineRuleConfig] = Field(min_length=1)
    levels: dict[str, Grade] = Field(default_factory=dict)  # event code -> level
    ack: str | None = None  # e.g. "\x06", or "ACK {code}\r\n" with the line's named groups
    outbound: str | None = None  # e.g. "MSG {radio} {text}\r\n"


class TcpEndpointConfig(Strict):
    host: str
    port: Port


class LineRadioBridge(Strict):
    """A control station or alarm receiver speaking text lines, over ``tcp`` or ``serial``."""

    type: Literal["line-radio"]
    tcp: TcpEndpointConfig | None = None
    serial: SerialPortConfig | None = None
    profile: Identifier | None = None
    protocol: LineRadioProtocolConfig | None = None
    heartbeat_timeout: Seconds | None = None  # nothing heard this long: radio-link fault
    reconnect_max: Seconds = 10.0

    @model_validator(mode="after")
    def _one_of_each(self) -> Self:
        if (self.tcp is None) == (self.serial is None):
            raise PydanticCustomError("bridge", "give 'tcp' or 'serial' (one of them)")
        if (self.profile is None) == (self.protocol is None):
            raise PydanticCustomError("bridge", "give 'profile' (a shipped one) or 'protocol' (inline)")
        return self


Bridge = Annotated[KissTcpBridge | KissSerialBridge | LineRadioBridge, Field(discriminator="type")]
KISS_BRIDGES = (KissTcpBridge, KissSerialBridge)


class RadioMember(Strict):
    """Who carries a radio."""

    name: str
    team: str = ""
    role: str = ""


class RadiosConfig(Strict):
    callsign: Callsign | None = None  # required with a KISS bridge (checked by the loader)
    bridges: dict[Identifier, Bridge] = Field(min_length=1)
    registry: dict[RadioId, RadioMember] = Field(default_factory=dict)
    groups: dict[Identifier, list[RadioId]] = Field(default_factory=dict)
    keywords: list[str] = Field(default_factory=lambda: ["SOS", "HELP", "MAYDAY", "EMERGENCY", "救命"])
    ack_text: str = Field(default="Help is coming. Stay on this channel.", min_length=1, max_length=67)
    dedupe_window: Seconds = 60.0
    retry: RetryConfig = RetryConfig()
    level: Grade = Grade.LIFE_SAFETY  # the level of a press

    def member(self, radio: str) -> RadioMember | None:
        return self.registry.get(radio) or self.registry.get(radio.upper())
