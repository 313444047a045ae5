"""Modbus RTU slaves multi-dropped on one simulated RS-485 line.

pymodbus' serial server answers for every unit at the device end of a
:class:`~simulators.devices.null_modem.NullModem`; the gateway (or mbpoll) opens the
other end. Each unit's misbehaviour is applied to its outgoing frame in the
server's ``trace_packet`` hook (an RTU frame's first byte is its unit): a
silent or absent unit's answer is dropped, a bad CRC is a flipped CRC byte,
noise replaces the answer with random bytes, and a wrong-length answer is a
well-formed frame with a valid CRC and one value fewer; a late answer is
sent by the line itself after the unit's delay.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from pymodbus.framer import FramerRTU, FramerType
from pymodbus.server import ModbusSerialServer

from simulators.devices.behaviour import Behaviour
from simulators.devices.modbus_unit import SimulatedUnit, absent_units_device
from simulators.devices.null_modem import NullModem

_READS = {1, 2, 3, 4}


def _crc(frame: bytes) -> bytes:
    return FramerRTU.compute_CRC(frame).to_bytes(2, "big")


def one_value_short(frame: bytes) -> bytes:
    """A read answer with its last register (or its last byte of bits) missing, CRC valid."""
    if len(frame) < 6 or frame[1] not in _READS:
        return frame
    drop = 1 if frame[1] in (1, 2) else 2
    data = frame[3:-2][:-drop]
    body = frame[:2] + bytes([len(data)]) + data
    return body + _crc(body)


class ModbusRtuSimulator:
    """Serves ``units`` on one line; the gateway's end is ``port``."""

    def __init__(
        self,
        units: Iterable[SimulatedUnit],
        directory: Path,
        *,
        name: str = "rs485",
        baudrate: int = 9600,
        paced: bool = True,
        seed: int = 0,
    ) -> None:
        self.units = {unit.unit: unit for unit in units}
        self.baudrate = baudrate
        self.line = NullModem(directory, name, baudrate=baudrate if paced else None)
        self.port = self.line.port
        self.requests: deque[tuple[float, int]] = deque(maxlen=1000)  # (arrival, unit)
        self._random = random.Random(seed)
        self._server: ModbusSerialServer | None = None

    def unit(self, unit_id: int) -> SimulatedUnit:
        return self.units[unit_id]

    async def start(self) -> None:
        self.line.plug()
        devices = [unit.sim_device() for unit in self.units.values()]
        devices.append(absent_units_device())
        self._server = ModbusSerialServer(
            devices,
            framer=FramerType.RTU,
            port=self.line.device_port,
            baudrate=self.baudrate,
            trace_packet=self._misbehave,
            trace_pdu=self._note_request,
        )
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None
        self.line.unplug()

    async def unplug(self) -> None:
        """Pull the USB adapter: the port disappears for the gateway."""
        await self.stop()

    async def replug(self) -> None:
        """Plug it back: the same path, a fresh port, the same units."""
        await self.start()

    async def __aenter__(self) -> ModbusRtuSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.stop()

    def _note_request(self, sending: bool, pdu):
        if not sending:
            self.requests.append((asyncio.get_running_loop().time(), pdu.dev_id))
        return pdu

    def _misbehave(self, sending: bool, packet: bytes) -> bytes:
        if not sending or not packet:
            return packet
        unit = self.units.get(packet[0])
        if unit is None or unit.behaviour is Behaviour.SILENT:
            return b""
        if unit.behaviour is Behaviour.BAD_CHECKSUM:
            return packet[:-2] + bytes([packet[-2] ^ 0x5A]) + packet[-1:]
        if unit.behaviour is Behaviour.NOISE:
            return self._random.randbytes(len(packet))
        if unit.behaviour is Behaviour.WRONG_LENGTH:
            return one_value_short(packet)
        if unit.behaviour is Behaviour.LATE:
            self.line.send_to_gateway(packet, after=unit.late_by)
            return b""
        return packet
