"""The identity fields every published message gets when it is made."""

from __future__ import annotations

from typing import Any

from gateway.contract.events import utc_now
from gateway.contract.ids import SequenceStore, uuid7
from gateway.contract.time_quality import time_quality


class Stamper:
    """Hands out ``id``, ``station``, ``seq`` and ``created_at`` for a new message."""

    def __init__(self, station: str, sequence: SequenceStore) -> None:
        self.station = station
        self._sequence = sequence

    def __call__(self) -> dict[str, Any]:
        return {
            "id": uuid7(),
            "station": self.station,
            "seq": self._sequence.next(),
            "created_at": utc_now(),
            "time_quality": time_quality(),
        }
