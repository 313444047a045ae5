"""The station's database: one SQLite file, written by one thread, a group commit at a time.

It holds the outbox (messages not yet acknowledged by the broker) and the
alarm engine's state, so an engine step's events and the state it leaves are
one transaction: durable together or not at all. A crash drops a suffix of
the commit requests, events and state alike, never one without the other.

The writer thread takes every request waiting, applies them in the order
they came in one transaction, and commits (fsynced when it holds an alarm,
a fault or alarm state). WAL checkpoints are not the writer's: they run
on a thread of their own (:mod:`gateway.checkpoint`). While the disk
refuses (full, failing, read-only, or the file cannot even be opened),
requests pile up in memory in order and are reported as held; the writer
tries again every ``retry_after`` seconds and, once a commit succeeds,
everything held is stored in that one commit.
The file's schema, and how it crosses upgrades and downgrades: :mod:`gateway.schema`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gateway import schema
from gateway.checkpoint import CHECKPOINT_EVERY, Checkpointer

log = logging.getLogger(__name__)

# Seconds a thread waiting for the interpreter lock lets the one holding it run (Python's
# default is 5 ms). The writer takes the lock back after each SQLite call, and the event
# loop after each commit report: an alarm's commit and publish waited that long behind
# whatever Python the other thread was running.
SWITCH_INTERVAL = 0.0005
# Routine writes alone (telemetry, reports) are committed at most this often: a station
# reading flat out then commits a few hundred times a second instead of once per message,
# each commit a wake of the writer thread and a turn of the interpreter lock. A durable
# write (an alarm, any state) ends the wait at once; at a quiet station the last commit is
# long past and nothing waits.
ROUTINE_PACE = 0.005
CHUNK = 500  # rows per statement: 3 500 parameters, well within SQLite's limit of 32 766
T = TypeVar("T")
Row = tuple[int, int, str, bytes, int, int, float]  # id, priority, topic, payload, qos, retain, queued_at
_ROW = ", ".join(schema.KNOWN["outbox"])  # a Row's columns, in its order


@dataclass(eq=False)
class Write:
    """One commit request: rows to insert, row ids to delete, state entries to set (JSON; None deletes).

    ``durable``: fsync the commit it is in (an alarm, a fault or alarm state);
    otherwise a process crash cannot lose it, a power cut might.
    """

    inserts: list[Row] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    state: dict[str, str | None] = field(default_factory=dict)
    durable: bool = False
    held: bool = False  # already reported as held in memory


@dataclass
class Loaded:
    """What the database held at start: messages (in id order), state entries, the next free id."""

    rows: list[Row]
    state: dict[str, Any]
    next_id: int
    error: str | None  # the database could not be opened: nothing loaded, writes held


Report = Callable[[list[Write], str | None], None]
"""Called on the writer thread: these writes are stored (error None) or held in memory (the error)."""


def _chunks(items: list[T]) -> Iterator[list[T]]:
    """``items`` in runs of at most :data:`CHUNK`, each one statement.

    One statement per run, not one per row: each row of an ``executemany`` is a
    step of its own, and each step gives the interpreter lock away and waits to
    take it back from the event loop.
    """
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Database:
    """The writer side; :class:`gateway.outbox.Outbox` is the event loop's side."""

    def __init__(self, path: Path, *, retry_after: float = 2.0) -> None:
        self.path = path
        self.retry_after = retry_after
        self.failures = 0
        self._report: Report = lambda writes, error: None
        self._adopt: Callable[[list[Row]], None] = lambda rows: None
        self._db: sqlite3.Connection | None = None
        self._error: str | None = None  # why the last try failed
        self._loaded = False
        self._mirror: dict[str, str] = {}  # every state entry as it should be stored
        self._rewrite_state = False  # opened late: the stored state is older than the mirror
        self._synchronous: str | None = None  # the connection's setting, changed only when it must
        self._queue: list[Write] = []
        self._idle = False  # the writer waits for work (not pacing, not committing)
        self._last_commit = 0.0  # time.monotonic() of the last transaction
        self._commits = 0  # transactions committed, for the checkpointer
        self._checkpointer = Checkpointer(path)
        self._stopping = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="storage", daemon=True)

    # -- life cycle (open and stop run off the event loop: they wait for the disk) ----------
    def open(self, report: Report, adopt: Callable[[list[Row]], None]) -> Loaded:
        """Load what is stored and start the writer; a database that cannot be opened is retried later.

        ``adopt`` gets the stored messages of a database opened only on a retry.
        """
        self._report, self._adopt = report, adopt
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        try:
            loaded = self._connect()
        except (sqlite3.Error, OSError) as exc:
            self.failures += 1
            self._error = describe(exc)
            log.error("storage cannot be opened (%s); holding writes in memory", self._error)
            # Ids far above any an earlier run handed out: a database found later keeps its own.
            loaded = Loaded([], {}, time.time_ns() // 1000, self._error)
        self._checkpointer.start()
        self._thread.start()
        return loaded

    def stop(self) -> None:
        """Commit what is waiting (one last try), then close."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()

    def submit(self, write: Write) -> None:
        with self._wake:
            self._queue.append(write)
            # Woken only when it must be: a durable write ends any wait, a routine one only the
            # wait for work. A writer busy committing looks at the queue next anyway, and one
            # pacing wakes on its own; a wake-up is a system call the event loop makes holding
            # the interpreter lock (flat out, a twelfth of its time).
            if write.durable or self._idle:
                self._wake.notify()

    def _connect(self) -> Loaded:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job, off this thread
            schema.prepare(db)
            rows = db.execute(f"SELECT {_ROW} FROM outbox ORDER BY id").fetchall()
            stored = dict(db.execute("SELECT name, value FROM state").fetchall())
            (top,) = db.execute("SELECT max(id) FROM outbox").fetchone()
        except BaseException:
            db.close()
            raise
        self._db, self._synchronous = db, None
        if self._loaded:  # opened on a retry after failing at start: what it holds is older
            self._adopt(rows)
            self._rewrite_state = True
        else:
            self._mirror = dict(stored)
        self._loaded = True
        return Loaded(rows, {name: json.loads(value) for name, value in stored.items()}, (top or 0) + 1, None)

    # -- the writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        pending: list[Write] = []
        retry_at = None if self._db is not None else time.monotonic() + self.retry_after
        while True:
            new, stopping = self._next(retry_at)
            pending += new
            if retry_at is not None and time.monotonic() < retry_at and not stopping:
                self._hold(new)
                continue
            if retry_at is not None and not pending and self._db is not None:
                if stopping:
                    break
                retry_at = time.monotonic() + self.retry_after  # nothing to try the disk with yet
                continue
            failure, committed = self._commit(pending)
            self._last_commit = time.monotonic()
            if failure is None:
                if pending or retry_at is not None:
                    self._report(pending, None)
                pending, self._error, retry_at = [], None, None
                self._commits += committed
                if committed and self._commits % CHECKPOINT_EVERY == 0:
                    self._checkpointer.due()
            else:
                self.failures += 1
                if failure != self._error:
                    log.error("storage refuses writes (%s); holding them in memory", failure)
                self._error, retry_at = failure, time.monotonic() + self.retry_after
                self._hold(pending)
            if stopping:
                break
        self._checkpointer.stop()
        if self._db is not None:
            self._db.close()

    def _next(self, retry_at: float | None) -> tuple[list[Write], bool]:
        """The requests waiting (waiting for one, or for the next retry), and whether to stop."""
        with self._wake:
            self._idle = True
            while not (self._queue or self._stopping):
                timeout = None if retry_at is None else retry_at - time.monotonic()
                if timeout is not None and timeout <= 0:
                    break
                self._wake.wait(timeout)
            self._idle = False
            if retry_at is None:
                until = self._last_commit + ROUTINE_PACE
                while not (self._stopping or any(w.durable for w in self._queue)):
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
            new, self._queue = self._queue, []
            return new, self._stopping

    def _hold(self, writes: list[Write]) -> None:
        fresh = [w for w in writes if not w.held]
        for write in fresh:
            write.held = True
        if fresh:
            self._report(fresh, self._error)

    def _commit(self, writes: list[Write]) -> tuple[str | None, bool]:
        """Apply ``writes`` in one transaction: the failure if the disk refused, and whether one was made."""
        try:
            if self._db is None:
                self._connect()
            assert self._db is not None
            return None, self._transaction(self._db, writes)
        except (sqlite3.Error, OSError) as exc:
            if self._db is not None and self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # a failed commit may have rolled back already
                    self._db.execute("ROLLBACK")
            return describe(exc), False

    def _transaction(self, db: sqlite3.Connection, writes: list[Write]) -> bool:
        """Commit ``writes``; False if there was nothing to write."""
        changes: dict[str, str | None] = {}
        for write in writes:
            changes.update(write.state)
        if not (changes or self._rewrite_state or any(w.inserts or w.deletes for w in writes)):
            return False
        durable = bool(changes) or self._rewrite_state or any(w.durable for w in writes)
        synchronous = "FULL" if durable else "NORMAL"
        if synchronous != self._synchronous:
            db.execute(f"PRAGMA synchronous={synchronous}")
            self._synchronous = synchronous
        db.execute("BEGIN IMMEDIATE")
        # Every insert before every delete: a message evicted before its commit is deleted after it.
        rows = [row for write in writes for row in write.inserts]
        for chunk in _chunks(rows):
            values = ",".join(["(?,?,?,?,?,?,?)"] * len(chunk))
            db.execute(f"INSERT INTO outbox ({_ROW}) VALUES {values}", [v for row in chunk for v in row])
        for ids in _chunks([i for write in writes for i in write.deletes]):
            db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(ids))})", ids)
        merged = {**self._mirror, **changes}
        mirror = {name: value for name, value in merged.items() if value is not None}
        if self._rewrite_state:  # every entry set as in the mirror, the others deleted
            stored = {name for (name,) in db.execute("SELECT name FROM state")}
            changes = {**dict.fromkeys(stored - mirror.keys()), **mirror}
        for pairs in _chunks([(name, value) for name, value in changes.items() if value is not None]):
            db.execute(
                f"INSERT INTO state (name, value) VALUES {','.join(['(?,?)'] * len(pairs))}"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [v for pair in pairs for v in pair],
            )
        for names in _chunks([name for name, value in changes.items() if value is None]):
            db.execute(f"DELETE FROM state WHERE name IN ({','.join('?' * len(names))})", names)
        db.execute("COMMIT")
        self._mirror, self._rewrite_state = mirror, False
        return True
