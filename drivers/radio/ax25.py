"""AX.25 UI frames: the addresses and the information field, which is all APRS uses.

Hand-written: a UI frame is a list of shifted 7-byte addresses, a control
byte 0x03 and a PID 0xF0 before the information field; the libraries on PyPI
that do this are unmaintained or pull in a whole stack. The FCS is the TNC's
business (KISS frames carry none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UI = 0x03
NO_LAYER3 = 0xF0
MAX_DIGIPEATERS = 8
_CALL = re.compile(r"^[A-Z0-9]{1,6}$")


class Ax25Error(ValueError):
    """A frame that is not a well-formed AX.25 UI frame; the message says why."""


@dataclass(frozen=True, slots=True)
class Address:
    call: str
    ssid: int = 0
    repeated: bool = False  # the H bit of a digipeater: this one has already repeated the frame

    @classmethod
    def parse(cls, text: str) -> Address:
        """``N0RAD-9`` (a trailing ``*`` marks a digipeater that has repeated)."""
        repeated = text.endswith("*")
        call, _, ssid = text.rstrip("*").upper().partition("-")
        if not _CALL.match(call) or (ssid and not (ssid.isdigit() and 0 <= int(ssid) <= 15)):
            raise Ax25Error(f"not a callsign: {text!r}")
        return cls(call, int(ssid or 0), repeated)

    def __str__(self) -> str:
        return self.call + (f"-{self.ssid}" if self.ssid else "")

    def encode(self, *, last: bool, command: bool = False) -> bytes:
        shifted = bytes(ord(c) << 1 for c in self.call.ljust(6))
        flag = 0x80 if (command or self.repeated) else 0
        return shifted + bytes([0x60 | flag | (self.ssid << 1) | (1 if last else 0)])

    @classmethod
    def decode(cls, raw: bytes) -> tuple[Address, bool]:
        """The address and whether it is the last one of the address field."""
        chars = bytes(b >> 1 for b in raw[:6])
        if any(b & 1 for b in raw[:6]):
            raise Ax25Error("address field ends early")
        call = chars.decode("ascii", "replace").rstrip()
        if not _CALL.match(call):
            raise Ax25Error(f"not a callsign: {call!r}")
        return cls(call, (raw[6] >> 1) & 0x0F, bool(raw[6] & 0x80)), bool(raw[6] & 1)


@dataclass(frozen=True, slots=True)
class UiFrame:
    destination: Address
    source: Address
    path: tuple[Address, ...]
    info: bytes

    def encode(self) -> bytes:
        addresses = [self.destination, self.source, *self.path]
        raw = b"".join(
            a.encode(last=i == len(addresses) - 1, command=i == 0) for i, a in enumerate(addresses)
        )
        return raw + bytes([UI, NO_LAYER3]) + self.info

    @classmethod
    def decode(cls, raw: bytes) -> UiFrame:
        addresses: list[Address] = []
        offset = 0
        while True:
            if len(raw) < offset + 7:
                raise Ax25Error("truncated address field")
            address, last = Address.decode(raw[offset : offset + 7])
            if len(addresses) < 2:  # there the bit is the command/response bit, not "repeated"
                address = Address(address.call, address.ssid)
            addresses.append(address)
            offset += 7
            if last:
                break
            if len(addresses) > 2 + MAX_DIGIPEATERS:
                raise Ax25Error("too many digipeaters")
        if len(addresses) < 2:
            raise Ax25Error("no source address")
        if len(raw) < offset + 2:
            raise Ax25Error("no control and PID bytes")
        if raw[offset] != UI:
            raise Ax25Error(f"not a UI frame (control {raw[offset]:#04x})")
        if raw[offset + 1] != NO_LAYER3:
            raise Ax25Error(f"not plain text (PID {raw[offset + 1]:#04x})")
        return cls(addresses[0], addresses[1], tuple(addresses[2:]), raw[offset + 2 :])

    @classmethod
    def from_tnc2(cls, text: str) -> UiFrame:
        """``SRC>DEST,PATH1,PATH2:info``: the monitor format, for tests and logs."""
        header, sep, info = text.partition(":")
        if not sep or ">" not in header:
            raise Ax25Error("not SRC>DEST:info")
        source, _, rest = header.partition(">")
        destination, *path = rest.split(",")
        return cls(
            Address.parse(destination),
            Address.parse(source),
            tuple(Address.parse(p) for p in path),
            info.encode("utf-8"),
        )

    def tnc2(self) -> str:
        path = "".join(f",{a}{'*' if a.repeated else ''}" for a in self.path)
        return f"{self.source}>{self.destination}{path}:{self.info.decode('utf-8', 'replace')}"
