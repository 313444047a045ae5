"""Alarm state that survives a restart: one JSON file, replaced atomically and fsynced.

After a restart the gateway neither forgets an active alarm nor raises it a
second time: the engine restores each occurrence (grade, acknowledgement,
shelving, the event that raised it) before the first poll.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from gateway.durable import write_durably

log = logging.getLogger(__name__)

VERSION = 1


class AlarmStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        """The saved state, or an empty one (first start, or an unreadable file, which is logged)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("GATEWAY FAULT: alarm state %s unreadable (%s); starting from normal", self.path, exc)
            return {}
        if data.get("version") != VERSION:
            log.error("alarm state %s has version %r; starting from normal", self.path, data.get("version"))
            return {}
        return data

    def save(self, state: dict[str, Any]) -> None:
        write_durably(self.path, json.dumps({"version": VERSION, **state}, separators=(",", ":")))
