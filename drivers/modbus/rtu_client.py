"""Modbus RTU transactions on a serial line, hand-written over pyserial-asyncio-fast.

Why not pymodbus' serial client: RTU answers carry no transaction id, so the
only things that tie an answer to its request are the line's timing and the
answer's shape, and pymodbus' client hides both. It buffers what it reads,
cannot say when an answer began or whether the line has been silent since a
timeout, and accepts any well-formed frame of the right unit and function
while a request is pending; a unit's late answer to one block was taken for
the next read of another block of the same size (a false gas alarm in the
field). pymodbus still encodes every request and decodes every answer (its
PDU classes) and computes the CRC; only the transaction is ours.

What makes a late answer impossible to accept as a later request's:

1. before a request is sent, the line must have been silent for the 3.5
   characters of the spec after an answer, and for the whole ``timeout`` after
   a request that got no valid answer; every byte heard restarts that wait;
2. whatever arrived before the request was sent is thrown away;
3. an answer that is complete sooner than the request and the answer take on
   the wire began before the unit could have heard the request: it is stale;
4. an answer must come from the unit asked, with the function asked and the
   byte count the request implies (a write's answer is its request's echo);
5. a unit that left a read unanswered may still answer it, at any time. A
   unit answers in the order it is asked (one processor, one transmitter), so
   an answer settles every read sent before the first unanswered read of its
   shape. Before a read of the same function and size as an unanswered read
   of another block, the unit is brought back in step by a *resync read*: the
   first registers of the block, in a size whose answer cannot belong to any
   read sent before the conflicting ones. Only a one-register read that
   cannot be resynced that way relies on a bound: it waits until the
   conflicting reads are ``LATE_LIMIT_TIMEOUTS`` timeouts old.

Rejected answers are kept with the reason a technician can act on (bad CRC,
noise, wrong unit, wrong length, late answer to another read), and
:meth:`RtuClient.explain` turns the last failure into a fault. Every frame
refused, and whatever the line carried while it should have been quiet, is
recorded per device in a :class:`~drivers.rejections.RejectionLog`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadDiscreteInputsRequest,
    WriteSingleCoilRequest,
)
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteSingleRegisterRequest,
)
from serial_asyncio_fast import create_serial_connection

from drivers.modbus.registers import RegisterType
from drivers.observation import DeviceFault, FaultCategory
from drivers.port_lock import PortLock, keep_others_out
from drivers.rejections import Refusal, RejectionLog
from drivers.serial_port import SerialSettings

log = logging.getLogger(__name__)

EXCEPTION_FRAME_BYTES = 5  # unit, function | 0x80, code, CRC (2)
WRITE_FRAME_BYTES = 8  # unit, function, address (2), value (2), CRC (2)
LATE_LIMIT_TIMEOUTS = 10  # see rule 5: the fallback for one-register reads

_REGISTER_OF = {register.read_function: register for register in RegisterType}


def with_crc(body: bytes) -> bytes:
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def crc_ok(frame: bytes) -> bool:
    return FramerRTU.check_CRC(frame[:-2], int.from_bytes(frame[-2:], "big"))


@dataclass(frozen=True, slots=True)
class Read:
    """One read of ``count`` registers or bits of one unit, and the answer it implies."""

    unit: int
    function: int
    address: int
    count: int

    @property
    def register(self) -> RegisterType:
        return _REGISTER_OF[self.function]

    @property
    def byte_count(self) -> int:
        return (self.count + 7) // 8 if self.register.is_bit else 2 * self.count

    @property
    def shape(self) -> tuple[int, int]:
        """What an answer shows of its request: the function and the byte count."""
        return self.function, self.byte_count

    def describe(self) -> str:
        return f"{self.register.value} {self.address}..{self.address + self.count - 1}"

    def pdu(self) -> ModbusPDU:
        request = {1: ReadCoilsRequest, 2: ReadDiscreteInputsRequest, 3: ReadHoldingRegistersRequest}.get(
            self.function, ReadInputRegistersRequest
        )
        return request(address=self.address, count=self.count, dev_id=self.unit)

    def expected(self, late: Callable[[int, bytes], str | None]) -> Expected:
        """The answer this read waits for; ``late`` names the earlier read a look-alike answers."""
        header = bytes([self.unit, self.function, self.byte_count])
        return Expected(self.unit, self.function, 5 + self.byte_count, header, self.describe(), late)

    def resync(self, proves: Callable[[tuple[int, int]], bool]) -> Read | None:
        """The largest smaller read of this block whose answer's shape ``proves`` the unit in step."""
        for count in range(self.count - 1, 0, -1):
            smaller = Read(self.unit, self.function, self.address, count)
            if proves(smaller.shape):
                return smaller
        return None


@dataclass(frozen=True, slots=True)
class Expected:
    """The answer a request is waiting for, and how to tell a look-alike from it."""

    unit: int
    function: int
    length: int  # bytes of a correct (non-exception) answer frame
    header: bytes  # its first bytes: unit, function and byte count (or the whole echo)
    describe: str
    late: Callable[[int, bytes], str | None]  # why a frame of this unit is a stale answer, if it is

    def scan(
        self, heard: bytes, complete_at: Callable[[int], float], earliest: Callable[[int], float]
    ) -> tuple[bytes | None, list[Refusal]]:
        """The first acceptable answer in ``heard`` (or None) and why each look-alike before it was refused.

        ``complete_at(end)`` is when the byte before offset ``end`` arrived,
        ``earliest(length)`` the soonest an answer of ``length`` bytes can be complete.
        """
        refused: list[Refusal] = []
        for start in range(len(heard) - 1):
            if heard[start] != self.unit:
                continue
            function = heard[start + 1]
            if function == self.function | 0x80:
                length = EXCEPTION_FRAME_BYTES
            elif function != self.function or len(heard) < start + len(self.header):
                continue
            elif heard[start : start + len(self.header)] == self.header:
                length = self.length
            else:
                length = 3 + heard[start + 2] + 2
                frame = heard[start : start + length]
                if len(frame) == length and crc_ok(frame):
                    late = self.late(start, frame)
                    if late is not None:
                        refused.append(Refusal("late answer", late, frame))
                    else:
                        data = f"{heard[start + 2]} data bytes instead of {self.length - 5}"
                        wrong = f"wrong-length answer ({data})"
                        refused.append(Refusal("wrong length", wrong, frame))
                continue
            frame = heard[start : start + length]
            if len(frame) < length:
                return None, refused  # more may still come
            if not crc_ok(frame):
                refused.append(
                    Refusal("bad CRC", f"answer with a bad CRC ({length} bytes: {shown(frame)})", frame)
                )
                continue
            if complete_at(start + length) < earliest(length):
                reason = f"stale answer, complete before the request could have been heard ({shown(frame)})"
                refused.append(Refusal("stale answer", reason, frame))
                continue
            return frame, refused
        return None, refused


def shown(data: bytes) -> str:
    return data[:12].hex(" ") + (" ..." if len(data) > 12 else "")


def explain_heard(heard: bytes, unit: int) -> Refusal:
    """Why ``heard`` (everything received after a request, not empty) holds no answer of ``unit``."""
    if len(heard) >= EXCEPTION_FRAME_BYTES and heard[0] != unit:
        for length in (EXCEPTION_FRAME_BYTES, WRITE_FRAME_BYTES, 3 + heard[2] + 2):
            if len(heard) >= length and crc_ok(heard[:length]):
                return Refusal("wrong unit", f"answer from unit {heard[0]} instead of unit {unit}", heard)
    if heard[0] == unit and len(heard) < 3:
        return Refusal("cut short", f"answer cut short ({len(heard)} bytes: {shown(heard)})", heard)
    return Refusal(
        "noise", f"noise on the line instead of an answer ({len(heard)} bytes: {shown(heard)})", heard
    )


class _Listener(asyncio.Protocol):
    """Everything the port receives, with when each piece arrived."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.heard = bytearray()
        self.arrivals: list[tuple[int, float]] = []  # (bytes heard so far, when)
        self.last_byte_at = float("-inf")
        self.changed = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_byte_at = self.loop.time()
        self.heard += data
        self.arrivals.append((len(self.heard), self.last_byte_at))
        self.changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.changed.set()

    def forget(self) -> None:
        self.heard.clear()
        self.arrivals.clear()

    def complete_at(self, end: int) -> float:
        """When the byte before offset ``end`` arrived."""
        return next(at for total, at in self.arrivals if total >= end)


class RtuClient:
    """The part of pymodbus' client interface the bus poller uses, one transaction at a time."""

    def __init__(
        self,
        settings: SerialSettings,
        timeout: float,
        silence: float,
        rejections: RejectionLog,
        names: dict[int, str],
    ) -> None:
        self._settings = settings
        self._lock = PortLock(settings.port)
        self.rejections = rejections
        self._names = names  # unit -> device, for the rejection log
        self._last_unit: int | None = None  # whose answer the line most likely carries late
        self._timeout = timeout
        self._silence = silence
        self._quiet = silence  # before the next request: see rule 1
        self._listener: _Listener | None = None
        self._unanswered: dict[int, list[tuple[Read, float]]] = {}  # per unit, with when sent
        self._ended_at = float("-inf")  # when the last transaction ended: see _transact
        self._fault = DeviceFault(FaultCategory.TIMEOUT, "no response (timeout)")
        self._decoder = DecodePDU(is_server=False)

    @property
    def connected(self) -> bool:
        return self._listener is not None and self._listener.transport is not None

    async def connect(self) -> bool:
        listener = _Listener()
        try:
            self._lock.acquire()
            transport, _ = await create_serial_connection(
                asyncio.get_running_loop(),
                lambda: listener,
                self._settings.port,
                **self._settings.pyserial_options(),
            )
        except OSError as exc:  # pyserial's SerialException is one, and so is PortInUse
            log.debug("cannot open %s: %s", self._settings.port, exc)
            self._lock.release()
            return False
        keep_others_out(transport.serial)
        listener.connection_made(transport)  # pyserial-asyncio tells the protocol only later
        self._listener = listener
        return True

    def close(self) -> None:
        if self._listener is not None and self._listener.transport is not None:
            self._listener.transport.close()
        self._listener = None
        self._lock.release()

    def explain(self, *_request: object) -> DeviceFault:
        """Why the last request got no valid answer (the poller's ``explain_no_answer``)."""
        return self._fault

    # -- the client interface ----------------------------------------------------------
    async def read_coils(self, address: int, *, count: int, device_id: int) -> ModbusPDU:
        return await self._read(Read(device_id, 1, address, count))

    async def read_discrete_inputs(self, address: int, *, count: int, device_id: int) -> ModbusPDU:
        return await self._read(Read(device_id, 2, address, count))

    async def read_holding_registers(self, address: int, *, count: int, device_id: int) -> ModbusPDU:
        return await self._read(Read(device_id, 3, address, count))

    async def read_input_registers(self, address: int, *, count: int, device_id: int) -> ModbusPDU:
        return await self._read(Read(device_id, 4, address, count))

    async def write_coil(self, address: int, value: bool, *, device_id: int) -> ModbusPDU:
        return await self._write(WriteSingleCoilRequest(address=address, bits=[value], dev_id=device_id))

    async def write_register(self, address: int, value: int, *, device_id: int) -> ModbusPDU:
        return await self._write(
            WriteSingleRegisterRequest(address=address, registers=[value], dev_id=device_id)
        )

    # -- transactions --------------------------------------------------------------------
    async def _read(self, read: Read) -> ModbusPDU:
        while conflicts := self._conflicts(read):
            await self._resync(read, max(sent for _read, sent in conflicts))
        try:
            answer = await self._transact(read.pdu(), self._expect_read(read))
        except ModbusIOException:
            self._unanswered.setdefault(read.unit, []).append((read, self._loop_time()))
            raise
        self._settle(read)
        return answer

    def _conflicts(self, read: Read) -> list[tuple[Read, float]]:
        """Unanswered reads of the unit whose late answer would look like ``read``'s."""
        return [
            (r, sent)
            for r, sent in self._unanswered.get(read.unit, [])
            if r.shape == read.shape and r != read
        ]

    def _settle(self, answered: Read) -> None:
        """Rule 5: a unit answers in order, so an answer of this shape settles every read sent
        before the first unanswered read it may belong to."""
        entries = self._unanswered.pop(answered.unit, [])
        same = [sent for r, sent in entries if r.shape == answered.shape]
        if same:
            self._unanswered[answered.unit] = [(r, sent) for r, sent in entries if sent >= min(same)]

    async def _resync(self, read: Read, last_conflict: float) -> None:
        """Prove the unit has moved past every conflicting read, or raise saying why not."""
        entries = self._unanswered[read.unit]

        def proves(shape: tuple[int, int]) -> bool:  # its answer cannot belong to a read before them
            return all(sent > last_conflict for r, sent in entries if r.shape == shape)

        probe = read.resync(proves)
        if probe is None:
            if self._loop_time() < last_conflict + LATE_LIMIT_TIMEOUTS * self._timeout:
                reason = f"unit {read.unit} may still answer an earlier read of this size late"
                self._fault = DeviceFault(FaultCategory.TIMEOUT, f"{reason}; {read.describe()} waits")
                raise ModbusIOException(self._fault.reason)
            self._unanswered[read.unit] = [(r, sent) for r, sent in entries if sent > last_conflict]
            return
        try:
            await self._transact(probe.pdu(), self._expect_read(probe))
        except ModbusIOException:
            entries.append((probe, self._loop_time()))
            self._fault = DeviceFault(
                self._fault.category, f"resync read {probe.describe()}: {self._fault.reason}"
            )
            raise
        self._settle(probe)

    async def _write(self, request: ModbusPDU) -> ModbusPDU:
        frame = with_crc(bytes([request.dev_id, request.function_code]) + request.encode())
        expected = Expected(
            request.dev_id, request.function_code, WRITE_FRAME_BYTES, frame[:-2], "write", lambda *_: None
        )
        return await self._transact(request, expected)

    def _expect_read(self, read: Read) -> Expected:
        def late(_start: int, frame: bytes) -> str | None:
            size = frame[2]
            earlier = [r for r in self._still_unanswered(read.unit) if r.shape == (read.function, size)]
            return f"late answer to {earlier[0].describe()} of unit {read.unit}" if earlier else None

        return read.expected(late)

    async def _transact(self, request: ModbusPDU, expected: Expected) -> ModbusPDU:
        listener = self._listener
        if listener is None or listener.transport is None:
            raise ConnectionException(self._settings.port)
        await self._wait_for_silence(listener)
        if listener.heard and self._last_unit is not None:
            between = bytes(listener.heard)
            reason = f"{len(between)} bytes heard while the line should have been quiet"
            self._record(self._last_unit, [Refusal("heard between requests", reason, between)])
        listener.forget()  # rule 2
        self._last_unit = request.dev_id
        frame = with_crc(bytes([request.dev_id, request.function_code]) + request.encode())
        sent = self._loop_time()
        listener.transport.write(frame)

        def earliest(length: int) -> float:  # rule 3, less half a character for the clock's grain
            return (
                sent + self._settings.transfer_time(len(frame) + length) - self._settings.transfer_time(1) / 2
            )

        deadline = sent + self._timeout
        self._quiet = max(self._timeout, self._silence)  # until an answer is accepted
        answered = False
        try:
            while True:
                answer, refused = expected.scan(bytes(listener.heard), listener.complete_at, earliest)
                if answer is not None:
                    self._quiet = self._silence
                    answered = True
                    self._record(expected.unit, refused)
                    return self._decoded(answer)
                remaining = deadline - self._loop_time()
                if listener.transport is None:
                    raise ConnectionException(self._settings.port)
                if remaining <= 0:
                    heard = bytes(listener.heard)
                    if heard and not refused:
                        refused = [explain_heard(heard, expected.unit)]
                    self._record(expected.unit, refused)
                    self._fault = self._no_answer(refused, expected)
                    raise ModbusIOException(self._fault.reason)
                listener.changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):  # not wait_for: see poller._stop_if_told
                        await listener.changed.wait()
        finally:
            # After an answer, rule 1's silence runs from the last byte heard, so judging the
            # answer and handing it on take none of the line's time; after none, from now.
            self._ended_at = listener.last_byte_at if answered else self._loop_time()
            listener.forget()  # judged: what comes from now on arrives between requests

    async def _wait_for_silence(self, listener: _Listener) -> None:
        """Rule 1, measured on the line: a byte heard while waiting restarts the wait."""
        while (wait := max(self._ended_at, listener.last_byte_at) + self._quiet - self._loop_time()) > 0:
            listener.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await listener.changed.wait()

    def _decoded(self, frame: bytes) -> ModbusPDU:
        pdu = self._decoder.decode(frame[1:-2])
        if pdu is None:  # a well-framed answer pymodbus cannot read
            raise ModbusIOException(f"undecodable answer {shown(frame)}")
        if isinstance(pdu, ExceptionResponse):
            pdu.dev_id = frame[0]
        return pdu

    def _record(self, unit: int, refused: list[Refusal]) -> None:
        for refusal in refused:
            self.rejections.record(self._names.get(unit, f"unit {unit}"), refusal)

    @staticmethod
    def _no_answer(refused: list[Refusal], expected: Expected) -> DeviceFault:
        if not refused:
            return DeviceFault(FaultCategory.TIMEOUT, "no response (timeout)")
        return DeviceFault(FaultCategory.DECODE, f"{refused[0].reason} reading {expected.describe}")

    def _still_unanswered(self, unit: int) -> list[Read]:
        return [read for read, _sent in self._unanswered.get(unit, [])]

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()
