"""Which messages are live and which are ``historical``, as the platform is told.

A message is historical when it was made in an earlier boot of the gateway,
or when it waited longer than ``outbox.historical_after`` (30 s) between
being made and leaving the outbox for the broker. Everything else is live,
including what the gateway made while it was starting and its MQTT session
was not up yet: a fire bit already set at boot reaches the platform live.

Both questions are answered from the message's ``seq`` alone, on the
monotonic clock: ``seq`` rises strictly across restarts, so a message made
before the first one of this boot is from an earlier boot, and a message
made before the oldest one of the last ``historical_after`` seconds waited
longer than that. A step of the wall clock (a Raspberry Pi without a clock
battery sets its time from the network after booting) changes neither.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable


class Freshness:
    """Told of every ``seq`` made in this boot; says whether a message is historical when it leaves."""

    def __init__(self, historical_after: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._after = historical_after
        self._monotonic = monotonic
        self._recent: deque[tuple[float, int]] = deque()  # (made at, seq) of the last ``after`` seconds
        self._next: float = math.inf  # the seq after the last one made; none made yet: all are old

    def made(self, seq: int) -> None:
        """A message of this boot was just stamped with ``seq``."""
        now = self._monotonic()
        self._recent.append((now, seq))
        self._next = seq + 1
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self._recent and now - self._recent[0][0] > self._after:
            self._recent.popleft()

    def historical(self, seq: int) -> bool:
        """Made in an earlier boot, or longer than ``historical_after`` ago."""
        self._forget(self._monotonic())
        oldest_live = self._recent[0][1] if self._recent else self._next
        return seq < oldest_live

    def mark(self, payload: bytes) -> bytes:
        """``payload`` as it leaves the outbox: with ``historical: true`` when it is.

        Every payload is an envelope's JSON, whose leading fields hold its
        ``seq`` and ``"historical":false`` (nested fields come after them, and
        a string cannot hold an unescaped quote): both are found and the flag
        flipped in the bytes, without parsing and re-serialising every message.
        """
        found = _SEQ.search(payload)
        if found is None or not self.historical(int(found[1])):
            return payload
        return _LIVE.sub(_HISTORICAL, payload, count=1)


_SEQ = re.compile(rb'"seq":\s*(\d+)')
_LIVE = re.compile(rb'"historical":\s*false')
_HISTORICAL = b'"historical":true'
