"""CRC-16/MODBUS written out here, to judge RTU frames independently of pymodbus."""

from __future__ import annotations


def crc16_modbus(data: bytes) -> bytes:
    """The two CRC bytes an RTU frame ends with (low byte first)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")
