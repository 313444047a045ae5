"""A Modbus TCP server hosting simulated units, as a TCP device or a TCP-to-RTU gateway would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from pymodbus.server import ModbusTcpServer

from simulators.devices.modbus_unit import Behaviour, SimulatedUnit, absent_units_device

_MBAP_UNIT_OFFSET = 6


class ModbusTcpSimulator:
    """Serves ``units`` on ``host:port`` (port 0 picks a free one) until stopped."""

    def __init__(self, units: Iterable[SimulatedUnit], host: str = "127.0.0.1", port: int = 0):
        self.units = {unit.unit: unit for unit in units}
        self.host = host
        self._requested_port = port
        self._server: ModbusTcpServer | None = None
        self.port = port

    def unit(self, unit_id: int) -> SimulatedUnit:
        return self.units[unit_id]

    async def start(self) -> None:
        devices = [unit.sim_device() for unit in self.units.values()]
        devices.append(absent_units_device())
        self._server = ModbusTcpServer(
            devices,
            address=(self.host, self._requested_port),
            trace_packet=self._drop_answers_of_silent_units,
        )
        await self._server.serve_forever(background=True)
        listening = self._server.transport
        assert isinstance(listening, asyncio.Server)  # a listening pymodbus server's transport
        self.port = listening.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def __aenter__(self) -> ModbusTcpSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.stop()

    def _drop_answers_of_silent_units(self, sending: bool, packet: bytes) -> bytes:
        if not sending or len(packet) <= _MBAP_UNIT_OFFSET:
            return packet
        unit = self.units.get(packet[_MBAP_UNIT_OFFSET])
        if unit is not None and unit.behaviour is Behaviour.SILENT:
            return b""
        return packet
