"""Modbus RTU on a serial line (RS-485): pymodbus' serial client behind the shared bus poller.

pymodbus' RTU framer drops a frame with a bad CRC, noise, or an answer from
the wrong unit without a word and the request then times out. A technician
needs to know which of those it was (a dead detector, a bad cable, two units
with one address), so :class:`AnswerWatch` keeps the bytes heard since each
request and :func:`explain_garble` reads them when no valid answer came. That
reading is hand-written: it only has to recognise the first frame's address,
function code, length and CRC, which pymodbus does not expose.

Timing follows the Modbus over serial line specification (V1.02): every RTU
character is 11 bits (start, 8 data, parity or a second stop bit, stop) and
frames are separated by at least 3.5 characters of silence (1.75 ms fixed
above 19200 baud).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.framer import FramerRTU, FramerType

from drivers.backoff import Backoff
from drivers.modbus.plan import ReadRequest
from drivers.modbus.poller import LinePolicy, ModbusDevice, ModbusPoller
from drivers.observation import DeviceFault, FaultCategory
from drivers.serial_port import SerialSettings

MODBUS_CHAR_BITS = 11
REQUEST_FRAME_BYTES = 8  # unit, function, address (2), count (2), CRC (2)
EXCEPTION_FRAME_BYTES = 5  # unit, function | 0x80, code, CRC (2)


def silent_interval(baudrate: int) -> float:
    """The minimum silence between two RTU frames (3.5 characters)."""
    if baudrate > 19200:
        return 0.00175
    return 3.5 * MODBUS_CHAR_BITS / baudrate


def answer_frame_bytes(register_is_bit: bool, count: int) -> int:
    """Size of a correct answer to a read of ``count`` registers or bits."""
    data = (count + 7) // 8 if register_is_bit else 2 * count
    return 3 + data + 2  # unit, function, byte count, data, CRC


def transaction_line_time(request: ReadRequest, baudrate: int) -> float:
    """Seconds the line is busy for ``request``: both frames and the silence before each."""
    chars = REQUEST_FRAME_BYTES + answer_frame_bytes(request.register.is_bit, request.count)
    return chars * MODBUS_CHAR_BITS / baudrate + 2 * silent_interval(baudrate)


def explain_garble(heard: bytes, unit: int, function: int) -> str:
    """Why ``heard`` (everything received after a request) is not a valid answer."""
    if not heard:
        return "no response (timeout)"
    shown = heard[:12].hex(" ") + (" ..." if len(heard) > 12 else "")
    if len(heard) < 2 or heard[1] & 0x7F != function:
        return f"noise on the line instead of an answer ({len(heard)} bytes: {shown})"
    if heard[1] & 0x80:
        expected = EXCEPTION_FRAME_BYTES
    elif len(heard) >= 3:
        expected = 3 + heard[2] + 2
    else:
        return f"answer cut short ({len(heard)} bytes: {shown})"
    if len(heard) < expected:
        return f"answer cut short ({len(heard)} of {expected} bytes: {shown})"
    frame = heard[:expected]
    crc = int.from_bytes(frame[-2:], "big")
    if not FramerRTU.check_CRC(frame[:-2], crc):
        return f"answer with a bad CRC ({expected} bytes: {shown})"
    if frame[0] != unit:
        return f"answer from unit {frame[0]} instead of unit {unit}"
    return f"answer not understood ({len(heard)} bytes: {shown})"


class AnswerWatch:
    """pymodbus ``trace_packet`` hook that remembers what the line said since the last request.

    pymodbus passes its whole receive buffer on every read; the buffer grows
    until a frame is complete and is emptied when the framer throws bytes away.
    """

    def __init__(self) -> None:
        self._heard = b""
        self._buffer = b""

    def trace(self, sending: bool, data: bytes) -> bytes:
        if sending:
            self._heard = self._buffer = b""
        elif data.startswith(self._buffer):
            self._buffer = data
        else:
            self._heard += self._buffer
            self._buffer = data
        return data

    @property
    def heard(self) -> bytes:
        return self._heard + self._buffer

    def explain(self, request: ReadRequest, unit: int) -> DeviceFault:
        reason = explain_garble(self.heard, unit, request.register.read_function)
        if self.heard:
            return DeviceFault(FaultCategory.DECODE, f"{reason} reading {request.describe()}")
        return DeviceFault(FaultCategory.TIMEOUT, reason)


def rtu_poller(
    *,
    settings: SerialSettings,
    timeout: float,
    devices: Sequence[ModbusDevice],
    retries: int = 1,
    gap: float | None = None,
    silent_backoff_max: float | None = 10.0,
    backoff: Backoff | None = None,
) -> ModbusPoller:
    """A poller for the units on one RS-485 line.

    ``gap`` defaults to the 3.5-character silence. pymodbus' own retries and
    reconnects are off: the poller owns that policy, so every failure becomes
    a fault observation at once and one silent unit cannot hold the line.
    """
    watch = AnswerWatch()
    client = AsyncModbusSerialClient(
        settings.port,
        framer=FramerType.RTU,
        timeout=timeout,
        retries=0,
        reconnect_delay=0,
        name=settings.port,
        trace_packet=watch.trace,
        **settings.pyserial_options(),
    )

    def quiet_after_timeout(request: ReadRequest) -> float:
        """A unit slower than ``timeout`` gets as long again, plus its answer's time on the wire."""
        answer = answer_frame_bytes(request.register.is_bit, request.count) * MODBUS_CHAR_BITS
        return timeout + answer / settings.baudrate

    policy = LinePolicy(
        retries=retries,
        gap=silent_interval(settings.baudrate) if gap is None else gap,
        silent_backoff_max=silent_backoff_max,
        quiet_after_timeout=quiet_after_timeout,
    )
    return ModbusPoller(
        endpoint=f"serial port {settings.describe()}",
        client=client,
        devices=devices,
        backoff=backoff,
        policy=policy,
        explain_no_answer=watch.explain,
        why_unreachable=settings.why_unavailable,
    )
