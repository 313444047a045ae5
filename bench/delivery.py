"""Delivery: durable commit rate, backlog drain rate, publish latency (outbox + MQTT uplink).

Against a real Mosquitto on loopback, with the gateway's own ``Outbox`` and
``MqttUplink`` in this process and a platform subscriber counting arrivals.

Figures:
- alarms committed durably per second (``Outbox.put`` one after the other,
  each awaited, fsynced), with the baseline of bare SQLite on the same disk:
  one thread inserting the same rows, each its own transaction committed with
  an fsync (WAL, ``synchronous=FULL``);
- drain rate of a 10 000-alarm backlog once the uplink connects, with the
  baseline of a bare aiomqtt client publishing the same messages in the same
  QoS 1 window straight from memory;
- publish latency p50/p99, put -> subscriber, one alarm at a time.

Run: ``make bench`` (or ``python -m bench.delivery``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import aiomqtt

from bench.common import RESULTS, percentiles, publish
from gateway.config.models import MqttConfig
from gateway.outbox import Message, Outbox, OutboxPriority
from gateway.uplink.freshness import Freshness
from gateway.uplink.mqtt import MqttUplink
from tests.support.peers import Mosquitto

PAYLOAD_BYTES = 600  # about one alarm event
TOPIC = "outpost/v1/bench/alarm"


def payload(n: int) -> bytes:
    return json.dumps({"n": n, "sent": time.time(), "pad": "x" * PAYLOAD_BYTES}).encode()


async def commit_rate(directory: Path, count: int, priority: OutboxPriority) -> float:
    outbox = Outbox(directory / f"commit-{priority.name}.sqlite3")
    await outbox.open()
    started = time.perf_counter()
    for n in range(count):
        await outbox.put(Message(priority, TOPIC, payload(n)))
    elapsed = time.perf_counter() - started
    await outbox.close()
    return count / elapsed


def bare_commit_rate(directory: Path, count: int) -> float:
    """The floor: SQLite alone, one fsynced transaction per row, on this thread."""
    db = sqlite3.connect(directory / "bare.sqlite3", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, topic TEXT, payload BLOB)")
        started = time.perf_counter()
        for n in range(count):
            db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", (TOPIC, payload(n)))
        return count / (time.perf_counter() - started)
    finally:
        db.close()


class Counter:
    """A subscriber that counts arrivals and notes each one's latency."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.count = 0
        self.latencies: list[float] = []
        self.arrived = asyncio.Event()
        self.target = 0

    async def run(self, ready: asyncio.Event) -> None:
        host, port = self.url.removeprefix("mqtt://").rsplit(":", 1)
        async with aiomqtt.Client(host, int(port), max_queued_incoming_messages=0) as client:
            await client.subscribe(TOPIC, qos=1)
            ready.set()
            async for message in client.messages:
                body = json.loads(message.payload)
                self.latencies.append(time.time() - body["sent"])
                self.count += 1
                if self.count >= self.target:
                    self.arrived.set()

    async def expect(self, total: int, timeout: float = 120) -> None:
        self.target = total
        if self.count < total:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), timeout)


def uplink(url: str, outbox: Outbox, window: int) -> MqttUplink:
    def state() -> list[Message]:
        return []

    def will() -> Message:
        return Message(OutboxPriority.STATUS, "outpost/v1/bench/status", b'{"state":"offline"}', retain=True)

    return MqttUplink(
        MqttConfig(brokers=[url]),
        client_id="outpost-bench",
        station="bench",
        outbox=outbox,
        freshness=Freshness(historical_after=3600.0),
        retained_state=state,
        will=will,
        command_topic="outpost/v1/bench/cmd/+",
        window=window,
    )


async def measure(backlog: int, commits: int, latency_samples: int, window: int) -> dict:
    async with AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outpost-bench-")))
        # By default Mosquitto drops a QoS 1 message once 1 000 wait for a subscriber: the drain
        # outruns the counting subscriber, so the counter would wait forever for what was dropped.
        # Its CONNACK announces max_inflight_messages as Receive Maximum (20 by default), which
        # outpost keeps to and a bare paho client does not: set to the window, both use the same.
        broker = Mosquitto(
            work / "mosquitto", options=("max_queued_messages 100000", f"max_inflight_messages {window}")
        )
        broker.start()
        stack.callback(broker.stop)

        durable = await commit_rate(work, commits, OutboxPriority.ALARM)
        bare = await asyncio.to_thread(bare_commit_rate, work, commits)

        counter = Counter(broker.url)
        ready = asyncio.Event()
        subscriber = asyncio.create_task(counter.run(ready))
        await ready.wait()

        # Baseline: a bare client, same window, messages from memory.
        host, port = broker.url.removeprefix("mqtt://").rsplit(":", 1)
        started = time.perf_counter()
        async with aiomqtt.Client(host, int(port), max_inflight_messages=window) as client:
            client.pending_calls_threshold = window + 1  # a window in flight is the point, not a warning
            for first in range(0, backlog, window):
                batch = range(first, min(first + window, backlog))
                await asyncio.gather(*(client.publish(TOPIC, payload(n), qos=1) for n in batch))
            await counter.expect(backlog)
        bare_rate = backlog / (time.perf_counter() - started)

        # The outbox: a backlog built up during an outage, drained when the uplink connects.
        outbox = Outbox(work / "backlog.sqlite3", max_bytes=512 * 1024 * 1024)
        await outbox.open()
        for n in range(backlog):
            await outbox.put(Message(OutboxPriority.ALARM, TOPIC, payload(n)))
        base = counter.count
        started = time.perf_counter()
        link = uplink(broker.url, outbox, window)
        running = asyncio.create_task(link.run())
        await counter.expect(base + backlog)
        drain_rate = backlog / (time.perf_counter() - started)
        left = len(outbox)

        # Latency, one alarm at a time through outbox and uplink.
        counter.latencies.clear()
        for n in range(latency_samples):
            await outbox.put(Message(OutboxPriority.ALARM, TOPIC, payload(n)))
            await counter.expect(base + backlog + n + 1)
        latencies = list(counter.latencies)

        running.cancel()
        subscriber.cancel()
        await asyncio.gather(running, subscriber, return_exceptions=True)
        await outbox.close()

    return {
        "benchmark": "delivery",
        "payload_bytes": PAYLOAD_BYTES,
        "window": window,
        "commit_per_second": {
            "alarm_fsynced": round(durable),
            "baseline_bare_sqlite_fsynced": round(bare),
        },
        "drain_per_second": {
            "backlog": backlog,
            "outbox_and_uplink": round(drain_rate),
            "baseline_bare_client": round(bare_rate),
            "left_in_outbox": left,
        },
        "publish_latency": percentiles(latencies),
    }


def print_table(result: dict) -> None:
    commit, drain, latency = (
        result["commit_per_second"],
        result["drain_per_second"],
        result["publish_latency"],
    )
    print(f"\ndelivery ({result['payload_bytes']}-byte payloads, window {result['window']})")
    print(f"{'durable commits (alarm, fsync)':<42}{commit['alarm_fsynced']:>10} /s")
    print(f"{'  baseline: bare SQLite, fsync':<42}{commit['baseline_bare_sqlite_fsynced']:>10} /s")
    label = f"drain of {drain['backlog']} backlog (outbox + uplink)"
    print(f"{label:<42}{drain['outbox_and_uplink']:>10} /s")
    print(f"{'  baseline: bare client from memory':<42}{drain['baseline_bare_client']:>10} /s")
    print(f"{'publish latency put -> subscriber':<42}p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms")
    ratio = drain["outbox_and_uplink"] / max(drain["baseline_bare_client"], 1)
    print(f"vs floor (same run): the outbox drains at {ratio:.2f}x the bare client's rate")
    ratio = commit["alarm_fsynced"] / max(commit["baseline_bare_sqlite_fsynced"], 1)
    print(f"vs floor (same run): durable commits one at a time at {ratio:.2f}x bare SQLite's rate")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=2_000)
    parser.add_argument("--latency-samples", type=int, default=300)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--json", type=Path, default=RESULTS / "delivery.json")
    args = parser.parse_args()
    result = asyncio.run(measure(args.backlog, args.commits, args.latency_samples, args.window))
    publish(result, args.json, print_table)


if __name__ == "__main__":
    main()
