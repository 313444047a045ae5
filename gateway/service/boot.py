"""This run of the gateway: the identity the platform sees in the station status, ``ping`` and health.

A new boot id and a higher boot count tell the platform the station restarted,
even when the restart was too quick for the Last Will to fire.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.contract.events import utc_now
from gateway.durable import write_durably

log = logging.getLogger(__name__)
BOOT_COUNT_FILE = "boot_count"


@dataclass
class Boot:
    id: str
    count: int
    started_at: datetime
    started_monotonic: float
    stored: bool  # the count is on disk (a full or read-only disk keeps it in memory until it is)

    @classmethod
    def begin(cls, state_dir: Path) -> Boot:
        """A new boot, counted in ``state_dir`` so the count survives restarts."""
        path = state_dir / BOOT_COUNT_FILE
        count = last_boot_count(path) + 1
        return cls(str(uuid.uuid4()), count, utc_now(), time.monotonic(), store_boot_count(path, count))

    def store(self, state_dir: Path) -> None:
        """Write the count if the disk refused it at start."""
        if not self.stored:
            self.stored = store_boot_count(state_dir / BOOT_COUNT_FILE, self.count)

    def uptime(self) -> float:
        """Seconds since this boot, to a tenth (monotonic: immune to clock steps)."""
        return round(time.monotonic() - self.started_monotonic, 1)


def last_boot_count(path: Path) -> int:
    """How many times the gateway has started here before (0: never, or unknown)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def store_boot_count(path: Path, count: int) -> bool:
    """Write ``count`` (replaced atomically, fsynced); False if the disk refused (logged)."""
    try:
        write_durably(path, f"{count}\n")
    except OSError as exc:
        log.error("boot count %d not stored (%s); kept in memory", count, exc)
        return False
    return True
