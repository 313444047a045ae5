"""A simulated Modbus unit whose values and failures change while it serves."""

from __future__ import annotations

from collections.abc import Sequence

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType as SimDataType
from pymodbus.simulator import SimData, SimDevice

from drivers.modbus.plan import AddressRange
from drivers.modbus.registers import RegisterPoint, RegisterType, decode, encode
from simulators.devices.behaviour import Behaviour, Misbehaving

__all__ = ["Behaviour", "SimulatedUnit", "absent_units_device"]

_BLOCK_ORDER = (
    RegisterType.COIL,
    RegisterType.DISCRETE_INPUT,
    RegisterType.HOLDING,
    RegisterType.INPUT,
)
_FUNCTION_CODES = {
    RegisterType.COIL: {1, 5, 15},
    RegisterType.DISCRETE_INPUT: {2},
    RegisterType.HOLDING: {3, 6, 16, 22, 23},
    RegisterType.INPUT: {4},
}


async def _refuse(*_args) -> ExcCodes:
    return ExcCodes.GATEWAY_NO_RESPONSE


def absent_units_device() -> SimDevice:
    """Unit 0 stands for every unit not configured: the whole address space, always refused.

    The refusal is what a TCP-to-RTU gateway answers for a unit it cannot
    reach; the RTU simulator drops it, since an absent slave says nothing.
    """
    whole_space = SimData(0, count=0xFFFF, datatype=SimDataType.REGISTERS)
    return SimDevice(0, simdata=[whole_space], action=_refuse)


class SimulatedUnit(Misbehaving):
    """One Modbus unit built from a device's register map.

    The values live here, not in pymodbus' datastore: every request copies
    them into the served block, so ``set`` takes effect on the next read.
    A read touching an ``unreadable`` register gets an illegal-address
    exception, as the real devices that need that profile key do (register
    types only: pymodbus hands the action no bit count).
    """

    def __init__(
        self,
        unit: int,
        points: Sequence[RegisterPoint],
        name: str = "",
        unreadable: Sequence[AddressRange] = (),
    ) -> None:
        self.unit = unit
        self.name = name or f"unit-{unit}"
        self.points = {point.name: point for point in points}
        self.unreadable = tuple(unreadable)
        self._words: dict[RegisterType, dict[int, int]] = {kind: {} for kind in _BLOCK_ORDER}
        self.behaviour = Behaviour.NORMAL
        self.exception_code = ExcCodes.DEVICE_FAILURE
        self.requests_served = 0
        self.writes = 0

    # -- what a tester changes -------------------------------------------------
    def set(self, point_name: str, value: float | bool) -> None:
        """Make the next read of ``point_name`` return ``value`` (engineering units)."""
        point = self._point(point_name)
        words = self._words[point.register]
        if point.register.is_bit:
            words[point.address] = int(bool(value))
        elif point.bit is not None:
            word = words.get(point.address, 0) & ~(1 << point.bit)
            words[point.address] = word | (int(bool(value)) << point.bit)
        else:
            for index, word in enumerate(encode(point, float(value))):
                words[point.address + index] = word

    def get(self, point_name: str) -> float | bool:
        point = self._point(point_name)
        words = self._words[point.register]
        return decode(point, [words.get(point.address + i, 0) for i in range(point.width)])

    def answer_with_exception(self, code: ExcCodes = ExcCodes.DEVICE_FAILURE) -> None:
        self.behaviour = Behaviour.EXCEPTION
        self.exception_code = code

    def answer_with_wrong_length(self) -> None:
        """RTU only: well-formed answers, valid CRC, one value short."""
        self.behaviour = Behaviour.WRONG_LENGTH

    def _point(self, name: str) -> RegisterPoint:
        try:
            return self.points[name]
        except KeyError:
            known = ", ".join(sorted(self.points))
            raise KeyError(f"{self.name} has no point {name!r} (known: {known})") from None

    # -- what the pymodbus server calls ----------------------------------------
    def sim_device(self) -> SimDevice:
        """The pymodbus device: four separate blocks sized to the register map."""
        coils, discrete, holding, inputs = (self._block(kind) for kind in _BLOCK_ORDER)
        return SimDevice(self.unit, simdata=(coils, discrete, holding, inputs), action=self._on_request)

    def _block(self, kind: RegisterType) -> list[SimData]:
        ends = [p.address + p.width for p in self.points.values() if p.register is kind]
        size = max(ends, default=1)
        if kind.is_bit:
            return [SimData(0, count=size // 16 + 1, datatype=SimDataType.BITS)]
        return [SimData(0, count=size, datatype=SimDataType.REGISTERS)]

    async def _on_request(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests_served += 1
        if self.behaviour is Behaviour.EXCEPTION:
            return self.exception_code
        kind = next(k for k, codes in _FUNCTION_CODES.items() if function_code in codes)
        if not kind.is_bit and any(hole.overlaps(kind, address, address + count) for hole in self.unreadable):
            return ExcCodes.ILLEGAL_ADDRESS
        words = self._words[kind]
        if set_values is not None:  # a master writes: a coil or register of an actuator
            for offset, value in enumerate(set_values):
                words[address + offset] = int(value)
            self.writes += 1
        if kind.is_bit:
            for index in range(len(registers)):
                registers[index] = 0
            for at, bit in words.items():
                word, offset = divmod(at, 16)
                registers[word - start_address] |= bit << offset
        else:
            for at, word in words.items():
                registers[at - start_address] = word
        return None
