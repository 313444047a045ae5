"""Collecting a poller's outcomes so a test can await the one it expects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from drivers.observation import BusPoller, PollOutcome


class Outcomes:
    """Pass as a poller's ``emit``; await ``next_where`` instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[PollOutcome] = []
        self._changed = asyncio.Condition()

    async def __call__(self, outcome: PollOutcome) -> None:
        async with self._changed:
            self.items.append(outcome)
            self._changed.notify_all()

    async def next_where(self, predicate, timeout: float = 5.0) -> PollOutcome:
        """The first outcome from now on that matches ``predicate``."""
        start = len(self.items)

        def found():
            return next((o for o in self.items[start:] if predicate(o)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(found), timeout)
        return found()

    async def wait_until(self, moment: float) -> None:
        """Collect until the event loop's clock reaches ``moment`` (a measurement window)."""
        await asyncio.sleep(max(0.0, moment - asyncio.get_running_loop().time()))


def values(outcome: PollOutcome) -> dict:
    return {o.point: o.value for o in outcome.observations}


@contextlib.asynccontextmanager
async def running(poller: BusPoller) -> AsyncIterator[Outcomes]:
    """Run ``poller`` for the block, collecting what it emits; cancelled on the way out."""
    outcomes = Outcomes()
    task = asyncio.create_task(poller.run(outcomes))
    try:
        yield outcomes
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
