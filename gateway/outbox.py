"""The durable outbox: every event is on disk before anything else happens to it.

SQLite in WAL mode. An alarm's insert is committed with ``synchronous=FULL``
(fsynced); lower priorities with ``NORMAL`` (durable across a process crash,
possibly not across a power cut). A row is deleted only after the broker's
PUBACK, so an event survives broker outages, a killed process and a reboot,
and is published at least once.

Order: lowest priority value first, then arrival. A backlog of telemetry
never delays an alarm. The uplink takes a window of messages at once (they
stay "in flight" until acknowledged, and go back to the front when the
connection drops), so a backlog drains at the broker's pace, not one round
trip per message.

Disk budget: when ``max_bytes`` of payload is reached, telemetry is evicted
first, then reports, then status; alarms and faults never. If alarms alone
exceed the budget, a loud fault is logged and alarms are still accepted up
to ``alarm_hard_cap_bytes``. If the disk itself refuses a write, alarms are
kept in memory and still delivered (counted and logged).

All SQLite calls run on one worker thread, so an fsync on a slow SD card
never stalls the event loop, and writes happen in submission order.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import sqlite3
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

log = logging.getLogger(__name__)


class OutboxPriority(IntEnum):
    """Lower drains first."""

    ALARM = 0
    FAULT = 1
    STATUS = 2
    REPORT = 3
    TELEMETRY = 4

    @property
    def protected(self) -> bool:
        """Never evicted for space."""
        return self <= OutboxPriority.FAULT


EVICTION_ORDER = (OutboxPriority.TELEMETRY, OutboxPriority.REPORT, OutboxPriority.STATUS)


@dataclass(frozen=True, slots=True)
class Message:
    """An MQTT message to publish."""

    priority: OutboxPriority
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Queued:
    """A message as stored: ``id`` orders it, ``queued_at`` (Unix time) dates it."""

    id: int
    message: Message
    queued_at: float


@dataclass
class OutboxStats:
    backlog: int
    backlog_alarms: int
    bytes_used: int
    max_bytes: int
    in_flight: int
    evicted: int
    refused_alarms: int
    disk_errors: int
    memory_only: int
    headroom_hours: float | None  # None: nothing is arriving, no end in sight

    def as_dict(self) -> dict:
        return dict(self.__dict__)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    priority  INTEGER NOT NULL,
    topic     TEXT    NOT NULL,
    payload   BLOB    NOT NULL,
    qos       INTEGER NOT NULL,
    retain    INTEGER NOT NULL,
    queued_at REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_priority ON outbox (priority, id);
"""


@dataclass
class _RateWindow:
    """Bytes queued over the last ``span`` seconds, for the headroom estimate."""

    span: float = 600.0
    samples: deque[tuple[float, int]] = field(default_factory=deque)
    total: int = 0

    def add(self, size: int, now: float) -> None:
        self.samples.append((now, size))
        self.total += size
        while self.samples and self.samples[0][0] < now - self.span:
            self.total -= self.samples.popleft()[1]

    def per_hour(self, now: float) -> float:
        if not self.samples:
            return 0.0
        elapsed = max(now - self.samples[0][0], 60.0)
        return self.total / elapsed * 3600


class Outbox:
    """Durable, prioritised store-and-forward queue of MQTT messages."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        alarm_hard_cap_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.alarm_hard_cap_bytes = max(alarm_hard_cap_bytes, max_bytes)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self._heap: list[tuple[int, int]] = []  # (priority, id) waiting to be taken
        self._sizes: dict[int, tuple[OutboxPriority, int]] = {}  # id -> (priority, size), all stored rows
        self._in_flight: set[int] = set()
        self._memory_only: dict[int, Queued] = {}  # alarms the disk refused
        self._next_memory_id = -1
        self._bytes = 0
        self._changed = asyncio.Event()
        self._rate = _RateWindow()
        self.evicted = 0
        self.refused_alarms = 0
        self.disk_errors = 0
        self._over_budget_logged = False

    # -- life cycle -------------------------------------------------------------
    async def open(self) -> None:
        await self._run(self._open)
        for row_id, (priority, _) in sorted(self._sizes.items()):
            heapq.heappush(self._heap, (priority, row_id))
        if self._sizes:
            log.info("outbox holds %d message(s) from before; they go out first", len(self._sizes))
            self._changed.set()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        for row_id, priority, size in db.execute(
            "SELECT id, priority, length(payload) FROM outbox ORDER BY id"
        ):
            self._sizes[row_id] = (OutboxPriority(priority), size)
            self._bytes += size
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._worker.shutdown(wait=True)

    async def _run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

    # -- putting ----------------------------------------------------------------
    async def put(self, message: Message) -> None:
        """Store ``message``; returns once it is committed (fsynced for alarms)."""
        size = len(message.payload)
        now = time.time()
        self._rate.add(size, now)
        if self._bytes + size > self.max_bytes:
            await self._make_room(size, message.priority)
        if self._bytes + size > self.max_bytes and not message.priority.protected:
            self.evicted += 1
            log.warning(
                "outbox full (%d bytes): dropped a %s message", self._bytes, message.priority.name.lower()
            )
            return
        if message.priority.protected and self._bytes + size > self.alarm_hard_cap_bytes:
            self.refused_alarms += 1
            log.critical(
                "outbox hard cap of %d bytes reached by alarms alone: alarm on %s NOT stored",
                self.alarm_hard_cap_bytes,
                message.topic,
            )
            return
        if (
            message.priority.protected
            and self._bytes + size > self.max_bytes
            and not self._over_budget_logged
        ):
            self._over_budget_logged = True
            log.critical(
                "GATEWAY FAULT: undelivered alarms alone exceed the outbox budget of %d bytes; "
                "still accepting alarms up to %d bytes",
                self.max_bytes,
                self.alarm_hard_cap_bytes,
            )
        try:
            row_id = await self._run(self._insert, message, now)
        except sqlite3.Error as exc:
            self.disk_errors += 1
            if not message.priority.protected:
                log.error("outbox cannot store a %s message: %s", message.priority.name.lower(), exc)
                return
            log.critical("outbox cannot store an alarm (%s): keeping it in memory", exc)
            row_id = self._next_memory_id
            self._next_memory_id -= 1
            self._memory_only[row_id] = Queued(row_id, message, now)
        else:
            self._sizes[row_id] = (message.priority, size)
            self._bytes += size
        heapq.heappush(self._heap, (message.priority, row_id))
        self._changed.set()

    def _insert(self, message: Message, now: float) -> int:
        assert self._db is not None
        sync = "FULL" if message.priority.protected else "NORMAL"
        self._db.execute(f"PRAGMA synchronous={sync}")
        cursor = self._db.execute(
            "INSERT INTO outbox (priority, topic, payload, qos, retain, queued_at) VALUES (?,?,?,?,?,?)",
            (int(message.priority), message.topic, message.payload, message.qos, int(message.retain), now),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def _make_room(self, needed: int, incoming: OutboxPriority) -> None:
        """Evict the least important stored messages (never alarms) until ``needed`` fits."""
        victims: list[int] = []
        freed = 0
        for priority in EVICTION_ORDER:
            if priority < incoming:
                break  # never evict something more important than what is arriving
            for row_id, (row_priority, size) in self._sizes.items():
                if row_priority is priority and row_id not in self._in_flight:
                    victims.append(row_id)
                    freed += size
                    if self._bytes - freed + needed <= self.max_bytes:
                        break
            if self._bytes - freed + needed <= self.max_bytes:
                break
        if not victims:
            return
        await self._run(self._delete, victims)
        for row_id in victims:
            self._bytes -= self._sizes.pop(row_id)[1]
        self.evicted += len(victims)
        log.warning("outbox at its budget: evicted %d low-priority message(s)", len(victims))

    # -- taking -------------------------------------------------------------------
    async def take(self, limit: int) -> list[Queued]:
        """Up to ``limit`` messages in order, waiting for at least one; they are now in flight."""
        while True:
            ids: list[int] = []
            while self._heap and len(ids) < limit:
                _, row_id = heapq.heappop(self._heap)
                if row_id in self._sizes or row_id in self._memory_only:
                    ids.append(row_id)
            if ids:
                break
            self._changed.clear()
            await self._changed.wait()
        self._in_flight.update(ids)
        stored = [i for i in ids if i > 0]
        rows = {q.id: q for q in await self._run(self._load, stored)} if stored else {}
        rows.update((i, self._memory_only[i]) for i in ids if i < 0)
        return [rows[i] for i in ids]

    def _load(self, ids: list[int]) -> list[Queued]:
        assert self._db is not None
        marks = ",".join("?" * len(ids))
        query = (
            f"SELECT id, priority, topic, payload, qos, retain, queued_at FROM outbox WHERE id IN ({marks})"
        )
        return [
            Queued(row_id, Message(OutboxPriority(priority), topic, payload, qos, bool(retain)), queued_at)
            for row_id, priority, topic, payload, qos, retain, queued_at in self._db.execute(query, ids)
        ]

    async def done(self, queued: Queued) -> None:
        """The broker has it: forget it for good."""
        self._in_flight.discard(queued.id)
        if queued.id < 0:
            self._memory_only.pop(queued.id, None)
            return
        if queued.id in self._sizes:
            await self._run(self._delete, [queued.id])
            self._bytes -= self._sizes.pop(queued.id)[1]

    def _delete(self, ids: list[int]) -> None:
        assert self._db is not None
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def return_in_flight(self) -> None:
        """The connection dropped: what was in flight goes back, in its original order."""
        for row_id in self._in_flight:
            priority = self._sizes[row_id][0] if row_id > 0 else self._memory_only[row_id].message.priority
            heapq.heappush(self._heap, (priority, row_id))
        self._in_flight.clear()
        self._changed.set()

    # -- looking ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._sizes) + len(self._memory_only)

    def stats(self) -> OutboxStats:
        now = time.time()
        rate = self._rate.per_hour(now)
        room = max(self.max_bytes - self._bytes, 0)
        return OutboxStats(
            backlog=len(self),
            backlog_alarms=sum(1 for p, _ in self._sizes.values() if p.protected) + len(self._memory_only),
            bytes_used=self._bytes,
            max_bytes=self.max_bytes,
            in_flight=len(self._in_flight),
            evicted=self.evicted,
            refused_alarms=self.refused_alarms,
            disk_errors=self.disk_errors,
            memory_only=len(self._memory_only),
            headroom_hours=round(room / rate, 1) if rate > 0 else None,
        )
