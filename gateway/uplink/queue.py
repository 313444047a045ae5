"""The queue between the alarm engine and the MQTT uplink.

An event is put here as soon as it exists and leaves only when the uplink
confirms the broker has it (``done`` after PUBACK). Until then ``next``
keeps handing out the same message, so a lost connection re-sends it.

:class:`MemoryQueue` is the in-process implementation; the durable SQLite
outbox implements the same :class:`EventQueue` protocol.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol


class Priority(IntEnum):
    """Lower drains first: a backlog of telemetry never delays an alarm."""

    ALARM = 0
    FAULT = 1
    STATUS = 2
    REPORT = 3
    TELEMETRY = 4


@dataclass(frozen=True, slots=True, order=True)
class Outbound:
    """One MQTT message ready to publish."""

    priority: Priority
    order: int
    topic: str = field(compare=False)
    payload: bytes = field(compare=False)
    qos: int = field(compare=False, default=1)
    retain: bool = field(compare=False, default=False)


class EventQueue(Protocol):
    async def put(self, message: Outbound) -> None: ...
    async def next(self) -> Outbound: ...
    async def done(self, message: Outbound) -> None: ...
    def __len__(self) -> int: ...


class MemoryQueue:
    """Priority-then-arrival order, in memory (lost on restart: see the outbox)."""

    def __init__(self) -> None:
        self._heap: list[Outbound] = []
        self._changed = asyncio.Event()
        self._order = itertools.count()

    def new_order(self) -> int:
        return next(self._order)

    async def put(self, message: Outbound) -> None:
        heapq.heappush(self._heap, message)
        self._changed.set()

    async def next(self) -> Outbound:
        while not self._heap:
            self._changed.clear()
            await self._changed.wait()
        return self._heap[0]

    async def done(self, message: Outbound) -> None:
        if self._heap and self._heap[0] is message:
            heapq.heappop(self._heap)
        else:
            self._heap.remove(message)
            heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self._heap)
