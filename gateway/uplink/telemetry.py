"""When a device's readings are worth sending: on a change beyond a deadband, or when due."""

from __future__ import annotations

import time


class ReportOnChange:
    """Decides, per device, whether the latest readings go out now.

    A point with a deadband reports when it has moved more than that since it
    was last sent (a boolean on any change); every device reports at least
    every ``max_interval`` seconds.
    """

    def __init__(self, deadbands: dict[str, dict[str, float]], max_interval: float) -> None:
        self._deadbands = deadbands  # device -> point -> deadband
        self._max_interval = max_interval
        self._sent: dict[str, tuple[float, dict[str, float | bool]]] = {}

    def due(self, device: str, values: dict[str, float | bool], now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        previous = self._sent.get(device)
        if previous is None:
            self._sent[device] = (now, dict(values))  # the first reading starts the clock
            return False
        sent_at, sent = previous
        overdue = self._max_interval > 0 and now - sent_at >= self._max_interval
        if overdue or any(
            _moved(sent.get(point), values.get(point), band)
            for point, band in self._deadbands.get(device, {}).items()
        ):
            self._sent[device] = (now, dict(values))
            return True
        return False


def _moved(before: float | bool | None, after: float | bool | None, band: float) -> bool:
    if before is None or after is None:
        return before is not after
    if isinstance(before, bool) or isinstance(after, bool):
        return before != after
    return abs(after - before) > band
