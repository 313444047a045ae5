"""A serial port's configuration, shared by serial buses and serial radio bridges."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from drivers.serial_port import Parity
from gateway.config.types import Strict, in_range, rejected

STANDARD_BAUD_RATES = (1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400, 460800, 921600)


class SerialPortConfig(Strict):
    """A serial port and its character format (9600 8N1 unless said otherwise).

    A baud rate off the standard list is almost always a typo (``9601``) that
    would turn every answer into noise; an adapter that really runs at one says
    so with ``allow_nonstandard_baud: true``.
    """

    port: str = Field(min_length=1)
    allow_nonstandard_baud: bool = False  # before baudrate: its check reads this
    baudrate: Annotated[int, in_range(300, 1_000_000)] = 9600
    data_bits: Literal[7, 8] = 8
    parity: Parity = Parity.NONE
    stop_bits: Literal[1, 2] = 1

    @field_validator("baudrate")
    @classmethod
    def _standard_baud(cls, value: int, info: ValidationInfo) -> int:
        if value not in STANDARD_BAUD_RATES and not info.data.get("allow_nonstandard_baud"):
            rates = ", ".join(map(str, STANDARD_BAUD_RATES))
            expected = f"must be a standard rate ({rates}) unless allow_nonstandard_baud: true"
            raise rejected("baudrate", expected, value)
        return value
