"""Register points and their decoding.

The arithmetic of turning 16-bit words into numbers is pymodbus'
``convert_from_registers``/``convert_to_registers``; this module only adds
what a profile needs on top: bit flags, scale and offset (:mod:`drivers.values`,
shared with serial frames, which also refuses NaN and infinity).

pymodbus is imported at the first 32-bit value, not with the point types: a
configuration names register types and data types, and loading it (``outpost
check``, ``outpost schema``, the first step of ``outpost run``) needs no Modbus stack.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

from drivers.values import engineering, raw_of

if TYPE_CHECKING:
    from pymodbus.client.mixin import ModbusClientMixin


class RegisterType(StrEnum):
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bit(self) -> bool:
        return self in _BIT_REGISTERS  # asked for every value read: a set, not a comparison chain

    @property
    def read_function(self) -> int:
        """The Modbus function code that reads this kind of register."""
        return _READ_FUNCTION[self]


_BIT_REGISTERS = frozenset((RegisterType.COIL, RegisterType.DISCRETE_INPUT))

_READ_FUNCTION = {
    RegisterType.COIL: 1,
    RegisterType.DISCRETE_INPUT: 2,
    RegisterType.HOLDING: 3,
    RegisterType.INPUT: 4,
}


class ReadPriority(IntEnum):
    """How urgently a point must be read when the bus is busy.

    ``URGENT`` points are read at the device's poll interval and before any
    ``ROUTINE`` read that is due at the same time; ``ROUTINE`` points ride in
    separate, less frequent reads, so a slow line never makes urgent values wait
    behind them. The caller decides what is urgent (drivers know nothing of alarms).
    """

    ROUTINE = 0
    URGENT = 1


class DataType(StrEnum):
    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    F32 = "f32"

    @property
    def words(self) -> int:
        return 1 if self in (DataType.U16, DataType.S16) else 2


class WordOrder(StrEnum):
    """Order of the 16-bit words of a 32-bit value: ``big`` is AB CD, ``little`` CD AB."""

    BIG = "big"
    LITTLE = "little"


@functools.cache
def _pymodbus() -> tuple[type[ModbusClientMixin], dict[DataType, ModbusClientMixin.DATATYPE]]:
    """pymodbus' word conversions and its name for each data type."""
    from pymodbus.client.mixin import ModbusClientMixin

    kinds = ModbusClientMixin.DATATYPE
    return ModbusClientMixin, {
        DataType.U16: kinds.UINT16,
        DataType.S16: kinds.INT16,
        DataType.U32: kinds.UINT32,
        DataType.S32: kinds.INT32,
        DataType.F32: kinds.FLOAT32,
    }


@dataclass(frozen=True, slots=True)
class RegisterPoint:
    """One named value in a device's register map.

    ``bit`` makes the point a boolean flag taken from one bit of a register
    (bit 0 is the least significant). Coils and discrete inputs are always
    boolean. Engineering value = raw * scale + offset. Points are urgent unless
    said otherwise: the safe default for a reading nobody classified.
    """

    name: str
    register: RegisterType
    address: int
    data_type: DataType = DataType.U16
    word_order: WordOrder = WordOrder.BIG
    bit: int | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    priority: ReadPriority = ReadPriority.URGENT

    @property
    def is_flag(self) -> bool:
        return self.register.is_bit or self.bit is not None

    @property
    def width(self) -> int:
        """How many addresses (registers or bits) the point occupies."""
        if self.register.is_bit or self.bit is not None:
            return 1
        return self.data_type.words


def decode(point: RegisterPoint, raw: Sequence[int] | Sequence[bool]) -> float | bool:
    """Turn the words (or bits) read for ``point`` into its engineering value.

    Raises :class:`~drivers.values.ImplausibleReading` for a NaN or infinite value.
    """
    if point.register.is_bit:
        return bool(raw[0])
    value: int | float
    if point.bit is not None or point.data_type is DataType.U16:
        value = int(raw[0])
    elif point.data_type is DataType.S16:  # one word, two's complement: as pymodbus has it, cheaper
        value = int(raw[0])
        value -= 0x10000 if value & 0x8000 else 0
    else:
        words = [int(word) for word in raw[: point.width]]
        mixin, kinds = _pymodbus()
        converted = mixin.convert_from_registers(
            words, kinds[point.data_type], word_order=point.word_order.value
        )
        assert isinstance(converted, int | float)
        value = converted
    return engineering(point.name, value, scale=point.scale, offset=point.offset, bit=point.bit)


def encode(point: RegisterPoint, value: float) -> list[int]:
    """The raw words that make ``decode`` give ``value`` (the simulator's side).

    Integer types are rounded to the nearest raw step and clamped to the type's range.
    """
    raw = raw_of(value, scale=point.scale, offset=point.offset)
    if point.data_type is not DataType.F32:
        bits = 16 * point.data_type.words
        signed = point.data_type in (DataType.S16, DataType.S32)
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        raw = min(max(round(raw), low), high)
    mixin, kinds = _pymodbus()
    return list(mixin.convert_to_registers(raw, kinds[point.data_type], word_order=point.word_order.value))
