"""A serial port's configuration, shared by serial buses and serial radio bridges."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from drivers.serial_port import Parity
from gateway.config.types import Strict, in_range


class SerialPortConfig(Strict):
    """A serial port and its character format (9600 8N1 unless said otherwise)."""

    port: str = Field(min_length=1)
    baudrate: Annotated[int, in_range(300, 1_000_000)] = 9600
    data_bits: Literal[7, 8] = 8
    parity: Parity = Parity.NONE
    stop_bits: Literal[1, 2] = 1
