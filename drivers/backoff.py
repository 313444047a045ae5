"""Capped exponential backoff with jitter: for reconnecting, restarting, retrying and probing.

Every wait for a peer to come back (a bus, a broker, a TNC, a database, a
silent unit, a radio that has not acknowledged) doubles from ``initial`` up
to ``maximum``. Each delay is drawn between half and all of that nominal
value, so tasks and stations that lost the same peer at the same moment do
not all come back at the same moment; a delay is never longer than nominal.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

JITTER = 0.5  # the shortest delay, as a fraction of its nominal value


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0

    def delays(self) -> Iterator[float]:
        """Nominally ``initial``, doubling each time, never above ``maximum``; each one jittered."""
        nominal = min(self.initial, self.maximum)
        while True:
            yield nominal * random.uniform(JITTER, 1.0)
            nominal = min(nominal * 2, self.maximum)
