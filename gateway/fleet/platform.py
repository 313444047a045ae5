"""The platform's side of a fleet run: which published messages the broker delivered, and how fast.

Both sides run in the fleet's process, so a message is matched by its ``id``
and its delivery latency is measured on one monotonic clock, from the
station's publish call to the subscriber's receipt.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field


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


@dataclass
class DeliveryTracker:
    """Publishes register here when they are made and acknowledged; the subscriber reports receipts."""

    stations: set[str]
    published_at: dict[str, float] = field(default_factory=dict)  # id -> perf_counter at publish
    startup: set[str] = field(default_factory=set)  # ids published during the initial connects
    acked: dict[str, str] = field(default_factory=dict)  # id -> kind, once the broker's PUBACK came
    received: dict[str, float] = field(default_factory=dict)  # id -> delivery latency (s)
    duplicates: int = 0
    wills: Counter[str] = field(default_factory=Counter)  # station -> Last Wills delivered
    received_by_kind: Counter[str] = field(default_factory=Counter)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def sent(self, message_id: str, startup: bool) -> None:
        self.published_at[message_id] = time.perf_counter()
        if startup:
            self.startup.add(message_id)

    def acknowledged(self, message_id: str, kind: str) -> None:
        self.acked[message_id] = kind

    def on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        now = time.perf_counter()
        if retained or not payload:
            return  # a retained copy from before the subscription, or a cleared retained topic
        try:
            body = json.loads(payload)
            message_id, station = body["id"], body["station"]
        except (ValueError, KeyError, TypeError):
            return
        if station not in self.stations:
            return
        kind = kind_of(topic)
        published = self.published_at.get(message_id)
        if published is None:
            if kind == "status" and body.get("state") == "offline":
                self.wills[station] += 1  # the broker published this station's Last Will
                self.received_by_kind["will"] += 1
            return
        if message_id in self.received:
            self.duplicates += 1
            return
        self.received[message_id] = now - published
        self.received_by_kind[kind] += 1
        self._changed.set()

    def latencies(self, startup: bool) -> list[float]:
        """Delivery latencies of the start-up births, or of everything after them."""
        return [latency for key, latency in self.received.items() if (key in self.startup) == startup]

    def missing(self) -> list[str]:
        """Acknowledged by the broker, not (yet) delivered to the platform."""
        return [message_id for message_id in self.acked if message_id not in self.received]

    async def settle(self, timeout: float, quiet: float = 2.0) -> None:
        """Until everything acknowledged has arrived, or nothing arrived for ``quiet`` s, or ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.received) < len(self.acked) and loop.time() < deadline:
            self._changed.clear()
            try:
                async with asyncio.timeout(min(quiet, max(0.0, deadline - loop.time()))):
                    await self._changed.wait()
            except TimeoutError:
                return
