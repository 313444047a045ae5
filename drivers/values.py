"""Raw number to engineering value, and back: one rule for Modbus registers and serial frames.

A sensor that reports NaN or infinity (a float register or field some
firmware fills when its probe is broken or not warmed up) is in fault: the
number means nothing, and publishing it would either hide the fault or raise
a false alarm. The conversion refuses it with a reason a technician can act on.
"""

from __future__ import annotations

import math


class ImplausibleReading(ValueError):
    """A number no sensor means: NaN or infinite, before or after scaling."""

    def __init__(self, point: str, value: float) -> None:
        shown = "NaN" if math.isnan(value) else f"{value:+}"
        super().__init__(f"implausible reading: {point} is {shown}")


def engineering(point: str, raw: float, *, scale: float, offset: float, bit: int | None) -> float | bool:
    """``raw * scale + offset`` for ``point``, or one bit of an integer raw value as a flag.

    Raises :class:`ImplausibleReading` for a raw or scaled value that is not finite.
    """
    if not math.isfinite(raw):
        raise ImplausibleReading(point, raw)
    if bit is not None:
        return bool((int(raw) >> bit) & 1)
    value = raw * scale + offset
    if not math.isfinite(value):
        raise ImplausibleReading(point, value)
    return round(float(value), 9)


def raw_of(value: float, *, scale: float, offset: float) -> float:
    """The raw value that ``engineering`` turns into ``value`` (the simulator's side)."""
    return (value - offset) / scale


def with_bit(raw: int, bit: int, on: bool) -> int:
    """``raw`` with ``bit`` set or cleared."""
    return (raw & ~(1 << bit)) | (int(on) << bit)
