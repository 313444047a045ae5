"""One serial sensor model's protocol: framing, checksum, layout, and the query if it is polled."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from drivers.serial_line.binary import BinaryLayout
from drivers.serial_line.checksums import ByteChecksum, TextChecksum
from drivers.serial_line.framing import (
    Check,
    DelimitedFramer,
    FixedFramer,
    Frame,
    Framer,
    Piece,
    Rejection,
    Unparsable,
)
from drivers.serial_line.parsing import TextLayout
from drivers.values import ImplausibleReading


@dataclass(frozen=True, slots=True)
class DelimitedFraming:
    end: bytes
    start: bytes = b""
    max_length: int = 256

    def framer(self, check: Check | None) -> Framer:
        return DelimitedFramer(end=self.end, start=self.start, max_length=self.max_length, check=check)

    def wrap(self, body: bytes) -> bytes:
        return self.start + body + self.end


@dataclass(frozen=True, slots=True)
class FixedFraming:
    header: bytes
    length: int

    def framer(self, check: Check | None) -> Framer:
        return FixedFramer(header=self.header, length=self.length, check=check)

    def wrap(self, body: bytes) -> bytes:
        return body


@dataclass(frozen=True, slots=True)
class LineReading:
    raw: bytes
    values: dict[str, float | bool]


@dataclass(frozen=True, slots=True)
class Implausible(Rejection):
    """A valid frame holding a value no sensor means (NaN, infinite): no reading, and a device fault."""


@dataclass(frozen=True, slots=True)
class LineProtocol:
    """Everything needed to turn a sensor's bytes into readings.

    ``query`` is sent on every poll; a protocol without one streams on its own.
    Text layouts go with delimited framing and a text checksum, binary layouts
    with fixed-length framing and a byte checksum.
    """

    framing: DelimitedFraming | FixedFraming
    layout: TextLayout | BinaryLayout
    checksum: TextChecksum | ByteChecksum | None = None
    query: bytes | None = None

    def units(self) -> dict[str, str | None]:
        return {point.name: point.unit for point in self.layout.points}

    def reader(self, rejections: Counter[str] | None = None) -> LineReader:
        return LineReader(self, rejections)

    def blank_frame(self) -> bytearray:
        """A binary frame with only its header set (the simulator's starting point)."""
        assert isinstance(self.framing, FixedFraming)
        frame = bytearray(self.framing.length)
        frame[: len(self.framing.header)] = self.framing.header
        return frame

    def sentence(self, content: dict[str, float] | bytearray, *, bad_checksum: bool = False) -> bytes:
        """The bytes a sensor sends for raw text fields or a binary frame (the simulator's side).

        ``bad_checksum`` sends it with a wrong checksum, as a corrupted line would.
        """
        if isinstance(self.layout, TextLayout):
            assert isinstance(content, dict)
            body = self.layout.encode(content)
        else:
            assert not isinstance(content, dict)
            body = bytes(content)
        if self.checksum is not None:
            body = self.checksum.seal(body)
            if bad_checksum:
                body = body[:-1] + bytes([_another(body[-1], text=not self._binary)])
        return self.framing.wrap(body)

    @property
    def _binary(self) -> bool:
        return isinstance(self.framing, FixedFraming)


def _another(value: int, *, text: bool) -> int:
    """A different checksum character: still a hex digit in a text frame."""
    if text:
        return ord("1") if value == ord("0") else ord("0")
    return value ^ 0xFF


def rejection_kind(reason: str) -> str:
    """A rejection's reason without its particulars, so counters stay small on a noisy line."""
    return reason.split(":", 1)[0]


class LineReader:
    """Bytes in; readings and rejections out. Every rejection is counted by kind."""

    def __init__(self, protocol: LineProtocol, rejections: Counter[str] | None = None) -> None:
        self._protocol = protocol
        check = protocol.checksum.check if protocol.checksum else None
        self._framer = protocol.framing.framer(check)
        self.readings = 0
        self.rejections: Counter[str] = Counter() if rejections is None else rejections

    @property
    def pending(self) -> bytes:
        return self._framer.pending

    def feed(self, data: bytes) -> list[LineReading | Rejection]:
        return [self._judge(piece) for piece in self._framer.feed(data)]

    def flush(self) -> list[LineReading | Rejection]:
        """Reject the bytes of an unfinished frame (a poll's answer window closed)."""
        return [self._judge(piece) for piece in self._framer.flush()]

    def _judge(self, piece: Piece) -> LineReading | Rejection:
        judged = piece if isinstance(piece, Rejection) else self._decode(piece)
        if isinstance(judged, Rejection):
            self.rejections[rejection_kind(judged.reason)] += 1
        else:
            self.readings += 1
        return judged

    def _decode(self, frame: Frame) -> LineReading | Rejection:
        checksum = self._protocol.checksum
        body = checksum.strip(frame.body) if checksum else frame.body
        try:
            return LineReading(frame.raw, self._protocol.layout.decode(body))
        except Unparsable as exc:
            return Rejection(str(exc), frame.raw)
        except ImplausibleReading as exc:
            return Implausible(str(exc), frame.raw)
