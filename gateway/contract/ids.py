"""Event identity: time-ordered unique ids and a per-station sequence that survives restarts."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from pathlib import Path

from gateway.durable import write_durably


class _Uuid7Source:
    """UUIDv7 (RFC 9562): 48-bit Unix milliseconds, a 12-bit counter, randomness.

    The standard library has ``uuid.uuid7`` only from Python 3.14 and the Pi
    ships 3.11. Within one millisecond the counter in ``rand_a`` keeps ids
    from this process strictly increasing (RFC 9562, method 1).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0

    def __call__(self) -> str:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms <= self._last_ms:
                self._counter += 1
                if self._counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                    self._last_ms += 1
                    self._counter = 0
                now_ms = self._last_ms
            else:
                self._last_ms, self._counter = now_ms, secrets.randbits(8)
            value = (now_ms & ((1 << 48) - 1)) << 80
            value |= 0x7 << 76 | self._counter << 64
            value |= 0b10 << 62 | secrets.randbits(62)
        return str(uuid.UUID(int=value))


uuid7 = _Uuid7Source()


class SequenceStore:
    """A per-station message sequence, strictly increasing across restarts.

    Numbers are reserved on disk in blocks: the file holds the first number
    not yet handed out by any run, durably on disk before a block is
    used. A crash loses at most the rest of a block (a gap), never reuses a
    number. Gaps are allowed by the contract; repeats are not.
    """

    def __init__(self, path: Path, block: int = 1000) -> None:
        self._path = path
        self._block = block
        path.parent.mkdir(parents=True, exist_ok=True)
        self._next = self._read()
        self._reserved_until = self._next
        self._lock = threading.Lock()

    def _read(self) -> int:
        try:
            return int(self._path.read_text().strip() or 1)
        except FileNotFoundError:
            return 1

    def _reserve(self, until: int) -> None:
        write_durably(self._path, f"{until}\n")
        self._reserved_until = until

    def next(self) -> int:
        with self._lock:
            if self._next >= self._reserved_until:
                self._reserve(self._next + self._block)
            value = self._next
            self._next += 1
            return value
