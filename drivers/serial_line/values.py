"""What text and binary points share: raw value to engineering value, and back."""

from __future__ import annotations

import math


class Unparsable(ValueError):
    """A frame that passed framing and checksum but does not hold the expected values."""


def engineering(raw: float, *, scale: float, offset: float, bit: int | None) -> float | bool:
    """``raw * scale + offset``, or one bit of an integer raw value as a flag."""
    if bit is not None:
        return bool((int(raw) >> bit) & 1)
    value = raw * scale + offset
    if not math.isfinite(value):
        raise Unparsable(f"value {raw!r} is not a finite number")
    return round(float(value), 9)


def raw_of(value: float, *, scale: float, offset: float) -> float:
    """The raw value that ``engineering`` turns into ``value`` (the simulator's side)."""
    return (value - offset) / scale


def with_bit(raw: int, bit: int, on: bool) -> int:
    """``raw`` with ``bit`` set or cleared."""
    return (raw & ~(1 << bit)) | (int(on) << bit)
