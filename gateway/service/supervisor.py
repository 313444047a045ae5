"""Keeps the gateway's long-running tasks alive.

One task per bus and per uplink. A task that fails is logged and restarted
with capped exponential backoff; one device's or bus's failure never stops
another's polling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from drivers.backoff import Backoff

log = logging.getLogger(__name__)

RESTART = Backoff(1.0, 60.0)
HEALTHY_RUN = 60.0  # a task that ran this long before failing starts its backoff afresh


async def supervise(name: str, job: Callable[[], Awaitable[None]]) -> None:
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
        else:
            log.error("%s failed; restarting in %.1fs", name, delay, exc_info=failure)
        await asyncio.sleep(delay)
