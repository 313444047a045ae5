"""The alarm state file of earlier versions (``alarms.json``), read once to migrate it.

Earlier versions kept the engine's state in this file, written after the
outbox commit (two writes, so a crash between them could lose a raise). The
state now lives in the outbox database, committed with the events; an
upgraded station's file is read once, stored there, and renamed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from gateway.alarms.engine import ALARM_ENTRY, EXERCISE_ENTRY

log = logging.getLogger(__name__)

VERSION = 1


def read_legacy_state(path: Path) -> dict[str, Any]:
    """The file's state as engine entries; empty if there is none (an unreadable file is logged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.error("GATEWAY FAULT: alarm state %s unreadable (%s); starting from normal", path, exc)
        return {}
    if data.get("version") != VERSION:
        log.error("alarm state %s has version %r; starting from normal", path, data.get("version"))
        return {}
    entries = {ALARM_ENTRY + key: saved for key, saved in data.get("alarms", {}).items()}
    if "exercise" in data:
        entries[EXERCISE_ENTRY] = data["exercise"]
    return entries
