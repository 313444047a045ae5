"""Keeps the gateway's long-running tasks alive, and says so when one is down.

One task per bus and per uplink. A task that fails is logged and restarted
with capped exponential backoff; one device's or bus's failure never stops
another's polling. Until it runs again, a task that ended is a fault:
:class:`TaskFaults` is what ``/healthz`` and the watchdog read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

HEALTHY_RUN = 60.0  # a task that ran this long before failing starts its backoff afresh


class TaskFaults:
    """Supervised tasks that ended unexpectedly: down (with why) until restarted, and counted."""

    def __init__(self) -> None:
        self.down: dict[str, str] = {}
        self.failures: Counter[str] = Counter()

    def ended(self, name: str, why: str) -> None:
        self.down[name] = why
        self.failures[name] += 1

    def restarted(self, name: str) -> None:
        self.down.pop(name, None)


async def supervise(
    name: str,
    job: Callable[[], Awaitable[None]],
    *,
    faults: TaskFaults,
    initial_delay: float = 1.0,
    max_delay: float = 60.0,
) -> None:
    """Run ``job()`` forever; restart it after a failure or an unexpected return."""
    delay = initial_delay
    while True:
        started = time.monotonic()
        try:
            await job()
            log.warning("%s stopped unexpectedly; restarting in %.1fs", name, delay)
            faults.ended(name, "returned")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s failed; restarting in %.1fs", name, delay)
            faults.ended(name, f"failed: {type(exc).__name__}")
        if time.monotonic() - started > HEALTHY_RUN:
            delay = initial_delay
        await asyncio.sleep(delay)
        faults.restarted(name)
        delay = min(delay * 2, max_delay)
