"""A hostile Modbus RTU slave of the tests' own, on a pty pair, to prove no answer is misattributed.

Independent of the project's simulator (pymodbus' server behind a paced null
modem): it parses requests and builds answers itself, and it is written to
be as nasty as a physical slave can be. Every answer is well-formed with a
correct CRC (written out in ``tests.support.modbus_crc``, not pymodbus'), but:

- at random (``late_probability``) it answers late by a random 0.5x-10x the
  master's timeout; it never answers reads of the blocks in ``silent_blocks``;
- sometimes it sends an answer twice (the copy right behind the original), or
  splits one into pieces with gaps of a few characters;
- like any slave with one processor and one transmitter it answers in the
  order it was asked: while it is busy, it queues up to ``queue`` requests and
  drops the rest.

No answer is complete sooner than a real 9600-baud line allows (request and
answer on the wire), so only misbehaviour, not impossible speed, is tested.
Units hold holding registers only; a read of an address not held answers
exception 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tty
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from drivers.backoff import Backoff
from drivers.modbus.plan import plan_reads
from drivers.modbus.poller import ModbusDevice
from drivers.modbus.registers import ReadPriority, RegisterPoint, RegisterType
from drivers.modbus.rtu import rtu_poller
from drivers.serial_port import SerialSettings
from tests.support.modbus_crc import crc16_modbus

REQUEST_BYTES = 8


@dataclass
class HostileStats:
    requests: int = 0
    late: int = 0
    duplicated: int = 0
    split: int = 0
    dropped: int = 0
    by_block: Counter[tuple[int, int]] = field(default_factory=Counter)  # (unit, address) -> requests heard


class HostileRtuSlave:
    """Serves ``units`` (unit -> address -> value) at ``port``; see the module docstring."""

    def __init__(
        self,
        units: Mapping[int, Mapping[int, int]],
        *,
        timeout: float,
        baudrate: int = 9600,
        late_probability: float = 0.2,
        duplicate_probability: float = 0.05,
        split_probability: float = 0.1,
        silent_blocks: frozenset[tuple[int, int]] = frozenset(),
        queue: int = 2,
        seed: int = 0,
    ) -> None:
        self.units = units
        self.timeout = timeout
        self.char_time = 10 / baudrate
        self.late_probability = late_probability
        self.duplicate_probability = duplicate_probability
        self.split_probability = split_probability
        self.silent_blocks = silent_blocks
        self.queue = queue
        self.stats = HostileStats()
        self._random = random.Random(seed)
        self._heard = bytearray()
        self._pending: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HostileRtuSlave:
        asyncio.get_running_loop().add_reader(self._master, self._readable)
        self._task = asyncio.create_task(self._answer_in_order())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        asyncio.get_running_loop().remove_reader(self._master)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for fd in (self._master, self._slave):
            os.close(fd)

    def _readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._heard += os.read(self._master, 4096)
        while len(self._heard) >= REQUEST_BYTES:
            frame = bytes(self._heard[:REQUEST_BYTES])
            if crc16_modbus(frame[:-2]) != frame[-2:]:
                del self._heard[0]  # not a request (yet): slide
                continue
            del self._heard[:REQUEST_BYTES]
            self.stats.requests += 1
            block = (frame[0], int.from_bytes(frame[2:4], "big"))
            self.stats.by_block[block] += 1
            if block in self.silent_blocks:
                continue
            if len(self._pending) > self.queue:
                self.stats.dropped += 1
                continue
            self._pending.append(frame)
            self._wake.set()

    async def _answer_in_order(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                request = self._pending.popleft()
                answer = self._answer(request)
                await asyncio.sleep(self._delay(answer))
                await self._send(answer)

    def _answer(self, request: bytes) -> bytes:
        unit, function = request[0], request[1]
        address = int.from_bytes(request[2:4], "big")
        count = int.from_bytes(request[4:6], "big")
        held = self.units.get(unit, {})
        if function != 3 or any(a not in held for a in range(address, address + count)):
            body = bytes([unit, function | 0x80, 2])
        else:
            data = b"".join(held[a].to_bytes(2, "big") for a in range(address, address + count))
            body = bytes([unit, function, len(data)]) + data
        return body + crc16_modbus(body)

    def _delay(self, answer: bytes) -> float:
        """On time (within half the timeout), or late by 0.5x-10x the timeout."""
        wire = (REQUEST_BYTES + len(answer)) * self.char_time
        if self._random.random() < self.late_probability:
            self.stats.late += 1
            return self._random.uniform(0.5, 10) * self.timeout
        return wire + self._random.uniform(0, 0.5 * self.timeout - wire)

    async def _send(self, answer: bytes) -> None:
        pieces = [answer]
        if self._random.random() < self.split_probability:
            self.stats.split += 1
            cut = sorted(self._random.sample(range(1, len(answer)), 2))
            pieces = [answer[: cut[0]], answer[cut[0] : cut[1]], answer[cut[1] :]]
        if self._random.random() < self.duplicate_probability:
            self.stats.duplicated += 1
            pieces.append(answer)
        for piece in pieces:
            os.write(self._master, piece)
            await asyncio.sleep(self._random.uniform(0, 3) * self.char_time)


# The station the hostile-slave tests and bench/rtu_hostile.py poll.
TIMEOUT = 0.06
# Three two-register blocks per unit, far enough apart to be read separately: every
# answer has the same function and byte count, only the values tell them apart.
POINTS = {
    "gas": 0,
    "gas_status": 1,
    "temperature": 20,
    "humidity": 21,
    "supply": 40,
    "uptime": 41,
}
URGENT = {"gas", "gas_status"}
UNITS = {unit: {address: 10000 * unit + 100 * address + 5 for address in POINTS.values()} for unit in (1, 2)}


def device(unit: int, interval: float, routine: float | None) -> ModbusDevice:
    points = [
        RegisterPoint(
            name,
            RegisterType.HOLDING,
            address,
            priority=ReadPriority.URGENT if name in URGENT else ReadPriority.ROUTINE,
        )
        for name, address in POINTS.items()
    ]
    requests = tuple(plan_reads(points))
    assert len(requests) == 3
    return ModbusDevice(f"dev{unit}", unit, interval, requests, routine)


def poller(slave: HostileRtuSlave, devices: list[ModbusDevice]):
    return rtu_poller(
        settings=SerialSettings(slave.port),
        timeout=TIMEOUT,
        devices=devices,
        retries=1,
        silent_backoff_max=0.5,
        backoff=Backoff(0.05, 0.2),
    )
