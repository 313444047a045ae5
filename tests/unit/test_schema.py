"""The station database across releases, on real SQLite files: upgrades migrate, downgrades read as known."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from gateway import schema
from gateway.outbox import Message, Outbox, OutboxPriority

# The outbox of the release before the alarm state moved into the database (alarms.json beside it).
RELEASE_BEFORE = """
CREATE TABLE outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    priority  INTEGER NOT NULL,
    topic     TEXT    NOT NULL,
    payload   BLOB    NOT NULL,
    qos       INTEGER NOT NULL,
    retain    INTEGER NOT NULL,
    queued_at REAL    NOT NULL
);
CREATE INDEX outbox_by_priority ON outbox (priority, id);
"""


def message(priority: OutboxPriority, n: int) -> Message:
    return Message(priority, f"t/{priority.name.lower()}", json.dumps({"n": n}).encode())


def numbers(batch) -> list[int]:
    return [json.loads(q.message.payload)["n"] for q in batch]


def version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


async def stored_by_this_release(path: Path, *alarms: int) -> None:
    box = Outbox(path)
    await box.open()
    for n in alarms:
        assert await box.submit([message(OutboxPriority.ALARM, n)], {f"alarm/{n}": {"n": n}})
    await box.close()


async def test_a_new_database_carries_this_release_schema_version(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    await stored_by_this_release(path, 1)
    assert version(path) == schema.VERSION >= 1


async def test_an_upgrade_keeps_the_undelivered_messages_of_the_release_before_in_order(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(RELEASE_BEFORE)
        db.executemany(  # id 1 and 4 were delivered before the upgrade
            "INSERT INTO outbox VALUES (?, ?, ?, ?, 1, 0, 1.0e9)",
            [
                (i, priority, "t/old", json.dumps({"n": i}).encode())
                for i, priority in [(2, 4), (3, 0), (5, 2), (6, 0), (7, 0)]
            ],
        )
    db.close()
    assert version(path) == 0

    box = Outbox(path)
    await box.open()
    assert box.storage_error is None
    assert box.saved_state == {}
    assert await box.submit([message(OutboxPriority.ALARM, 8)], {"alarm/8": {"n": 8}})
    batch = await box.take(10)
    assert numbers(batch) == [3, 6, 7, 8, 5, 2]  # alarms first, each priority in its order
    assert batch[3].id > 7  # new ids follow the old ones
    box.done(batch[0])
    await box.close()
    assert version(path) == schema.VERSION

    reopened = Outbox(path)
    await reopened.open()
    assert reopened.saved_state == {"alarm/8": {"n": 8}}
    assert numbers(await reopened.take(10)) == [6, 7, 8, 5, 2]
    await reopened.close()


async def test_a_downgrade_delivers_a_newer_release_database_and_leaves_what_it_added(tmp_path, caplog):
    path = tmp_path / "outbox.sqlite3"
    await stored_by_this_release(path, 1, 2)
    newer = schema.VERSION + 1
    with sqlite3.connect(path) as db:  # a newer release: a column, a table, a row of its own
        db.execute("ALTER TABLE outbox ADD COLUMN trace TEXT")
        db.execute("ALTER TABLE state ADD COLUMN since REAL NOT NULL DEFAULT 0")
        db.execute("CREATE TABLE receipts (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
        db.execute("INSERT INTO receipts VALUES (1, 'kept')")
        db.execute("UPDATE outbox SET trace = 'newer'")
        db.execute("UPDATE state SET since = 42")
        db.execute(
            "INSERT INTO outbox VALUES (3, 0, 't/alarm', ?, 1, 0, 2.0e9, 'newer')",
            (json.dumps({"n": 3}).encode(),),
        )
        db.execute(f"PRAGMA user_version = {newer}")
    db.close()

    caplog.set_level(logging.WARNING, logger="gateway.schema")
    box = Outbox(path)
    await box.open()
    assert box.storage_error is None
    assert [r.message for r in caplog.records if "newer release" in r.message]  # one line says so
    assert box.saved_state == {"alarm/1": {"n": 1}, "alarm/2": {"n": 2}}
    batch = await box.take(10)
    assert numbers(batch) == [1, 2, 3]
    box.done(batch[0])
    assert await box.submit([message(OutboxPriority.ALARM, 4)], {"alarm/1": None, "alarm/2": {"n": 20}})
    await box.close()

    assert version(path) == newer
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id, trace FROM outbox ORDER BY id").fetchall() == [
            (2, "newer"),
            (3, "newer"),
            (batch[-1].id + 1, None),
        ]
        state = db.execute("SELECT name, value, since FROM state").fetchall()
        assert [(name, json.loads(value), since) for name, value, since in state] == [
            ("alarm/2", {"n": 20}, 42.0)
        ]
        assert db.execute("SELECT note FROM receipts").fetchall() == [("kept",)]
    db.close()


@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE outbox RENAME COLUMN payload TO body",
        # a column older releases cannot fill: only a rebuilt table can have one
        "CREATE TABLE routed (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INTEGER NOT NULL,"
        " topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,"
        " queued_at REAL NOT NULL, route TEXT NOT NULL);"
        " INSERT INTO routed SELECT *, 'uplink' FROM outbox; DROP TABLE outbox;"
        " ALTER TABLE routed RENAME TO outbox",
    ],
    ids=["renamed column", "required column"],
)
async def test_a_newer_database_this_release_cannot_write_is_refused_left_intact_and_alarms_still_go_out(
    tmp_path, caplog, change
):
    path = tmp_path / "outbox.sqlite3"
    await stored_by_this_release(path, 1)
    with sqlite3.connect(path) as db:
        db.executescript(change)
        db.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    db.close()
    before = path.read_bytes()

    caplog.set_level(logging.ERROR)
    box = Outbox(path, retry_after=0.05)
    await box.open()
    assert box.storage_error is not None
    assert "newer release" in box.storage_error
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    assert not await box.submit([message(OutboxPriority.ALARM, 2)], {"alarm/2": {"n": 2}})
    assert numbers(await box.take(10)) == [2]  # held in memory and delivered
    await box.close()

    assert path.read_bytes() == before
    assert version(path) == schema.VERSION + 1
