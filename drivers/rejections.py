"""Frames a driver refused: counted per device and reason, the last one kept, a warning now and then.

A rejected frame is the first sign of a bad cable, a wrong baud rate, a second
master on the line or a unit answering late. Counted only inside the process
and logged at debug level, nobody saw them; here they are kept for
``/metrics`` and ``/healthz``, and each device's rejections reach the log as a
warning at most once per :data:`WARN_EVERY` seconds (saying how many more came
since), so a noisy line cannot bury the log.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass

from drivers.shown import shown

log = logging.getLogger(__name__)

WARN_EVERY = 60.0  # seconds between two warnings about one device's rejected frames
FRAME_SHOWN = 64  # bytes of a rejected frame kept and logged


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused frame: ``kind`` is a fixed phrase (a metric label), ``reason`` the particulars."""

    kind: str
    reason: str
    frame: bytes


@dataclass(frozen=True, slots=True)
class LastRejected:
    reason: str
    frame: str  # escaped and cut short: it came from the wire
    at: float  # Unix time


class RejectionLog:
    """The rejected frames of one bus, by device."""

    def __init__(self, where: str, warn_every: float = WARN_EVERY) -> None:
        self.where = where
        self.counts: Counter[tuple[str, str]] = Counter()  # (device, kind) -> frames
        self.last: dict[str, LastRejected] = {}
        self._warn_every = warn_every
        self._warned_at: dict[str, float] = {}
        self._since_warning: Counter[str] = Counter()

    def record(self, device: str, refusal: Refusal) -> None:
        self.counts[(device, refusal.kind)] += 1
        frame = shown(refusal.frame, FRAME_SHOWN)
        self.last[device] = LastRejected(refusal.reason, frame, time.time())
        now = time.monotonic()
        if now - self._warned_at.get(device, float("-inf")) < self._warn_every:
            self._since_warning[device] += 1
            return
        self._warned_at[device] = now
        more = self._since_warning.pop(device, 0)
        log.warning(
            "%s: rejected a frame for %s: %s: %s%s",
            self.where,
            device,
            shown(refusal.reason),
            frame,
            f" ({more} more rejected since the last warning)" if more else "",
        )

    def of(self, device: str) -> dict[str, int]:
        """``device``'s rejected frames so far, by kind."""
        return {kind: count for (name, kind), count in sorted(self.counts.items()) if name == device}
