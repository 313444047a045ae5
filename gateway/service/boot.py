"""This run of the gateway: the identity the platform sees in the station status, ``ping`` and health.

A new boot id and a higher boot count tell the platform the station restarted,
even when the restart was too quick for the Last Will to fire.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.contract.events import utc_now
from gateway.durable import write_durably


@dataclass(frozen=True)
class Boot:
    id: str
    count: int
    started_at: datetime
    started_monotonic: float

    @classmethod
    def begin(cls, state_dir: Path) -> Boot:
        """A new boot, counted in ``state_dir`` so the count survives restarts."""
        return cls(str(uuid.uuid4()), next_boot_count(state_dir / "boot_count"), utc_now(), time.monotonic())

    def uptime(self) -> float:
        """Seconds since this boot, to a tenth (monotonic: immune to clock steps)."""
        return round(time.monotonic() - self.started_monotonic, 1)


def next_boot_count(path: Path) -> int:
    """How many times the gateway has started here, this start included."""
    try:
        count = int(path.read_text().strip()) + 1
    except (FileNotFoundError, ValueError):
        count = 1
    write_durably(path, f"{count}\n")
    return count
