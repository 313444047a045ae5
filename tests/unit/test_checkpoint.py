"""WAL checkpoints off the writer's thread, on a real SQLite file."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from contextlib import closing

from gateway.checkpoint import Checkpointer


def writer(path) -> sqlite3.Connection:
    """A connection that writes as the storage writer does: WAL, no checkpoint of its own."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (n INTEGER, pad TEXT)")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the table in the database file, its rows to come
    return db


def commit(db: sqlite3.Connection, count: int) -> None:
    for n in range(count):
        db.execute("INSERT INTO t VALUES (?, ?)", (n, "x" * 500))


def rows_in_database_file(path, tmp_path) -> int:
    """What the database file holds by itself, without the WAL beside it."""
    alone = tmp_path / "alone.sqlite3"
    shutil.copy(path, alone)
    with closing(sqlite3.connect(alone)) as db:
        return db.execute("SELECT count(*) FROM t").fetchone()[0]


def test_a_checkpoint_moves_the_commits_into_the_database_file_and_the_wal_is_reused(tmp_path):
    path = tmp_path / "station.sqlite3"
    db = writer(path)
    commit(db, 50)
    wal = tmp_path / "station.sqlite3-wal"
    grown = wal.stat().st_size
    assert rows_in_database_file(path, tmp_path) == 0  # all of it in the WAL so far

    checkpointer = Checkpointer(path)
    checkpointer.start()
    checkpointer.due()
    checkpointer.stop()  # makes the checkpoint due first
    assert rows_in_database_file(path, tmp_path) == 50

    commit(db, 10)  # the writer starts the WAL over: the file does not grow
    assert wal.stat().st_size == grown
    db.close()


def test_a_checkpoint_that_fails_is_logged_once_and_succeeds_once_the_disk_allows(tmp_path, caplog):
    path = tmp_path / "station.sqlite3"
    checkpointer = Checkpointer(path)  # no database yet: opening it fails, and never creates it
    with caplog.at_level(logging.WARNING, logger="gateway.checkpoint"):
        assert not checkpointer.checkpoint()
        assert not checkpointer.checkpoint()
    assert not path.exists()
    assert len([r for r in caplog.records if "checkpoint failed" in r.message]) == 1

    db = writer(path)
    commit(db, 5)
    assert checkpointer.checkpoint()
    assert rows_in_database_file(path, tmp_path) == 5
    checkpointer.stop()
    db.close()
