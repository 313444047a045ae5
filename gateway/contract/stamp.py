"""The identity fields every published message gets when it is made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.contract.events import utc_now
from gateway.contract.ids import SequenceStore, uuid7
from gateway.contract.time_quality import time_quality


class Stamper:
    """Hands out ``id``, ``station``, ``seq`` and ``created_at`` for a new message."""

    def __init__(
        self, station: str, sequence: SequenceStore, made: Callable[[int], None] | None = None
    ) -> None:
        """``made`` is told each ``seq`` handed out (the uplink judges from it what is historical)."""
        self.station = station
        self._sequence = sequence
        self._made = made

    def __call__(self) -> dict[str, Any]:
        seq = self._sequence.next()
        if self._made is not None:
            self._made(seq)
        return {
            "id": uuid7(),
            "station": self.station,
            "seq": seq,
            "created_at": utc_now(),
            "time_quality": time_quality(),
        }
