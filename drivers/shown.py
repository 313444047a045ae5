"""Strings from the wire as they may appear in a log line: escaped and cut short.

A command id, a radio frame, a serial line or an MQTT topic is written by
whoever is on the other end. Logged as it is, a newline in it forges a log
line of its own and 100 KB of it buries the rest; :func:`shown` is how every
such value reaches the log. It lives with the drivers because they log what
they hear too, and drivers import only drivers.
"""

from __future__ import annotations

LIMIT = 200  # characters (bytes, for bytes) of the value itself; the rest is only counted


def shown(value: object, limit: int = LIMIT) -> str:
    """``repr`` of the first ``limit`` characters (no control character survives), and how many more."""
    if isinstance(value, bytearray):
        value = bytes(value)
    if not isinstance(value, str | bytes):
        value = repr(value)  # None, a number: as Python writes it, still bounded
        return value if len(value) <= limit else f"{value[:limit]}…(+{len(value) - limit})"
    head = repr(value[:limit])
    more = len(value) - limit
    return f"{head}…(+{more})" if more > 0 else head
