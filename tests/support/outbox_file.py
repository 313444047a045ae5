"""What the gateway has committed to its outbox file, read beside the running writer.

``/healthz`` counts alarms queued, committed or not: only the file itself says
what a kill or a stop cannot take back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path


def committed_alarm_ids(database: Path) -> set[str]:
    """The ids of the alarm messages committed to the outbox file (read beside the running writer)."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT payload FROM outbox WHERE topic LIKE '%/alarm'").fetchall()
    return {json.loads(payload)["id"] for (payload,) in rows}


async def wait_for_committed_alarms(database: Path, count: int, timeout: float = 20.0) -> None:
    """Until at least ``count`` alarm messages are committed to the outbox file (it has no push)."""
    deadline = time.monotonic() + timeout
    while True:
        if len(await asyncio.to_thread(committed_alarm_ids, database)) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} alarms committed within {timeout:g} s")
        await asyncio.sleep(0.05)
