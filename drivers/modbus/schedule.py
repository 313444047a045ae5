"""Which read of a bus goes next, and when: two heaps instead of a scan of every job.

The rule (see :mod:`drivers.modbus.poller`): of the jobs that are due, the
highest priority goes first, then the longest overdue, then the one added
first; when none is due, wait for the earliest. A flat-out line with many
units asks this after every transaction, so it must not cost a pass over all
jobs: waiting jobs sit in a heap by due time, due ones in a heap by rank,
and each poll moves only the jobs that have fallen due.

A silent unit's jobs are *held* (their due time raised) while it backs off.
Their heap entries are then left as they are, with the old due time as a
lower bound; an entry whose job's due time no longer matches is put back in
its place when it reaches the top, so a hold costs the unit's own jobs only.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(eq=False, slots=True)
class Slot(Generic[T]):
    """One recurring job: what it is, how it ranks, how often it runs, and when it is next due."""

    job: T
    priority: int
    interval: float
    due: float
    group: Hashable  # the jobs a hold applies to together (one unit's)
    order: int  # ties go to the job added first


class Schedule(Generic[T]):
    """Recurring jobs, taken one at a time in the order described in the module docstring."""

    def __init__(self) -> None:
        self._waiting: list[tuple[float, int, Slot[T]]] = []  # (due, order, slot)
        self._ready: list[tuple[int, float, int, Slot[T]]] = []  # (-priority, due, order, slot)
        self._groups: dict[Hashable, list[Slot[T]]] = {}
        self._added = 0

    def add(self, job: T, *, priority: int, interval: float, due: float, group: Hashable) -> Slot[T]:
        slot = Slot(job, priority, interval, due, group, self._added)
        self._added += 1
        self._groups.setdefault(group, []).append(slot)
        heapq.heappush(self._waiting, (due, slot.order, slot))
        return slot

    def take(self, now: float) -> Slot[T] | None:
        """The slot to run at ``now``, out of the schedule until :meth:`done`; None if none is due."""
        while True:
            self._promote(now)
            if not self._ready:
                return None
            _rank, due, _order, slot = heapq.heappop(self._ready)
            if slot.due == due:
                return slot
            heapq.heappush(self._waiting, (slot.due, slot.order, slot))  # held since it fell due

    def wake_at(self) -> float | None:
        """When the earliest waiting job falls due (None if no job waits)."""
        while self._waiting:
            due, order, slot = self._waiting[0]
            if slot.due == due:
                return due
            heapq.heapreplace(self._waiting, (slot.due, order, slot))
        return None

    async def next(self) -> Slot[T]:
        """The next slot to run, waiting until one is due; waits forever if there is none."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if (slot := self.take(now)) is not None:
                return slot
            wake = self.wake_at()
            if wake is None:
                await asyncio.Future()  # nothing to run until cancelled
            else:
                await asyncio.sleep(wake - now)

    def done(self, slot: Slot[T], now: float) -> None:
        """Put a slot back after its run: keep its cadence, but never catch up in a burst."""
        slot.due = max(slot.due + slot.interval, now)
        heapq.heappush(self._waiting, (slot.due, slot.order, slot))

    def hold(self, group: Hashable, until: float) -> None:
        """No job of ``group`` is due before ``until`` (a silent unit backing off)."""
        for slot in self._groups.get(group, ()):
            slot.due = max(slot.due, until)

    def _promote(self, now: float) -> None:
        """Move every job that has fallen due by ``now`` from waiting to ready."""
        waiting = self._waiting
        while waiting and waiting[0][0] <= now:
            due, order, slot = heapq.heappop(waiting)
            if slot.due != due:  # held meanwhile: back in line at its new time
                heapq.heappush(waiting, (slot.due, order, slot))
                continue
            heapq.heappush(self._ready, (-slot.priority, due, order, slot))
