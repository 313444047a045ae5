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

log = logging.getLogger(__name__)

HEALTHY_RUN = 60.0  # a task that ran this long before failing starts its backoff afresh


async def supervise(
    name: str,
    job: Callable[[], Awaitable[None]],
    *,
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
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; restarting in %.1fs", name, delay)
        if time.monotonic() - started > HEALTHY_RUN:
            delay = initial_delay
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
