"""Durability: alarm commits per second and commit latency, on a normal disk and on an SD card's fsync.

An alarm transition is durable once both the event and the alarm state it
leaves are on disk. Four producers (four buses) each make transitions back
to back and wait for each to be durable:

- gateway: what the gateway does (:func:`gateway_commit`): one commit
  request to ``gateway.outbox.Outbox`` holding the event and the alarm state
  entry it changed, submitted without waiting and committed by the outbox's
  writer thread, a group commit (one SQLite transaction, fsynced) of every
  request waiting;
- baseline: the same SQLite work done minimally: one connection (WAL,
  ``synchronous=FULL``) on one thread, one transaction per transition holding
  one event insert and one state upsert.

Figures per path: durable commits per second, and latency p50/p99 from the
moment the event is made to the moment it is durable. Both paths run twice in
the same run, in two worker processes: once on the real disk, once with the
slow-fsync shim (tests/support/slow_fsync.c, built with the system C compiler)
adding 40-150 ms to every fsync, as a Raspberry Pi's SD card does.

Run: ``python -m bench.durability`` (needs ``cc``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import RESULTS, percentiles, publish
from gateway.outbox import Message, Outbox, OutboxPriority
from tests.support.slow_fsync import SD_CARD_MS, build_slow_fsync, slow_fsync_env

PRODUCERS = 4  # buses making transitions at once
ALARMS = 20  # alarm conditions whose state is kept
EVENT_BYTES = 600  # about one alarm event
STATE_BYTES = 1500  # about one alarm's saved state
TOPIC = "outpost/v1/bench/alarm"


def event(n: int) -> bytes:
    return json.dumps({"n": n, "made": time.time(), "pad": "x" * EVENT_BYTES}).encode()


def alarm_state(n: int) -> dict:
    return {"seq": n, "pad": "x" * STATE_BYTES}


class GatewayPath:
    """The gateway's own outbox, used as ``Publisher.publish`` uses it."""

    def __init__(self, directory: Path) -> None:
        self.outbox = Outbox(directory / "outbox.sqlite3")

    async def open(self) -> None:
        await self.outbox.open()

    async def close(self) -> None:
        await self.outbox.close()

    async def commit(self, key: str, n: int) -> None:
        await gateway_commit(self.outbox, event(n), {f"alarm/{key}": alarm_state(n)})


async def gateway_commit(outbox: Outbox, payload: bytes, state: dict) -> None:
    """One alarm transition made durable the gateway's way: the event and its state in one commit."""
    assert await outbox.submit([Message(OutboxPriority.ALARM, TOPIC, payload)], state)


class BaselinePath:
    """The least SQLite work that makes an event and its alarm state durable together."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "baseline.sqlite3"
        self.worker = ThreadPoolExecutor(max_workers=1)
        self.db: sqlite3.Connection | None = None

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.worker, self._open)

    def _open(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, payload BLOB)")
        db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT)")
        self.db = db

    async def close(self) -> None:
        if self.db is not None:
            await asyncio.get_running_loop().run_in_executor(self.worker, self.db.close)
        self.worker.shutdown()

    async def commit(self, key: str, n: int) -> None:
        await asyncio.get_running_loop().run_in_executor(self.worker, self._commit, key, n)

    def _commit(self, key: str, n: int) -> None:
        assert self.db is not None
        self.db.execute("BEGIN")
        self.db.execute("INSERT INTO events (payload) VALUES (?)", (event(n),))
        self.db.execute(
            "INSERT INTO state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(alarm_state(n))),
        )
        self.db.execute("COMMIT")


async def measure(path: GatewayPath | BaselinePath, count: int) -> dict:
    """``count`` transitions from ``PRODUCERS`` producers: commits/s and made -> durable latency."""
    await path.open()
    latencies: list[float] = []

    async def producer(first: int) -> None:
        for n in range(first, count, PRODUCERS):
            made = time.perf_counter()
            await path.commit(f"alarm-{n % ALARMS}", n)
            latencies.append(time.perf_counter() - made)

    started = time.perf_counter()
    await asyncio.gather(*(producer(p) for p in range(PRODUCERS)))
    elapsed = time.perf_counter() - started
    await path.close()
    return {"commits_per_s": round(count / elapsed, 1), **percentiles(latencies)}


async def worker(directory: Path, count: int) -> dict:
    (directory / "gateway").mkdir()
    (directory / "baseline").mkdir()
    return {
        "gateway": await measure(GatewayPath(directory / "gateway"), count),
        "baseline": await measure(BaselinePath(directory / "baseline"), count),
    }


def run_worker(directory: Path, count: int, env: dict[str, str]) -> dict:
    """One worker process (the shim must be loaded at its start, so each disk gets its own)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.durability", "--worker", str(directory), "--alarms", str(count)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def measure_both(alarms: int, slow_alarms: int, min_ms: int, max_ms: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-durability-") as tmp:
        root = Path(tmp)
        shim = build_slow_fsync(root / "shim")
        (root / "normal").mkdir()
        (root / "slow").mkdir()
        return {
            "producers": PRODUCERS,
            "event_bytes": EVENT_BYTES,
            "normal": {"alarms": alarms, **run_worker(root / "normal", alarms, {})},
            "slow_fsync": {
                "alarms": slow_alarms,
                "fsync_ms": [min_ms, max_ms],
                **run_worker(root / "slow", slow_alarms, slow_fsync_env(shim, min_ms, max_ms)),
            },
        }


def print_table(result: dict) -> None:
    low, high = result["slow_fsync"]["fsync_ms"]
    print(f"\ndurability ({result['producers']} producers, {result['event_bytes']}-byte events)")
    print(f"{'':<58}{'commits/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for disk, label in (("normal", "normal fsync"), ("slow_fsync", f"fsync +{low}-{high} ms")):
        for path, name in (
            ("gateway", "gateway (group commit: event + state)"),
            ("baseline", "baseline (one txn)"),
        ):
            figures = result[disk][path]
            row = f"{name}, {label}"
            print(f"{row:<58}{figures['commits_per_s']:>10}{figures['p50_ms']:>9}{figures['p99_ms']:>9}")
    for disk, label in (("normal", "normal fsync"), ("slow_fsync", "slow fsync")):
        ours, floor = result[disk]["gateway"], result[disk]["baseline"]
        ratio = ours["commits_per_s"] / max(floor["commits_per_s"], 1)
        print(f"vs floor (same run), {label}: the gateway commits {ratio:.2f}x the baseline's rate")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alarms", type=int, default=400, help="transitions on the normal disk")
    parser.add_argument("--slow-alarms", type=int, default=80, help="transitions with the slow fsync")
    parser.add_argument("--min-ms", type=int, default=SD_CARD_MS[0])
    parser.add_argument("--max-ms", type=int, default=SD_CARD_MS[1])
    parser.add_argument("--json", type=Path, default=RESULTS / "durability.json")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # inside one worker process
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(asyncio.run(worker(args.worker, args.alarms))))
        return
    publish(measure_both(args.alarms, args.slow_alarms, args.min_ms, args.max_ms), args.json, print_table)


if __name__ == "__main__":
    main()
