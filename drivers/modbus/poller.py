"""One task per Modbus bus: owns the connection, serialises requests, polls devices.

A bus is one connection (a TCP endpoint or a serial port) with one or more
units behind it. Requests are never pipelined: a real RS-485 line and many
TCP gateways answer one request at a time, and pymodbus' own server drops all
but the first of several requests arriving in one segment.

Scheduling, for a shared slow line:

- every device has an urgent schedule (its poll interval) and, when it has
  routine points, a slower routine one; when several reads are due, urgent
  ones go first, so telemetry never delays an alarm-relevant read by more than
  the one read already on the wire;
- a read that gets no valid answer is retried ``retries`` times. Backoff is
  per request, so that one slow telemetry block never slows a unit's alarm
  reads: a routine read that still gets no answer is probed once per backoff
  delay (doubling from twice its interval up to ``silent_backoff_max``) while
  the unit's other reads go on, and the unit is reported ``degraded`` with
  that block named. A unit whose urgent reads get no answer (or all of whose
  reads fail) is *silent*: all its reads are probed once per backoff delay
  instead of at their interval, so its timeouts cannot eat the line the other
  units need;
- ``gap`` is the silence kept between the end of one transaction and the next
  request (Modbus RTU needs 3.5 characters; slow slaves need more).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum, auto
from typing import Protocol

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from drivers.backoff import Backoff
from drivers.modbus.plan import ReadRequest
from drivers.modbus.registers import ReadPriority, RegisterType, decode
from drivers.modbus.schedule import Schedule, Slot
from drivers.observation import DeviceFault, Emit, FaultCategory, Observation, PollOutcome
from drivers.rejections import RejectionLog
from drivers.values import ImplausibleReading

log = logging.getLogger(__name__)


class WriteFailed(Exception):
    """A write that did not happen; the message says why."""


class ModbusClient(Protocol):
    """The part of pymodbus' async clients (TCP, or ours for RTU) that a poller uses."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> bool: ...
    def close(self) -> None: ...
    def read_coils(self, address: int, *, count: int, device_id: int) -> Awaitable[ModbusPDU]: ...
    def read_discrete_inputs(self, address: int, *, count: int, device_id: int) -> Awaitable[ModbusPDU]: ...
    def read_holding_registers(self, address: int, *, count: int, device_id: int) -> Awaitable[ModbusPDU]: ...
    def read_input_registers(self, address: int, *, count: int, device_id: int) -> Awaitable[ModbusPDU]: ...
    def write_coil(self, address: int, value: bool, *, device_id: int) -> Awaitable[ModbusPDU]: ...
    def write_register(self, address: int, value: int, *, device_id: int) -> Awaitable[ModbusPDU]: ...


@dataclass(frozen=True, slots=True)
class ModbusDevice:
    """A unit on a bus and the reads that make up one poll of it.

    ``routine_interval`` is how often routine requests are read; ``None`` reads
    them with every poll.
    """

    name: str
    unit: int
    poll_interval: float
    requests: tuple[ReadRequest, ...]
    routine_interval: float | None = None

    def schedules(self) -> list[tuple[ReadPriority, float, tuple[ReadRequest, ...]]]:
        """(priority, interval, requests) for each separately scheduled group of reads."""
        if self.routine_interval is None:
            ordered = sorted(self.requests, key=lambda r: -r.priority)
            return [(ReadPriority.URGENT, self.poll_interval, tuple(ordered))]
        groups = [
            (ReadPriority.URGENT, self.poll_interval),
            (ReadPriority.ROUTINE, self.routine_interval),
        ]
        schedules = []
        for priority, interval in groups:
            requests = tuple(r for r in self.requests if r.priority is priority)
            if requests:
                schedules.append((priority, interval, requests))
        return schedules


@dataclass(frozen=True, slots=True)
class LinePolicy:
    """How a bus treats its line and the units that do not answer (see the module docstring)."""

    retries: int = 0
    gap: float = 0.0
    silent_backoff_max: float | None = None


ExplainNoAnswer = Callable[[ReadRequest, int], DeviceFault]


def no_response(_request: ReadRequest, _unit: int) -> DeviceFault:
    """The explanation when a transport cannot tell more than that nothing came back."""
    return DeviceFault(FaultCategory.TIMEOUT, "no response (timeout)")


class _Heard(Enum):
    """What a poll learnt about the unit, which decides its backoff."""

    ANSWER = auto()  # some valid frame came back, even an exception
    NOTHING = auto()  # no valid answer after every attempt: the unit is silent
    BUS_DOWN = auto()  # the connection itself failed: says nothing about the unit


@dataclass(frozen=True, slots=True)
class _Job:
    """One separately scheduled group of a device's reads."""

    device: ModbusDevice
    requests: tuple[ReadRequest, ...]


@dataclass(slots=True)
class _Unit:
    """Backoff state of one unit; ``delays`` is set while it is silent."""

    delays: Iterator[float] | None = None


@dataclass(slots=True)
class _FailingRead:
    """A routine read of a unit that otherwise answers: why it fails, and its own backoff."""

    fault: DeviceFault
    delays: Iterator[float] | None = None  # set while it gets no answer at all
    probe_at: float = 0.0


class _NoValidAnswer(Exception):
    def __init__(self, fault: DeviceFault) -> None:
        super().__init__(fault.reason)
        self.fault = fault


class _ReadFailed(Exception):
    """One request of a poll failed: the fault, and what it says about the unit."""

    def __init__(self, fault: DeviceFault, heard: _Heard) -> None:
        super().__init__(fault.reason)
        self.fault = fault
        self.heard = heard


class ModbusPoller:
    """Polls every device of one bus on its schedules, forever.

    Every poll produces exactly one :class:`PollOutcome`: readings, or a fault
    with the reason. Losing the connection is a bus fault reported for every
    device on the bus; the poller reconnects by itself with capped backoff.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        client: ModbusClient,
        devices: Sequence[ModbusDevice],
        backoff: Backoff | None = None,
        policy: LinePolicy | None = None,
        explain_no_answer: ExplainNoAnswer = no_response,
        why_unreachable: Callable[[], str] | None = None,
        rejections: RejectionLog | None = None,
    ) -> None:
        self.endpoint = endpoint
        # Frames refused on the way (RTU); a TCP client's framing is pymodbus' and tells nothing.
        self.rejections = rejections or RejectionLog(endpoint)
        self._client = client
        self._devices = list(devices)
        self._backoff = backoff or Backoff()
        self._line = asyncio.Lock()  # one request at a time: polls and writes take turns
        self._policy = policy or LinePolicy()
        self._explain_no_answer = explain_no_answer
        self._why_unreachable = why_unreachable or (lambda: f"cannot connect to {endpoint}")
        self._units = {device.unit: _Unit() for device in self._devices}
        self._failing: dict[tuple[int, ReadRequest], _FailingRead] = {}
        self._line_idle_at = 0.0
        self._bus_down = False

    async def run(self, emit: Emit) -> None:
        """Poll until cancelled. Never raises for a device's or the line's failure."""
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        schedule: Schedule[_Job] = Schedule()
        for device in self._devices:
            for priority, interval, requests in device.schedules():
                schedule.add(
                    _Job(device, requests),
                    priority=priority,
                    interval=interval,
                    due=loop.time(),
                    group=device.unit,
                )
        reconnect_delays = self._backoff.delays()
        try:
            while True:
                if not self._client.connected:
                    if not await self._client.connect():
                        await self._report_bus_fault(emit, self._why_unreachable())
                        await asyncio.sleep(next(reconnect_delays))
                        continue
                    log.info("connected to %s", self.endpoint)
                    self._bus_down = False
                    reconnect_delays = self._backoff.delays()
                slot = await schedule.next()
                job = slot.job
                async with self._line:
                    started = time.monotonic()
                    outcome, heard = await self._read_all(job.device, job.requests, self._attempts(job))
                _stop_if_told(task)
                await emit(replace(outcome, busy_seconds=time.monotonic() - started))
                self._reschedule(schedule, slot, heard, loop.time())
        finally:
            self._client.close()

    @property
    def devices(self) -> list[ModbusDevice]:
        return list(self._devices)

    async def poll_once(self, device: ModbusDevice) -> PollOutcome:
        """Connect if needed and read every request of ``device`` once (commissioning checks)."""
        if not self._client.connected and not await self._client.connect():
            return PollOutcome.failed(
                device.name, DeviceFault(FaultCategory.CONNECTION, self._why_unreachable())
            )
        async with self._line:
            outcome, _ = await self._read_all(
                device, device.requests, 1 + self._policy.retries, honour_backoff=False
            )
        return outcome

    def close(self) -> None:
        self._client.close()

    # -- scheduling ---------------------------------------------------------------
    def _attempts(self, job: _Job) -> int:
        """A silent unit gets one probe; a unit that has been answering gets its retries."""
        silent = self._units[job.device.unit].delays is not None
        return 1 if silent else 1 + self._policy.retries

    def _reschedule(self, schedule: Schedule[_Job], slot: Slot[_Job], heard: _Heard, now: float) -> None:
        schedule.done(slot, now)
        device, unit = slot.job.device, self._units[slot.job.device.unit]
        if heard is _Heard.ANSWER and unit.delays is not None:
            log.info("%s: unit %d (%s) answers again", self.endpoint, device.unit, device.name)
            unit.delays = None
        elif heard is _Heard.NOTHING and self._policy.silent_backoff_max is not None:
            if unit.delays is None:
                maximum = max(self._policy.silent_backoff_max, device.poll_interval)
                unit.delays = Backoff(2 * device.poll_interval, maximum).delays()
                log.warning(
                    "%s: unit %d (%s) does not answer; probing it at most every %gs",
                    self.endpoint,
                    device.unit,
                    device.name,
                    maximum,
                )
            schedule.hold(device.unit, now + next(unit.delays))

    async def _report_bus_fault(self, emit: Emit, reason: str) -> None:
        if not self._bus_down:
            log.warning("bus fault on %s: %s", self.endpoint, reason)
            self._bus_down = True
        fault = DeviceFault(FaultCategory.CONNECTION, f"bus fault: {reason}")
        for device in self._devices:
            await emit(PollOutcome.failed(device.name, fault))

    # -- reading ------------------------------------------------------------------
    async def _read_all(
        self,
        device: ModbusDevice,
        requests: Sequence[ReadRequest],
        attempts: int,
        *,
        honour_backoff: bool = True,
    ) -> tuple[PollOutcome, _Heard]:
        """One outcome for ``requests`` of ``device``; nothing a device sends can raise here.

        A failed urgent read fails the poll; a failed routine read is set aside
        (see the module docstring) and the poll goes on with the others.
        """
        now = asyncio.get_running_loop().time()
        blocks: list[tuple[ReadRequest, Sequence]] = []
        for request in requests:
            failing = self._failing.get((device.unit, request)) if self._failing else None
            if honour_backoff and failing is not None and failing.probe_at > now:
                continue
            try:
                values = await self._read_block(device, request, attempts)
            except _ReadFailed as exc:
                if exc.heard is _Heard.BUS_DOWN or request.priority is ReadPriority.URGENT:
                    return PollOutcome.failed(device.name, exc.fault), exc.heard
                self._routine_read_failed(device, request, exc)
                continue
            if self._failing and self._failing.pop((device.unit, request), None) is not None:
                log.info("%s: %s of %s answers again", self.endpoint, request.describe(), device.name)
            blocks.append((request, values))
        degraded = [(r, f.fault) for (unit, r), f in self._failing.items() if unit == device.unit]
        if len(degraded) == len(device.requests):  # nothing of the unit answers
            silent = all(f.delays is not None for (u, _r), f in self._failing.items() if u == device.unit)
            return PollOutcome.failed(
                device.name, degraded[0][1]
            ), _Heard.NOTHING if silent else _Heard.ANSWER
        observed, name = datetime.now(UTC), device.name
        try:  # device, point, value, unit, observed_at: positional, as this runs for every value read
            observations = tuple(
                [
                    Observation(
                        name, point.name, decode(point, request.raw_for(point, values)), point.unit, observed
                    )
                    for request, values in blocks
                    for point in request.points
                ]
            )
        except ImplausibleReading as exc:
            fault = DeviceFault(FaultCategory.DECODE, str(exc))
            return PollOutcome.failed(device.name, fault), _Heard.ANSWER
        summary = None
        if degraded:
            reason = "; ".join(f"{r.describe()} fails: {fault.reason}" for r, fault in degraded)
            summary = DeviceFault(degraded[0][1].category, reason)
        outcome = PollOutcome(
            device.name, observed, time.monotonic(), observations=observations, degraded=summary
        )
        return outcome, _Heard.ANSWER

    def _routine_read_failed(self, device: ModbusDevice, request: ReadRequest, exc: _ReadFailed) -> None:
        """Back off this read alone when it gets no answer; note why it fails either way."""
        key = (device.unit, request)
        failing = self._failing.setdefault(key, _FailingRead(exc.fault))
        failing.fault = exc.fault
        if exc.heard is not _Heard.NOTHING or self._policy.silent_backoff_max is None:
            failing.delays = None
            return
        if failing.delays is None:
            interval = device.routine_interval or device.poll_interval
            maximum = max(self._policy.silent_backoff_max, interval)
            failing.delays = Backoff(2 * interval, maximum).delays()
            log.warning(
                "%s: %s of %s gets no answer; reading it at most every %gs",
                self.endpoint,
                request.describe(),
                device.name,
                maximum,
            )
        failing.probe_at = asyncio.get_running_loop().time() + next(failing.delays)

    async def _read_block(self, device: ModbusDevice, request: ReadRequest, attempts: int) -> Sequence:
        """The values of one request, or :class:`_ReadFailed` saying why not."""

        def failed(category: FaultCategory, reason: str, heard: _Heard) -> _ReadFailed:
            return _ReadFailed(DeviceFault(category, reason), heard)

        try:
            response = await self._transact(request, device.unit, attempts)
        except _NoValidAnswer as exc:
            raise _ReadFailed(exc.fault, _Heard.NOTHING) from None
        except ConnectionException:
            reason = f"bus fault: connection to {self.endpoint} lost"
            raise failed(FaultCategory.CONNECTION, reason, _Heard.BUS_DOWN) from None
        except ModbusException as exc:
            raise failed(FaultCategory.DECODE, str(exc), _Heard.ANSWER) from None
        except Exception as exc:
            # A poller must outlive any answer; the traceback goes to the log.
            log.exception("%s: reading %s of %s", self.endpoint, request.describe(), device.name)
            reason = f"unreadable answer to {request.describe()}: {exc!r}"
            raise failed(FaultCategory.DECODE, reason, _Heard.ANSWER) from None
        if response.isError():
            raise failed(FaultCategory.EXCEPTION, _describe_exception(request, response), _Heard.ANSWER)
        values = response.bits if request.register.is_bit else response.registers
        expected = _answer_length(request)
        if len(values) != expected:
            kind = "bits" if request.register.is_bit else "registers"
            reason = (
                f"wrong-length answer to {request.describe()}: {len(values)} {kind} instead of {expected}"
            )
            raise failed(FaultCategory.DECODE, reason, _Heard.ANSWER)
        return values

    async def _transact(self, request: ReadRequest, unit: int, attempts: int):
        """One request with its retries, keeping the line's gap before each attempt."""
        loop = asyncio.get_running_loop()
        fault = None
        for _ in range(attempts):
            if (wait := self._line_idle_at + self._policy.gap - loop.time()) > 0:
                await asyncio.sleep(wait)
            try:
                return await self._read(request, unit)
            except ModbusIOException:
                if not self._client.connected:
                    raise ConnectionException(self.endpoint) from None
                fault = self._explain_no_answer(request, unit)
            finally:
                self._line_idle_at = loop.time()
        assert fault is not None
        raise _NoValidAnswer(fault)

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


def _answer_length(request: ReadRequest) -> int:
    """How many values pymodbus decodes from a correct answer (bits come in whole bytes)."""
    if request.register.is_bit:
        return 8 * ((request.count + 7) // 8)
    return request.count


def _stop_if_told(task: asyncio.Task | None) -> None:
    """Honour a cancellation the read swallowed.

    Python 3.11's ``asyncio.wait_for``, which pymodbus awaits every answer with
    (as the RTU client its silences), returns the answer and drops a
    cancellation that lands in the same turn of the event loop (CPython
    gh-86296, fixed in 3.12; Raspberry Pi OS bookworm has 3.11). The request
    still counts on the task: without this, a bus told to stop (a reload, a
    shutdown) polled on, and whoever waited for it waited for ever.
    """
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _describe_exception(request: ReadRequest, response) -> str:
    code = getattr(response, "exception_code", 0)
    try:
        name = ExcCodes(code).name.lower().replace("_", " ")
    except ValueError:
        name = "unknown"
    return f"exception {code} ({name}) reading {request.describe()}"
