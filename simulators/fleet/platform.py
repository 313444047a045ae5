"""The platform's side of a fleet run: which published messages the broker delivered, and how fast.

The subscriber runs in a process of its own, as a district platform runs on
a machine of its own: sharing the stations' event loop, it would fall behind
whenever a thousand stations publish at once, and the broker (Mosquitto keeps
about a thousand messages per client queued) would drop what a real platform
receives. Messages are matched by ``id``; both processes stamp with
``time.monotonic`` (CLOCK_MONOTONIC, one clock for the whole machine), so the
delivery latency runs from the station's publish call to the receipt.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

Receipt = tuple[str, str, float, bool]  # id, kind, monotonic time of receipt, is an ``offline`` status


def kind_of(topic: str) -> str:
    """``status``, ``alarm``, ``alarms/active``, ``device_status``, ``telemetry``, ``report``, ..."""
    parts = topic.split("/")
    if "device" in parts and parts[-1] == "status":
        return "device_status"
    if "telemetry" in parts:
        return "telemetry"
    if parts[-2:] == ["alarms", "active"]:
        return "alarms/active"
    return parts[-1]


class PlatformProcess:
    """A subscriber to ``subscription`` in a child process; ``receipts`` ends it and returns what it got."""

    def __init__(self, broker: str, subscription: str, stations: set[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_main,
            args=(broker, subscription, sorted(stations), child),
            daemon=True,
            name="fleet-platform",
        )
        self._lock = asyncio.Lock()

    async def start(self, timeout: float = 30.0) -> None:
        self._process.start()
        answer = await self._ask(None, timeout)
        if answer != "ready":
            raise RuntimeError(f"the platform subscriber did not start: {answer}")

    async def count(self) -> int:
        """Messages received so far."""
        return await self._ask("count")

    async def settle(self, expected: int, timeout: float, quiet: float = 2.0) -> None:
        """Until ``expected`` messages arrived, nothing more arrived for ``quiet`` s, or ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last, changed = -1, loop.time()
        while loop.time() < deadline:
            count = await self.count()
            if count >= expected:
                return
            if count != last:
                last, changed = count, loop.time()
            elif loop.time() - changed > quiet:
                return
            await asyncio.sleep(0.2)  # polling another process's progress

    async def receipts(self) -> list[Receipt]:
        try:
            return await self._ask("stop")
        finally:
            await asyncio.to_thread(self._process.join, 10)
            if self._process.is_alive():
                self._process.kill()

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()

    async def _ask(self, request: str | None, timeout: float = 60.0):
        async with self._lock:
            if request is not None:
                self._conn.send(request)
            if not await asyncio.to_thread(self._conn.poll, timeout):
                raise TimeoutError("the platform subscriber did not answer")
            return self._conn.recv()


def _main(broker: str, subscription: str, stations: list[str], conn: Connection) -> None:
    try:
        asyncio.run(_serve(broker, subscription, set(stations), conn))
    except Exception as exc:
        conn.send(f"failed: {exc}")


async def _serve(broker: str, subscription: str, stations: set[str], conn: Connection) -> None:
    from gateway.uplink.mqtt import BrokerAddress
    from simulators.fleet.link import Link

    receipts: list[Receipt] = []

    def on_message(topic: str, payload: bytes, retained: bool) -> None:
        now = time.monotonic()
        if retained or not payload:
            return  # a retained copy from before the subscription, or a cleared retained topic
        try:
            body = json.loads(payload)
            message_id, station = body["id"], body["station"]
        except (ValueError, KeyError, TypeError):
            return
        if station in stations:
            kind = kind_of(topic)
            receipts.append((message_id, kind, now, kind == "status" and body.get("state") == "offline"))

    link = Link(
        f"fleet-platform-{time.time_ns() % 10**9}",
        BrokerAddress.parse(broker),
        on_message=on_message,
        receive_maximum=1000,
    )
    await link.open()
    await link.subscribe(subscription, qos=1)
    loop = asyncio.get_running_loop()
    requests: asyncio.Queue[str] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: requests.put_nowait(conn.recv()))
    conn.send("ready")
    while True:
        try:
            async with asyncio.timeout(1.0):
                request = await requests.get()
        except TimeoutError:
            link.tick()
            continue
        if request == "count":
            conn.send(len(receipts))
        elif request == "stop":
            loop.remove_reader(conn.fileno())
            await link.close()
            conn.send(receipts)
            return


@dataclass
class DeliveryTracker:
    """The stations' side registers what it published and what the broker acknowledged."""

    published_at: dict[str, float] = field(default_factory=dict)  # id -> monotonic time of publish
    startup: set[str] = field(default_factory=set)  # ids published while the stations came online
    acked: dict[str, str] = field(default_factory=dict)  # id -> kind, once the broker's PUBACK came
    received: dict[str, float] = field(default_factory=dict)  # id -> delivery latency (s)
    duplicates: int = 0
    wills: int = 0  # Last Wills the broker published for the stations
    received_by_kind: Counter[str] = field(default_factory=Counter)

    def sent(self, message_id: str, startup: bool) -> None:
        self.published_at[message_id] = time.monotonic()
        if startup:
            self.startup.add(message_id)

    def acknowledged(self, message_id: str, kind: str) -> None:
        self.acked[message_id] = kind

    def absorb(self, receipts: list[Receipt]) -> None:
        """Match the platform's receipts with what was published."""
        for message_id, kind, at, offline in receipts:
            published = self.published_at.get(message_id)
            if published is None:
                if offline:
                    self.wills += 1
                    self.received_by_kind["will"] += 1
                continue
            if message_id in self.received:
                self.duplicates += 1
                continue
            self.received[message_id] = at - published
            self.received_by_kind[kind] += 1

    def latencies(self, startup: bool) -> list[float]:
        """Delivery latencies of the start-up births, or of everything after them."""
        return [latency for key, latency in self.received.items() if (key in self.startup) == startup]

    def missing(self) -> list[str]:
        """Acknowledged by the broker, never delivered to the platform."""
        return [message_id for message_id in self.acked if message_id not in self.received]
