"""The station database's schema across releases: its version, migrations, newer files read as known.

The version is SQLite's ``PRAGMA user_version``, set when the file is
created. Opening an older file migrates it to this version in one
transaction, so an upgrade keeps every undelivered message and the alarm
state, or changes nothing (and the failure is a storage fault).

The rule that makes a downgrade safe: a migration only ever adds (tables,
columns with a default or NULL allowed, indexes); it never renames, drops or
changes the meaning of what an earlier release reads. An older release then
opens a newer file as it is: it reads and writes the tables and columns it
knows, leaves the rest and the version untouched, and an upgrade again finds
rows it wrote or changed with the added columns at their default or unchanged.
A newer file this release could not write to without breaking that rule (a
table or column it needs is missing, or an added column must be filled) is
refused: one log line and a storage fault, events held in memory and still
delivered, and the file left for the release that wrote it.
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

# What each release adds, in order: entry ``n`` takes a file from version ``n`` to ``n + 1``.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: the outbox (a new file, or one from a release without a version: outbox only,
    # the alarm state in alarms.json) and the alarm state beside it.
    (
        """CREATE TABLE IF NOT EXISTS outbox (
            id        INTEGER PRIMARY KEY AUTOINCREMENT,
            priority  INTEGER NOT NULL,
            topic     TEXT    NOT NULL,
            payload   BLOB    NOT NULL,
            qos       INTEGER NOT NULL,
            retain    INTEGER NOT NULL,
            queued_at REAL    NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS outbox_by_priority ON outbox (priority, id)",
        "CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
)

VERSION = len(_MIGRATIONS)

# The columns this release reads and writes, by table.
KNOWN: dict[str, tuple[str, ...]] = {
    "outbox": ("id", "priority", "topic", "payload", "qos", "retain", "queued_at"),
    "state": ("name", "value"),
}


class IncompatibleSchema(sqlite3.DatabaseError):
    """A newer release's file this one cannot write to without breaking it: left as it is."""


def prepare(db: sqlite3.Connection) -> None:
    """Bring ``db`` (autocommit, no transaction open) to this version, or check a newer one is usable."""
    (found,) = db.execute("PRAGMA user_version").fetchone()
    if found > VERSION:
        _check_newer(db, found)
    elif found < VERSION:
        _migrate(db, found)


def _migrate(db: sqlite3.Connection, found: int) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        (tables,) = db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # 0: a new file
        for migration in _MIGRATIONS[found:]:
            for statement in migration:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    if tables:
        log.info("station database upgraded from schema version %d to %d", found, VERSION)


def _check_newer(db: sqlite3.Connection, found: int) -> None:
    for table, known in KNOWN.items():
        # cid, name, type, notnull, default, pk; generated columns are not listed (never written)
        columns = {row[1]: row for row in db.execute(f"PRAGMA table_info({table})")}
        missing = [name for name in known if name not in columns]
        if missing:
            raise IncompatibleSchema(
                f"schema version {found} of a newer release has no {table}.{', '.join(missing)};"
                f" this release knows version {VERSION}: reinstall the newer release"
            )
        required = [
            name
            for name, (_, _, _, notnull, default, _) in columns.items()
            if name not in known and notnull and default is None
        ]
        if required:
            raise IncompatibleSchema(
                f"schema version {found} of a newer release requires {table}.{', '.join(required)},"
                f" unknown to this release (version {VERSION}): reinstall the newer release"
            )
    log.warning(
        "station database has schema version %d of a newer release (this one knows %d):"
        " using what this release knows, leaving the rest as it is",
        found,
        VERSION,
    )
