"""The durable outbox: every event is committed with the alarm state it left before it goes out.

Storage is :mod:`gateway.storage` (SQLite, one writer thread, group commit).
:meth:`Outbox.submit` takes one engine step's messages and state changes at
once, on the event loop, without waiting for the disk: what is submitted is
committed in submission order, so ids, commits and delivery follow ``seq``.
A message goes out only once committed (or once the disk has refused it and
it is held in memory), so the platform never hears of an alarm a restarted
gateway would not know. Alarms, faults and state are fsynced; lower
priorities are durable across a process crash, possibly not a power cut. A
row is deleted only after the broker's PUBACK: at least once, in order.

Order: lowest priority value first, then id (one order for stored and
held messages alike). A backlog of telemetry never delays an alarm. The
uplink takes a window of messages at once (they stay "in flight" until
acknowledged, and go back to the front when the connection drops).
The uplink is told at once when messages become ready (:attr:`Outbox.on_ready`),
on the commit's own turn of the event loop: an alarm is handed to the MQTT
client before anything else that commit set in motion runs.

PUBACK deletes are not a transaction each: they ride with the next commit,
or go on their own once nothing else has been committed for
:data:`DELETE_DELAY` seconds. A crash in between sends those messages again
after the restart (at least once; the platform dedupes on ``id``).

Disk budget: when ``max_bytes`` of payload is reached, telemetry is evicted
first, then reports, then status; alarms and faults never. If alarms alone
exceed the budget, a loud fault is logged and alarms are still accepted up
to ``alarm_hard_cap_bytes``. Beyond it an alarm is refused: its step's
future says False (a radio press is then not acknowledged, and the radio
sends it again) and the refusal is a storage error until alarms fit again.
The backlog's payloads are also kept in memory (within the same budget), so
taking a batch never waits for the disk.

If the disk refuses writes, everything is held in memory in order and still
delivered; :attr:`Outbox.storage_error` says why and ``on_storage`` is told
when that changes. Once a write succeeds again, what was held is committed.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from gateway.storage import Database, Loaded, Row, Write

log = logging.getLogger(__name__)

DELETE_DELAY = 1.0  # seconds a delivered message's delete waits for a commit to ride with


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
    memory_only: int  # messages held only in memory: the disk refused them so far
    storage_error: str | None  # why the disk refuses writes; None while it takes them
    headroom_hours: float | None  # None: nothing is arriving, no end in sight

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class _RateWindow:
    """Bytes queued over the last ``span`` seconds, for the headroom estimate.

    Counted per whole second: the window holds at most ``span`` buckets however
    fast messages come (one entry per message was 600 000 entries, tens of
    megabytes, after ten minutes of a thousand messages a second).
    """

    span: float = 600.0
    buckets: deque[list[float]] = field(default_factory=deque)  # [whole second, bytes], oldest first
    total: int = 0

    def add(self, size: int, now: float) -> None:
        second = now // 1
        if self.buckets and self.buckets[-1][0] == second:
            self.buckets[-1][1] += size
        else:
            self.buckets.append([second, size])
        self.total += size
        while self.buckets and self.buckets[0][0] < now - self.span:
            self.total -= int(self.buckets.popleft()[1])

    def per_hour(self, now: float) -> float:
        if not self.buckets:
            return 0.0
        elapsed = max(now - self.buckets[0][0], 60.0)
        return self.total / elapsed * 3600


class Outbox:
    """Durable, prioritised store-and-forward queue of MQTT messages, and the alarm state beside it."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        alarm_hard_cap_bytes: int = 256 * 1024 * 1024,
        retry_after: float = 2.0,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.alarm_hard_cap_bytes = max(alarm_hard_cap_bytes, max_bytes)
        self._db = Database(path, retry_after=retry_after)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queued: dict[int, Queued] = {}  # every message not yet delivered, by id
        self._heap: list[tuple[int, int]] = []  # (priority, id) ready to go: committed, or held
        self._in_flight: set[int] = set()
        self._acked: list[int] = []  # delivered, its delete not yet handed to the writer
        self._flush_timer: asyncio.TimerHandle | None = None  # hands ``_acked`` over on its own
        self._memory_only: set[int] = set()  # held in memory: the disk refused them so far
        self._waiting: dict[Write, asyncio.Future[bool]] = {}
        self._lost_alarms: set[Write] = set()  # writes whose step lost an alarm at the hard cap
        self._next_id = 1
        self._bytes = 0
        self._changed = asyncio.Event()
        self._rate = _RateWindow()
        self.evicted = 0
        self.refused_alarms = 0
        self._over_budget_logged = False
        self.saved_state: dict[str, Any] = {}  # the alarm state stored at start
        self._disk_error: str | None = None  # why the disk refuses writes; None while it takes them
        self._cap_error: str | None = None  # alarms refused at the hard cap; None once they fit again
        self._reported_error: str | None = None  # what ``on_storage`` was last told
        self.on_storage: Callable[[str | None], None] = lambda error: None
        self.on_delivered: Callable[[Message], None] = lambda message: None  # the broker has it
        # The uplink, told the moment messages are ready to go; it takes them with take_ready().
        self.on_ready: Callable[[], None] = lambda: None

    @property
    def storage_error(self) -> str | None:
        """Why events are not stored (the disk refuses writes, alarms hit the hard cap); None if they are."""
        return self._disk_error or self._cap_error

    def _report_storage(self) -> None:
        """Tell ``on_storage`` when :attr:`storage_error` comes or goes."""
        error = self.storage_error
        if (error is None) != (self._reported_error is None):
            if error is None:
                log.warning("storage takes writes again: everything held in memory is now stored")
            self.on_storage(error)
        self._reported_error = error

    # -- life cycle -------------------------------------------------------------
    async def open(self) -> None:
        """Load what is stored; a disk that refuses is a storage error, not a failure to start."""
        self._loop = asyncio.get_running_loop()
        loaded: Loaded = await asyncio.to_thread(self._db.open, self._from_writer, self._from_late_open)
        self.saved_state = loaded.state
        self._next_id = loaded.next_id
        self._disk_error = self._reported_error = loaded.error
        self._adopt(loaded.rows)
        if loaded.rows:
            log.info("outbox holds %d message(s) from before; they go out first", len(loaded.rows))

    async def close(self) -> None:
        self._flush_acked()
        await asyncio.to_thread(self._db.stop)

    def _adopt(self, rows: list[Row]) -> None:
        """Messages stored by an earlier run: ready to go, before anything of this run."""
        for row_id, priority, topic, payload, qos, retain, queued_at in rows:
            message = Message(OutboxPriority(priority), topic, payload, qos, bool(retain))
            self._queued[row_id] = Queued(row_id, message, queued_at)
            self._bytes += len(payload)
            heapq.heappush(self._heap, (priority, row_id))
        self._ready()

    # -- putting ----------------------------------------------------------------
    def submit(
        self, messages: Sequence[Message], state: Mapping[str, Any] | None = None
    ) -> asyncio.Future[bool]:
        """Queue one step's messages and alarm state entries (None: gone), to be committed together.

        Returns at once: the event loop never waits for the disk. The future
        says True once they are committed, False if the disk refused them and
        they are held in memory (still delivered, stored once the disk takes
        writes again), or if an alarm among them was refused at the hard cap
        (the rest is committed). Commits happen in submission order.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        now = time.time()
        refused = self.refused_alarms
        rows = [row for message in messages if (row := self._admit(message, now)) is not None]
        lost = self.refused_alarms > refused
        if lost != (self._cap_error is not None) and any(m.priority.protected for m in messages):
            self._cap_error = (
                f"outbox hard cap of {self.alarm_hard_cap_bytes} bytes reached by undelivered alarms"
                if lost
                else None
            )
            loop.call_soon(self._report_storage)  # after this step is queued: the fault's step follows it
        entries = {
            name: None if value is None else json.dumps(value) for name, value in (state or {}).items()
        }
        if not rows and not entries:
            future.set_result(not lost)
            return future
        durable = bool(entries) or any(OutboxPriority(row[1]).protected for row in rows)
        write = Write(inserts=rows, deletes=self._take_acked(), state=entries, durable=durable)
        self._waiting[write] = future
        if lost:
            self._lost_alarms.add(write)
        self._db.submit(write)
        return future

    async def put(self, message: Message) -> bool:
        """Store one message; True once committed (fsynced for alarms), False if held in memory."""
        return await self.submit([message])

    def _admit(self, message: Message, now: float) -> Row | None:
        """Give ``message`` its id and room in the budget; None if it is dropped (said why)."""
        size = len(message.payload)
        self._rate.add(size, now)
        if self._bytes + size > self.max_bytes:
            self._make_room(size, message.priority)
        if self._bytes + size > self.max_bytes and not message.priority.protected:
            self.evicted += 1
            log.warning(
                "outbox full (%d bytes): dropped a %s message", self._bytes, message.priority.name.lower()
            )
            return None
        if message.priority.protected and self._bytes + size > self.alarm_hard_cap_bytes:
            self.refused_alarms += 1
            log.critical(
                "outbox hard cap of %d bytes reached by alarms alone: alarm on %s NOT stored",
                self.alarm_hard_cap_bytes,
                message.topic,
            )
            return None
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
        row_id = self._next_id
        self._next_id += 1
        self._queued[row_id] = Queued(row_id, message, now)
        self._bytes += size
        return (
            row_id,
            int(message.priority),
            message.topic,
            message.payload,
            message.qos,
            int(message.retain),
            now,
        )

    def _make_room(self, needed: int, incoming: OutboxPriority) -> None:
        """Evict the least important messages (never alarms) until ``needed`` fits."""
        victims: list[int] = []
        freed = 0
        for priority in EVICTION_ORDER:
            if priority < incoming:
                break  # never evict something more important than what is arriving
            for row_id, queued in self._queued.items():
                if queued.message.priority is priority and row_id not in self._in_flight:
                    victims.append(row_id)
                    freed += len(queued.message.payload)
                    if self._bytes - freed + needed <= self.max_bytes:
                        break
            if self._bytes - freed + needed <= self.max_bytes:
                break
        if not victims:
            return
        for row_id in victims:
            self._forget(row_id)
        self._db.submit(Write(deletes=victims))
        self.evicted += len(victims)
        log.warning("outbox at its budget: evicted %d low-priority message(s)", len(victims))

    # -- what the writer says -------------------------------------------------------
    def _from_writer(self, writes: list[Write], error: str | None) -> None:
        """On the writer thread: hand its report to the event loop."""
        assert self._loop is not None
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._settled, writes, error)

    def _from_late_open(self, rows: list[Row]) -> None:
        assert self._loop is not None
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._adopt, rows)

    def _settled(self, writes: list[Write], error: str | None) -> None:
        """Writes committed (``error`` None) or held in memory: their messages may go out now."""
        for write in writes:
            for row in write.inserts:
                row_id, priority = row[0], row[1]
                if row_id not in self._queued:
                    continue  # delivered, or evicted, while held
                if row_id in self._memory_only:  # held before: it went out already
                    if error is None:
                        self._memory_only.discard(row_id)
                    continue
                if error is not None:
                    self._memory_only.add(row_id)
                heapq.heappush(self._heap, (priority, row_id))
        # The drain first: the messages just committed are handed to the client before anything
        # the commit's callbacks do (the transition's log line, the retained snapshot after it).
        self._ready()
        for write in writes:
            future = self._waiting.pop(write, None)
            lost = write in self._lost_alarms
            self._lost_alarms.discard(write)
            if future is not None and not future.done():
                future.set_result(error is None and not lost)
        self._disk_error = error
        self._report_storage()

    # -- taking -------------------------------------------------------------------
    def _ready(self) -> None:
        self._changed.set()
        self.on_ready()

    def take_ready(self, limit: int) -> list[Queued]:
        """Up to ``limit`` messages in order, those ready now (maybe none); they are now in flight."""
        batch: list[Queued] = []
        while self._heap and len(batch) < limit:
            _, row_id = heapq.heappop(self._heap)
            queued = self._queued.get(row_id)
            if queued is not None and row_id not in self._in_flight:
                batch.append(queued)
                self._in_flight.add(row_id)
        return batch

    async def take(self, limit: int) -> list[Queued]:
        """Up to ``limit`` messages in order, waiting for at least one; they are now in flight."""
        while not (batch := self.take_ready(limit)):
            self._changed.clear()
            await self._changed.wait()
        return batch

    def done(self, queued: Queued) -> None:
        """The broker has it: forget it for good.

        Its delete rides with the next commit, or goes after :data:`DELETE_DELAY`
        with every other delete waiting by then, as one write.
        Once the backlog is back within the budget, alarms fit again: a hard-cap
        storage error ends.
        """
        self._in_flight.discard(queued.id)
        self.on_delivered(queued.message)
        if queued.id in self._queued:
            self._forget(queued.id)
            if self._flush_timer is None:
                self._flush_timer = asyncio.get_running_loop().call_later(DELETE_DELAY, self._flush_acked)
            self._acked.append(queued.id)
        if self._cap_error is not None and self._bytes <= self.max_bytes:
            self._cap_error = None
            self._report_storage()

    def _take_acked(self) -> list[int]:
        """The deletes waiting, handed over to go with a write."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        acked, self._acked = self._acked, []
        return acked

    def _flush_acked(self) -> None:
        if acked := self._take_acked():
            self._db.submit(Write(deletes=acked))

    def _forget(self, row_id: int) -> None:
        self._bytes -= len(self._queued.pop(row_id).message.payload)
        self._memory_only.discard(row_id)

    def return_in_flight(self) -> None:
        """The connection dropped: what was in flight goes back, in its original order."""
        for row_id in self._in_flight:
            queued = self._queued.get(row_id)
            if queued is not None:
                heapq.heappush(self._heap, (queued.message.priority, row_id))
        self._in_flight.clear()
        self._ready()

    # -- looking ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._queued)

    def stats(self) -> OutboxStats:
        now = time.time()
        rate = self._rate.per_hour(now)
        room = max(self.max_bytes - self._bytes, 0)
        return OutboxStats(
            backlog=len(self._queued),
            backlog_alarms=sum(1 for q in self._queued.values() if q.message.priority.protected),
            bytes_used=self._bytes,
            max_bytes=self.max_bytes,
            in_flight=len(self._in_flight),
            evicted=self.evicted,
            refused_alarms=self.refused_alarms,
            disk_errors=self._db.failures,
            memory_only=len(self._memory_only),
            storage_error=self.storage_error,
            headroom_hours=round(room / rate, 1) if rate > 0 else None,
        )
