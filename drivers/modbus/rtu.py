"""Modbus RTU on a serial line (RS-485): the RTU transaction layer behind the shared bus poller.

The transactions themselves, and why they are not pymodbus' serial client,
are in :mod:`drivers.modbus.rtu_client`.

Timing follows the Modbus over serial line specification (V1.02): every RTU
character is 11 bits (start, 8 data, parity or a second stop bit, stop) and
frames are separated by at least 3.5 characters of silence (1.75 ms fixed
above 19200 baud).
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers.backoff import Backoff
from drivers.modbus.plan import ReadRequest
from drivers.modbus.poller import LinePolicy, ModbusDevice, ModbusPoller
from drivers.modbus.rtu_client import RtuClient
from drivers.rejections import RejectionLog
from drivers.serial_port import SerialSettings

MODBUS_CHAR_BITS = 11
REQUEST_FRAME_BYTES = 8  # unit, function, address (2), count (2), CRC (2)


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

    ``gap`` is the silence before each request, never less than the
    3.5-character one (its default). The client keeps it, measured on the line
    from the last byte heard, so the poller adds no wait of its own. The poller
    owns retries and reconnects, so every failure becomes a fault observation
    at once and one silent unit cannot hold the line.
    """
    silence = max(silent_interval(settings.baudrate), gap or 0.0)
    rejections = RejectionLog(f"serial port {settings.describe()}")
    client = RtuClient(settings, timeout, silence, rejections, {d.unit: d.name for d in devices})
    policy = LinePolicy(retries=retries, silent_backoff_max=silent_backoff_max)
    return ModbusPoller(
        endpoint=f"serial port {settings.describe()}",
        client=client,
        devices=devices,
        backoff=backoff,
        policy=policy,
        explain_no_answer=client.explain,
        why_unreachable=settings.why_unavailable,
        rejections=rejections,
    )
