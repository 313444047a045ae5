"""Rate of rise: how much a value went up within a time window.

Rising water warns before any level is reached. The detector says nothing
(``None``) until it has seen a whole window, so a restart neither raises nor
clears on half a history.
"""

from __future__ import annotations

from collections import deque

from gateway.config.profiles import RateOfRise


class RateOfRiseDetector:
    """Active while the value rose by ``rise`` within ``window`` and is at least ``above``.

    The rise is the latest value minus the lowest within the window.
    """

    def __init__(self, spec: RateOfRise) -> None:
        self.spec = spec
        self._samples: deque[tuple[float, float]] = deque()
        self.active = False

    def update(self, value: float, now: float) -> bool | None:
        """Feed one reading; True/False once a whole window is known, else None."""
        samples = self._samples
        samples.append((now, value))
        while len(samples) > 1 and now - samples[1][0] >= self.spec.window:
            samples.popleft()
        if now - samples[0][0] < self.spec.window:
            return None  # not yet a full window of history
        rise = value - min(v for _, v in samples)
        high_enough = self.spec.above is None or value >= self.spec.above
        # Hysteresis: once on, it stays on until the rise is below half the set rate,
        # wherever the value is (noise around ``above`` must not make it chatter).
        if self.active:
            self.active = rise >= self.spec.rise / 2
        else:
            self.active = rise >= self.spec.rise and high_enough
        return self.active

    def rise(self) -> float:
        if not self._samples:
            return 0.0
        return self._samples[-1][1] - min(v for _, v in self._samples)
