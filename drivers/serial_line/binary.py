"""Fixed-length binary frames: values at fixed byte offsets (the standard library's ``struct``)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

from drivers.serial_line.framing import Unparsable
from drivers.values import engineering, raw_of, with_bit


class BinaryType(StrEnum):
    U8 = "u8"
    S8 = "s8"
    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    F32 = "f32"

    @property
    def code(self) -> str:
        return {"u8": "B", "s8": "b", "u16": "H", "s16": "h", "u32": "I", "s32": "i", "f32": "f"}[self.value]

    @property
    def size(self) -> int:
        return struct.calcsize(self.code)


class ByteOrder(StrEnum):
    BIG = "big"
    LITTLE = "little"


@dataclass(frozen=True, slots=True)
class BinaryPoint:
    """One value starting at byte ``byte`` of the frame (header included).

    ``bit`` makes it a flag. Engineering value = raw * scale + offset.
    """

    name: str
    byte: int
    type: BinaryType = BinaryType.U16
    byte_order: ByteOrder = ByteOrder.BIG
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    bit: int | None = None

    @property
    def _format(self) -> str:
        return (">" if self.byte_order is ByteOrder.BIG else "<") + self.type.code

    @property
    def end(self) -> int:
        return self.byte + self.type.size

    def value(self, frame: bytes) -> float | bool:
        try:
            (raw,) = struct.unpack_from(self._format, frame, self.byte)
        except struct.error:
            raise Unparsable(f"frame too short for {self.name} at byte {self.byte}") from None
        return engineering(self.name, raw, scale=self.scale, offset=self.offset, bit=self.bit)

    def write(self, frame: bytearray, value: float | bool) -> None:
        """Put ``value`` into ``frame`` as the sensor would send it (the simulator's side)."""
        (current,) = struct.unpack_from(self._format, frame, self.byte)
        if self.bit is not None:
            raw: float = with_bit(int(current), self.bit, bool(value))
        else:
            raw = raw_of(float(value), scale=self.scale, offset=self.offset)
        if self.type is not BinaryType.F32:
            bits = 8 * self.type.size
            low, high = (
                (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
                if self.type.value.startswith("s")
                else (0, (1 << bits) - 1)
            )
            raw = min(max(round(raw), low), high)
        struct.pack_into(self._format, frame, self.byte, raw)


@dataclass(frozen=True, slots=True)
class BinaryLayout:
    points: tuple[BinaryPoint, ...]

    def decode(self, frame: bytes) -> dict[str, float | bool]:
        return {point.name: point.value(frame) for point in self.points}
