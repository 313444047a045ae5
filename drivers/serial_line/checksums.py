"""The 8-bit checksums simple serial sensors append to their frames.

Hand-written: each algorithm is one line over the bytes, and the work is in
where the checksum sits (two hex digits after ``*`` in NMEA sentences, the
last byte of a binary frame), which no checksum library describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import reduce
from operator import xor

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class Algorithm(StrEnum):
    XOR = "xor"  # NMEA 0183
    SUM = "sum"  # sum of the bytes modulo 256 (ADAM-4000 style ASCII modules)
    TWOS_COMPLEMENT = "twos-complement"  # -(sum) modulo 256 (the FF 01 86 gas modules)

    def of(self, data: bytes) -> int:
        if self is Algorithm.XOR:
            return reduce(xor, data, 0)
        total = sum(data) & 0xFF
        return total if self is Algorithm.SUM else (-total) & 0xFF


@dataclass(frozen=True, slots=True)
class TextChecksum:
    """Two hex digits ending a text frame's body, after ``separator`` if one is given.

    The checksum covers the body from ``skip`` up to the separator (NMEA: from
    after the ``$`` to before the ``*``; with ``$`` as the frame's start marker
    the body already begins after it).
    """

    algorithm: Algorithm
    separator: bytes = b""
    skip: int = 0

    def check(self, body: bytes) -> str | None:
        tail = len(self.separator) + 2
        if len(body) < self.skip + tail:
            return "frame too short for its checksum"
        if body[-tail:-2] != self.separator:
            return f"no checksum (expected {self.separator.decode('latin-1')}hh)"
        digits = body[-2:]
        if not set(digits) <= _HEX_DIGITS:
            return "checksum is not two hex digits"
        computed = self.algorithm.of(body[self.skip : -tail])
        if int(digits, 16) != computed:
            return f"bad checksum: frame says {digits.decode().upper()}, data gives {computed:02X}"
        return None

    def strip(self, body: bytes) -> bytes:
        """The body without its checksum (what the parser sees)."""
        return body[: -(len(self.separator) + 2)]

    def seal(self, body: bytes) -> bytes:
        """``body`` as the sensor sends it: with the separator and checksum appended."""
        return body + self.separator + b"%02X" % self.algorithm.of(body[self.skip :])


@dataclass(frozen=True, slots=True)
class ByteChecksum:
    """The last byte of a binary frame, over the bytes from ``skip`` up to it."""

    algorithm: Algorithm
    skip: int = 0

    def check(self, frame: bytes) -> str | None:
        if len(frame) < self.skip + 1:
            return "frame too short for its checksum"
        computed = self.algorithm.of(frame[self.skip : -1])
        if frame[-1] != computed:
            return f"bad checksum: frame says {frame[-1]:02X}, data gives {computed:02X}"
        return None

    def strip(self, frame: bytes) -> bytes:
        """Binary points are addressed by their offset in the whole frame: nothing to strip."""
        return frame

    def seal(self, frame: bytes) -> bytes:
        """``frame`` as the sensor sends it: its last byte replaced by the checksum."""
        return frame[:-1] + bytes([self.algorithm.of(frame[self.skip : -1])])
