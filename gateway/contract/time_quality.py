"""Is the wall clock to be trusted? A Pi has no real-time clock until NTP has synchronised it.

The kernel knows: ``adjtimex(2)`` returns ``TIME_ERROR`` while the clock is
not synchronised. Events carry the answer as ``time_quality``; ordering never
depends on the wall clock (``seq`` and the monotonic clock do that).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from enum import StrEnum

_TIME_ERROR = 5
_TIMEX_SIZE = 256  # larger than struct timex on every Linux ABI; modes=0 only reads
# Seconds an answer of the kernel is used for. Every message is stamped with it, and a clock's
# synchronisation changes over minutes (NTP's first sync, an unplugged network), not within one.
ASKED_EVERY = 1.0


class TimeQuality(StrEnum):
    SYNCHRONIZED = "synchronized"
    UNSYNCHRONIZED = "unsynchronized"
    UNKNOWN = "unknown"


def _adjtimex():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name, use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_void_p]
    function.restype = ctypes.c_int
    return function


_call = _adjtimex()
# One buffer for every call: the kernel only writes the clock's state into it, which is not read,
# so threads sharing it do no harm, and every message stamped is spared an allocation.
_buffer = ctypes.create_string_buffer(_TIMEX_SIZE)


# The last answer: (monotonic time asked, what the kernel said), replaced as one tuple so a
# thread reading it never sees half of an update.
_answer = [(float("-inf"), TimeQuality.UNKNOWN)]


def time_quality() -> TimeQuality:
    """The clock's state, asked of the kernel at most every :data:`ASKED_EVERY` seconds."""
    asked, quality = _answer[0]
    now = time.monotonic()
    if now - asked >= ASKED_EVERY:
        quality = _ask()
        _answer[0] = (now, quality)
    return quality


def _ask() -> TimeQuality:
    if _call is None:
        return TimeQuality.UNKNOWN
    state = _call(_buffer)
    if state < 0:
        return TimeQuality.UNKNOWN
    return TimeQuality.UNSYNCHRONIZED if state == _TIME_ERROR else TimeQuality.SYNCHRONIZED
