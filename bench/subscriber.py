"""The benchmarks' platform subscriber: every message through the broker, and when it came.

It runs on paho's own network thread and stamps each arrival there, so the
time is when the bytes came, not when the benchmark's event loop (busy with
the Modbus simulator or with waiting) got round to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from paho.mqtt.client import CallbackAPIVersion, Client, MQTTMessage


@dataclass(frozen=True)
class Arrival:
    topic: str
    payload: bytes
    at: float  # time.time() when the subscriber got it


class Arrivals:
    """The subscriber: every message through the broker and when it came, in order.

    paho's network thread appends each arrival, bodies left as bytes until a
    figure needs them: flat out, an asyncio client decoding thousands a
    second here would take CPU from the contender being measured (on two
    cores, every process of the set-up competes).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.log: list[Arrival] = []
        self._loop = loop
        self._waiting: set[asyncio.Event] = set()  # one per waiter, told of arrivals while it waits

    def arrived(self, _client: object, _userdata: object, message: MQTTMessage) -> None:
        """paho's thread: remember the message (a list append is atomic under the GIL)."""
        self.log.append(Arrival(message.topic, bytes(message.payload), time.time()))
        if self._waiting:
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for waiting in self._waiting:
            waiting.set()

    async def wait_for(self, predicate: Callable[[Arrival], bool], after: int, timeout: float) -> Arrival:
        """The first arrival from index ``after`` on for which ``predicate`` holds."""
        waiting = asyncio.Event()
        self._waiting.add(waiting)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    waiting.clear()  # before looking: whatever comes after the look wakes us
                    seen = len(self.log)
                    for arrival in self.log[after:seen]:
                        if predicate(arrival):
                            return arrival
                    after = seen
                    await waiting.wait()
        finally:
            self._waiting.discard(waiting)


@contextlib.contextmanager
def subscribed(broker_url: str) -> Iterator[Arrivals]:
    """A subscriber to every topic, subscribed (SUBACK in) before it is handed out."""
    host, port = broker_url.removeprefix("mqtt://").rsplit(":", 1)
    arrivals = Arrivals(asyncio.get_running_loop())
    acknowledged = threading.Event()
    client = Client(CallbackAPIVersion.VERSION2, client_id="bench-subscriber")
    client.on_message = arrivals.arrived
    client.on_subscribe = lambda *_args: acknowledged.set()
    client.connect(host, int(port))
    client.subscribe("#", qos=1)
    client.loop_start()
    try:
        if not acknowledged.wait(10):
            raise TimeoutError("the subscriber's SUBACK did not come")
        yield arrivals
    finally:
        client.disconnect()
        client.loop_stop()
