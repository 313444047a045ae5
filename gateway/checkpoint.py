"""WAL checkpoints on a thread of their own, so no commit (an alarm's least of all) pays for one.

SQLite in WAL mode appends each commit to the ``-wal`` file and copies the
pages back into the database file at a checkpoint. Left to itself it does so
inside the commit that makes the WAL pass 1 000 pages: that commit then
writes and fsyncs the database file as well, tens of milliseconds on an SD
card, and every write queued behind it waits as long. The writer's
connection therefore has automatic checkpoints off, and after every
:data:`CHECKPOINT_EVERY` commits it wakes this thread, which runs a PASSIVE
checkpoint on its own connection while the writer goes on committing.
SQLite starts the WAL over from its beginning only at a commit that finds
every frame copied, so a checkpoint is repeated (a few frames each time)
until no commit came in while it ran; a busy station's WAL is then reused
instead of growing.

Nothing committed depends on a checkpoint: until one completes, the pages
stay in the WAL, which SQLite replays after a crash. A checkpoint that fails
(a full disk) is logged once and tried again at the next wake-up; the WAL
grows meanwhile, which only costs disk space.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# Commits between checkpoints. One of the gateway's commits writes a few pages (its rows,
# the index, the sequence, the state), so this is about SQLite's own 1 000-page default.
CHECKPOINT_EVERY = 100
ROUNDS = 8  # checkpoints in a row at most, each copying what came in during the one before


class Checkpointer:
    """Copies the WAL back into ``path`` when :meth:`due` says so; one thread, one connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._failing: str | None = None  # why the last checkpoint failed; None once one succeeds
        self._due = False
        self._stopping = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def due(self) -> None:
        """The WAL has grown by :data:`CHECKPOINT_EVERY` commits: checkpoint it (returns at once)."""
        with self._wake:
            self._due = True
            self._wake.notify()

    def stop(self) -> None:
        """End the thread (a checkpoint due is made first) and close its connection."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._due or self._stopping):
                    self._wake.wait()
                due, self._due = self._due, False
                stopping = self._stopping
            if due:
                self.checkpoint()
            if stopping:
                break
        if self._db is not None:
            self._db.close()

    def checkpoint(self) -> bool:
        """Checkpoint now, on the calling thread (its own thread does so when due); False if it failed."""
        try:
            if self._db is None:  # never creates a file: the writer made it
                uri = f"{self.path.absolute().as_uri()}?mode=rw"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            seen = None
            for _ in range(ROUNDS):
                # (busy, frames in the WAL, frames copied): unchanged once nothing came in meanwhile
                result = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if result == seen:
                    break
                seen = result
        except (sqlite3.Error, OSError) as exc:
            failure = f"{type(exc).__name__}: {exc}"
            if failure != self._failing:
                log.warning("WAL checkpoint failed (%s); the WAL keeps the commits, retrying later", failure)
            self._failing = failure
            return False
        self._failing = None
        return True
