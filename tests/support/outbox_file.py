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


def committed_alarm_ids(database: Path, kind: str | None = None) -> set[str]:
    """The ids of the alarm messages committed to the outbox file (read beside the running writer),
    of one ``kind`` (``gas``) if given: a device fault on a loaded machine is an alarm message too."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT payload FROM outbox WHERE topic LIKE '%/alarm'").fetchall()
    events = [json.loads(payload) for (payload,) in rows]
    return {event["id"] for event in events if kind is None or event.get("kind") == kind}


async def wait_for_committed_alarms(
    database: Path, count: int, timeout: float = 20.0, kind: str | None = None
) -> None:
    """Until at least ``count`` alarm messages (of ``kind``) are committed to the outbox file.

    The file has no push: it is read every 50 ms."""
    deadline = time.monotonic() + timeout
    while True:
        if len(await asyncio.to_thread(committed_alarm_ids, database, kind)) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} alarms committed within {timeout:g} s")
        await asyncio.sleep(0.05)
