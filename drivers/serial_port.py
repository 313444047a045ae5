"""Serial port settings and line timing, shared by every driver that owns a serial port."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from drivers.port_lock import PortLock


class Parity(StrEnum):
    NONE = "none"
    EVEN = "even"
    ODD = "odd"

    @property
    def letter(self) -> str:
        """pyserial's (and the usual ``8N1``) spelling."""
        return self.value[0].upper()


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """A serial port and its character format."""

    port: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: Parity = Parity.NONE
    stopbits: int = 1

    @property
    def char_bits(self) -> int:
        """Bits on the wire per character: start, data, parity, stop."""
        return 1 + self.bytesize + (self.parity is not Parity.NONE) + self.stopbits

    def transfer_time(self, nbytes: int, char_bits: int | None = None) -> float:
        """Seconds that ``nbytes`` characters take on the wire."""
        return nbytes * (char_bits or self.char_bits) / self.baudrate

    def describe(self) -> str:
        return f"{self.port} {self.baudrate} {self.bytesize}{self.parity.letter}{self.stopbits}"

    def pyserial_options(self) -> dict[str, Any]:
        """Keyword arguments for pyserial: the character format, and the port for us alone."""
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": self.parity.letter,
            "stopbits": self.stopbits,
            "exclusive": True,  # see drivers.port_lock
        }

    def why_unavailable(self) -> str:
        """A technician's reading of why the port cannot be opened.

        Checked on the file system rather than by opening the port again: opening
        a real adapter toggles its modem lines, which some RS-485 converters use
        for direction control.
        """
        if not os.path.exists(self.port):
            return f"serial port {self.port} does not exist (USB adapter unplugged?)"
        if not os.access(self.port, os.R_OK | os.W_OK):
            return f"no permission to open serial port {self.port} (user not in group dialout?)"
        if (holder := PortLock(self.port).holder()) is not None:
            return f"serial port {self.port} is in use by {holder}"
        return f"cannot open serial port {self.port} (in use, or not a serial port?)"
