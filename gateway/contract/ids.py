"""Event identity: time-ordered unique ids and a per-station sequence that survives restarts."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from gateway.durable import write_durably

log = logging.getLogger(__name__)

RETRY_AFTER = 5.0  # seconds between tries to reserve numbers on a disk that refused
_TAIL_BITS = (1 << 62) - 1
_RANDOM_BYTES = 9  # 70 bits per id: 8 to seed a new millisecond's counter, 62 for the tail
_RANDOM_READ = 4095  # bytes of the kernel's randomness read at once: 455 ids' worth


class _Uuid7Source:
    """UUIDv7 (RFC 9562): 48-bit Unix milliseconds, a 12-bit counter, randomness.

    The standard library has ``uuid.uuid7`` only from Python 3.14 and the Pi
    ships 3.11. Within one millisecond the counter in ``rand_a`` keeps ids
    from this process strictly increasing (RFC 9562, method 1).

    The random bits come from the kernel's CSPRNG (RFC 9562 asks for one), read
    a few kilobytes at a time: one ``getrandom`` per id was a system call on
    every message a station publishes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0
        self._random = b""
        self._used = 0
        # A forked child must not hand out the parent's unread randomness again.
        os.register_at_fork(after_in_child=self._forget_random)

    def _forget_random(self) -> None:
        self._random, self._used = b"", 0

    def __call__(self) -> str:
        with self._lock:
            if self._used + _RANDOM_BYTES > len(self._random):
                self._random, self._used = os.urandom(_RANDOM_READ), 0
            fresh = int.from_bytes(self._random[self._used : self._used + _RANDOM_BYTES]) >> 2
            self._used += _RANDOM_BYTES
            now_ms = time.time_ns() // 1_000_000
            if now_ms <= self._last_ms:
                self._counter += 1
                if self._counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                    self._last_ms += 1
                    self._counter = 0
                now_ms = self._last_ms
            else:
                self._last_ms, self._counter = now_ms, fresh >> 62
            value = (now_ms & ((1 << 48) - 1)) << 80
            value |= 0x7 << 76 | self._counter << 64
            value |= 0b10 << 62 | fresh & _TAIL_BITS
        # What str(uuid.UUID(int=value)) gives, without building and checking a UUID object.
        digits = f"{value:032x}"
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


uuid7 = _Uuid7Source()


class SequenceStore:
    """A per-station message sequence, strictly increasing across restarts.

    Numbers are reserved on disk in blocks: the file holds the first number
    not yet handed out by any run, durably on disk before a block is
    used. A crash loses at most the rest of a block (a gap), never reuses a
    number. Gaps are allowed by the contract; repeats are not.

    The next block is reserved by a background thread once half of the
    current one is used, so handing out a number never waits for the disk.
    If the disk refuses, numbers go on in memory (logged) and the reservation
    is tried again: only a crash before it succeeds could repeat numbers.
    """

    def __init__(self, path: Path, block: int = 1000) -> None:
        self._path = path
        self._block = block
        self._lock = threading.Lock()
        self._next = self._read()
        self._reserved_until = self._next
        self._reserving: threading.Thread | None = None
        self._retry_at = 0.0  # monotonic: when to try the disk again after it refused (0: it did not)
        self._reserve(self._next + block)

    def _read(self) -> int:
        try:
            return int(self._path.read_text().strip() or 1)
        except FileNotFoundError:
            return 1
        except (OSError, ValueError) as exc:
            log.error("message sequence %s unreadable (%s); starting at 1", self._path, exc)
            return 1

    def _reserve(self, until: int) -> None:
        """Write ``until`` as the first number no run may hand out yet (fsynced)."""
        try:
            write_durably(self._path, f"{until}\n")
        except OSError as exc:
            if not self._retry_at:  # once per outage, not once per try
                log.error("message sequence not reserved up to %d (%s); going on in memory", until, exc)
            with self._lock:
                self._retry_at = time.monotonic() + RETRY_AFTER
            return
        if self._retry_at:
            log.warning("message sequence reserved on disk again, up to %d", until)
        with self._lock:
            self._reserved_until = max(self._reserved_until, until)
            self._retry_at = 0.0

    def next(self) -> int:
        with self._lock:
            reserving = self._reserving if self._next >= self._reserved_until else None
        if reserving is not None:
            reserving.join()  # the block went faster than the disk: wait, never repeat a number
        with self._lock:
            value = self._next
            self._next += 1
            if (
                self._reserved_until - self._next < self._block // 2
                and self._reserving is None
                and time.monotonic() >= self._retry_at
            ):
                until = max(self._reserved_until, self._next) + self._block
                self._reserving = threading.Thread(target=self._reserve_ahead, args=(until,), daemon=True)
                self._reserving.start()
            return value

    def _reserve_ahead(self, until: int) -> None:
        self._reserve(until)
        with self._lock:
            self._reserving = None
