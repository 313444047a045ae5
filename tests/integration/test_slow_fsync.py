"""The slow-disk shim really slows the fsyncs of the process it is loaded into, and only those."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.slow_fsync import slow_fsync_env

# Times one os.fsync and one SQLite commit (WAL, synchronous=FULL), as the gateway makes them.
TIMED = """
import json, os, sqlite3, sys, time
directory = sys.argv[1]
with open(os.path.join(directory, "file"), "wb") as handle:
    started = time.perf_counter()
    os.fsync(handle.fileno())
    fsync = time.perf_counter() - started
db = sqlite3.connect(os.path.join(directory, "db.sqlite3"), isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE t (x)")
started = time.perf_counter()
db.execute("INSERT INTO t VALUES (1)")
print(json.dumps({"fsync": fsync, "commit": time.perf_counter() - started}))
"""


def timed(tmp_path, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", TIMED, str(tmp_path)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(done.stdout)


def test_fsync_and_sqlite_commits_wait_the_configured_time(slow_fsync, tmp_path):
    slow = timed(tmp_path, slow_fsync_env(slow_fsync, 200, 220))
    assert slow["fsync"] >= 0.2
    assert slow["commit"] >= 0.2


def test_a_process_started_without_it_keeps_the_real_disk(slow_fsync, tmp_path):
    assert "slow_fsync" not in os.environ.get("LD_PRELOAD", "")
    fast = timed(tmp_path, {})
    assert fast["fsync"] < 0.2
    assert fast["commit"] < 0.2
