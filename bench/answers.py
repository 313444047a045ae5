"""When the in-process Modbus simulator first sent a changed value: where the gateway's share starts.

Why: the gateway's own stamp of a poll answer (an event's ``observed_at``)
is cut to the millisecond, so a share measured from it reads about 0.5 ms
high on average (and it is taken only once the gateway's Modbus client has
read the answer); the simulator's send is known to the microsecond.

:class:`ClockedSimulator` is the simulators' ``ModbusTcpSimulator`` with
its packet hook (pymodbus' ``trace_packet``, called with each answer just
before it is written to the socket) also handing every packet to an
:class:`AnswerClock`. The clock remembers every read request by transaction
and unit (a value set while a read waits for its answer may be in that
answer); when the answer to a read covering the point carries the value a
unit is awaited to give (compared as register words), it notes
``time.time()``: the first answer with the new value.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable

from drivers.modbus.registers import RegisterPoint, encode
from simulators.devices.modbus_server import ModbusTcpSimulator
from simulators.devices.modbus_unit import SimulatedUnit

_MBAP = struct.Struct(">HHHB")  # transaction, protocol, length, unit
_READ = struct.Struct(">BHH")  # function, first address, count


class AnswerClock:
    """For each unit, when the first answer carrying the value it awaits was sent."""

    def __init__(self, point: RegisterPoint, on_sent: Callable[[int, float], None] | None = None) -> None:
        """``on_sent`` is told each unit and time as its awaited answer goes out."""
        assert not point.register.is_bit, "register words only"
        self.point = point
        self._on_sent = on_sent
        self._asked: dict[tuple[int, int], tuple[int, int]] = {}  # (transaction, unit) -> address, count
        self._awaited: dict[int, bytes] = {}  # unit -> the point's words it is to answer with
        self._sent: dict[int, float] = {}  # unit -> when it first did

    def expect(self, unit: int, value: float) -> None:
        """From now on, watch for ``unit``'s first answer giving the point ``value``."""
        self._sent.pop(unit, None)
        self._awaited[unit] = struct.pack(f">{self.point.width}H", *encode(self.point, value))

    def sent(self, unit: int) -> float | None:
        """When the awaited answer went out, or ``None`` if the clock did not see it."""
        return self._sent.get(unit)

    def trace(self, sending: bool, packet: bytes) -> None:
        """pymodbus' packet hook: a request received (possibly several at once), or an answer sent."""
        if sending:
            self._answered(packet)
            return
        while len(packet) >= _MBAP.size + _READ.size:
            transaction, _protocol, length, unit = _MBAP.unpack_from(packet)
            function, address, count = _READ.unpack_from(packet, _MBAP.size)
            if function == self.point.register.read_function:
                self._asked[transaction, unit] = (address, count)
            packet = packet[_MBAP.size - 1 + length :]

    def _answered(self, packet: bytes) -> None:
        if len(packet) <= _MBAP.size:
            return  # dropped: a silent unit's
        transaction, _protocol, _length, unit = _MBAP.unpack_from(packet)
        asked = self._asked.pop((transaction, unit), None)
        awaited = self._awaited.get(unit)
        if asked is None or awaited is None or packet[_MBAP.size] != self.point.register.read_function:
            return  # not a read, nothing awaited, or an exception answer
        address, count = asked
        offset = self.point.address - address
        if offset < 0 or offset + self.point.width > count:
            return  # the read did not cover the point
        start = _MBAP.size + 2 + 2 * offset  # after the function code and the byte count
        if packet[start : start + len(awaited)] == awaited:
            self._sent[unit] = time.time()
            del self._awaited[unit]
            if self._on_sent is not None:
                self._on_sent(unit, self._sent[unit])


class ClockedSimulator(ModbusTcpSimulator):
    """The Modbus TCP simulator, its answers timed by ``clock``."""

    def __init__(self, units: Iterable[SimulatedUnit], clock: AnswerClock) -> None:
        super().__init__(units)
        self.clock = clock

    def _drop_answers_of_silent_units(self, sending: bool, packet: bytes) -> bytes:
        packet = super()._drop_answers_of_silent_units(sending, packet)
        self.clock.trace(sending, packet)
        return packet
