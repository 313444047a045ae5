"""Capped exponential backoff, for reconnecting to a bus and for probing a silent unit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0

    def delays(self) -> Iterator[float]:
        """``initial``, doubling each time, never above ``maximum``."""
        delay = min(self.initial, self.maximum)
        while True:
            yield delay
            delay = min(delay * 2, self.maximum)
