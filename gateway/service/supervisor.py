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

from drivers.backoff import Backoff

log = logging.getLogger(__name__)

RESTART = Backoff(1.0, 60.0)
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


async def supervise(name: str, job: Callable[[], Awaitable[None]], *, faults: TaskFaults) -> None:
    """Run ``job()`` forever; restart it after a failure or an unexpected return."""
    delays = RESTART.delays()
    while True:
        started = time.monotonic()
        failure: Exception | None = None
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = exc
        if time.monotonic() - started > HEALTHY_RUN:
            delays = RESTART.delays()
        delay = next(delays)
        if failure is None:
            log.warning("%s stopped unexpectedly; restarting in %.1fs", name, delay)
            faults.ended(name, "returned")
        else:
            log.error("%s failed; restarting in %.1fs", name, delay, exc_info=failure)
            faults.ended(name, f"failed: {type(failure).__name__}")
        await asyncio.sleep(delay)
        faults.restarted(name)
