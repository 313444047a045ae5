"""Is the wall clock to be trusted? A Pi has no real-time clock until NTP has synchronised it.

The kernel knows: ``adjtimex(2)`` returns ``TIME_ERROR`` while the clock is
not synchronised. Events carry the answer as ``time_quality``; ordering never
depends on the wall clock (``seq`` and the monotonic clock do that).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from enum import StrEnum

_TIME_ERROR = 5
_TIMEX_SIZE = 256  # larger than struct timex on every Linux ABI; modes=0 only reads


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


def time_quality() -> TimeQuality:
    if _call is None:
        return TimeQuality.UNKNOWN
    state = _call(_buffer)
    if state < 0:
        return TimeQuality.UNKNOWN
    return TimeQuality.UNSYNCHRONIZED if state == _TIME_ERROR else TimeQuality.SYNCHRONIZED
