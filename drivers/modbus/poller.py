"""One task per Modbus bus: owns the connection, serialises requests, polls devices.

A bus is one connection (a TCP endpoint, later a serial port) with one or more
units behind it. Requests are never pipelined: a real RS-485 line and many
TCP gateways answer one request at a time, and pymodbus' own server drops all
but the first of several requests arriving in one segment.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from drivers.modbus.plan import ReadRequest
from drivers.modbus.registers import RegisterType, decode
from drivers.observation import Fault, FaultCategory, Observation, PollOutcome

log = logging.getLogger(__name__)

Emit = Callable[[PollOutcome], Awaitable[None]]


class WriteFailed(Exception):
    """A write that did not happen; the message says why."""


class ModbusClient(Protocol):
    """The part of pymodbus' async clients (TCP or serial) that a poller uses."""

    connected: bool

    async def connect(self) -> bool: ...
    def close(self) -> None: ...
    async def read_coils(self, address: int, *, count: int, device_id: int): ...
    async def read_discrete_inputs(self, address: int, *, count: int, device_id: int): ...
    async def read_holding_registers(self, address: int, *, count: int, device_id: int): ...
    async def read_input_registers(self, address: int, *, count: int, device_id: int): ...
    async def write_coil(self, address: int, value: bool, *, device_id: int): ...
    async def write_register(self, address: int, value: int, *, device_id: int): ...


@dataclass(frozen=True, slots=True)
class ModbusDevice:
    """A unit on a bus and the reads that make up one poll of it."""

    name: str
    unit: int
    poll_interval: float
    requests: tuple[ReadRequest, ...]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff for reconnects."""

    initial: float = 0.5
    maximum: float = 30.0

    def delays(self):
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * 2, self.maximum)


class ModbusPoller:
    """Polls every device of one bus at its own interval, forever.

    Every poll produces exactly one :class:`PollOutcome`: readings, or a fault
    with the reason. Losing the connection is a fault of every device on the
    bus; the poller reconnects by itself with capped backoff.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        client: ModbusClient,
        devices: Sequence[ModbusDevice],
        backoff: Backoff | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._client = client
        self._devices = list(devices)
        self._backoff = backoff or Backoff()
        self._line = asyncio.Lock()  # one request at a time: polls and writes take turns

    async def run(self, emit: Emit) -> None:
        """Poll until cancelled. Never raises for a device's or the line's failure."""
        loop = asyncio.get_running_loop()
        due = [(loop.time(), index) for index in range(len(self._devices))]
        heapq.heapify(due)
        reconnect_delays = self._backoff.delays()
        try:
            while True:
                if not self._client.connected:
                    if not await self._client.connect():
                        await self._report_unreachable(emit)
                        await asyncio.sleep(next(reconnect_delays))
                        continue
                    log.info("connected to %s", self.endpoint)
                    reconnect_delays = self._backoff.delays()
                when, index = heapq.heappop(due)
                await asyncio.sleep(max(0.0, when - loop.time()))
                device = self._devices[index]
                async with self._line:
                    started = time.monotonic()
                    outcome = await self.poll(device)
                await emit(replace(outcome, busy_seconds=time.monotonic() - started))
                # Keep the cadence, but never try to catch up on missed polls in a burst.
                heapq.heappush(due, (max(when + device.poll_interval, loop.time()), index))
        finally:
            self._client.close()

    @property
    def devices(self) -> list[ModbusDevice]:
        return list(self._devices)

    async def poll_once(self, device: ModbusDevice) -> PollOutcome:
        """Connect if needed and poll ``device`` once (for commissioning checks)."""
        if not self._client.connected and not await self._client.connect():
            return _failed(device, Fault(FaultCategory.CONNECTION, f"cannot connect to {self.endpoint}"))
        async with self._line:
            return await self.poll(device)

    def close(self) -> None:
        self._client.close()

    async def _report_unreachable(self, emit: Emit) -> None:
        fault = Fault(FaultCategory.CONNECTION, f"cannot connect to {self.endpoint}")
        for device in self._devices:
            await emit(_failed(device, fault))

    async def poll(self, device: ModbusDevice) -> PollOutcome:
        """Read every request of ``device`` once."""
        blocks: list[tuple[ReadRequest, Sequence]] = []
        for request in device.requests:
            try:
                response = await self._read(request, device.unit)
            except ModbusIOException as exc:
                return _failed(device, Fault(FaultCategory.TIMEOUT, _describe_io_error(exc)))
            except ConnectionException as exc:
                return _failed(device, Fault(FaultCategory.CONNECTION, f"connection lost: {exc}"))
            except ModbusException as exc:
                return _failed(device, Fault(FaultCategory.DECODE, str(exc)))
            if response.isError():
                return _failed(device, Fault(FaultCategory.EXCEPTION, _describe_exception(request, response)))
            values = response.bits if request.register.is_bit else response.registers
            if len(values) < request.count:
                reason = f"short answer to {_describe(request)}: {len(values)} values"
                return _failed(device, Fault(FaultCategory.DECODE, reason))
            blocks.append((request, values))
        now = datetime.now(UTC)
        observations = tuple(
            Observation(
                device=device.name,
                point=point.name,
                value=decode(point, request.raw_for(point, values)),
                unit=point.unit,
                observed_at=now,
            )
            for request, values in blocks
            for point in request.points
        )
        return PollOutcome(device.name, now, time.monotonic(), observations=observations)

    async def write(self, unit: int, register: RegisterType, address: int, value: int) -> None:
        """Write one coil or holding register; raise :class:`WriteFailed` saying why not."""
        async with self._line:
            if not self._client.connected:
                raise WriteFailed(f"not connected to {self.endpoint}")
            try:
                if register is RegisterType.COIL:
                    response = await self._client.write_coil(address, bool(value), device_id=unit)
                elif register is RegisterType.HOLDING:
                    response = await self._client.write_register(address, value, device_id=unit)
                else:
                    raise WriteFailed(f"{register.value} registers are read-only")
            except ModbusException as exc:
                raise WriteFailed(f"no valid answer from unit {unit}: {exc}") from None
            if response.isError():
                code = getattr(response, "exception_code", 0)
                raise WriteFailed(f"unit {unit} answered exception {code}")

    async def _read(self, request: ReadRequest, unit: int):
        read = {
            RegisterType.COIL: self._client.read_coils,
            RegisterType.DISCRETE_INPUT: self._client.read_discrete_inputs,
            RegisterType.HOLDING: self._client.read_holding_registers,
            RegisterType.INPUT: self._client.read_input_registers,
        }[request.register]
        return await read(request.address, count=request.count, device_id=unit)


def _failed(device: ModbusDevice, fault: Fault) -> PollOutcome:
    return PollOutcome(device.name, datetime.now(UTC), time.monotonic(), fault=fault)


def _describe(request: ReadRequest) -> str:
    last = request.address + request.count - 1
    return f"{request.register.value} {request.address}..{last}"


def _describe_io_error(exc: ModbusIOException) -> str:
    text = str(exc)
    if "timeout" in text.lower() or "no response" in text.lower():
        return "no response (timeout)"
    return f"no valid response: {text}"


def _describe_exception(request: ReadRequest, response) -> str:
    code = getattr(response, "exception_code", 0)
    try:
        name = ExcCodes(code).name.lower().replace("_", " ")
    except ValueError:
        name = "unknown"
    return f"exception {code} ({name}) reading {_describe(request)}"
