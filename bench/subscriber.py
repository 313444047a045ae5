"""The benchmarks' platform subscriber: every message through the broker, and when it came.

Why a process of its own: stamped in the benchmark's process, an arrival
waited for the interpreter lock whenever the benchmark was busy, and it is
busiest exactly when an alarm is in flight (``bench.alarm_latency``'s Modbus
simulator answers the gateway's next read at that moment), so the broker ->
subscriber hop read several times a bare publish's.

Run as ``python -m bench.subscriber BROKER_URL`` (``subscribed()`` does), it
subscribes to every topic with paho, prints ``subscribed`` once the broker's
SUBACK is in, then one line per message: the ``time.time()`` at which paho's
network thread handed it over, its topic and its payload (both base64). It
stops when its standard input closes, so it never outlives the benchmark.
The benchmark's side (:class:`Arrivals`) reads those lines into a log that
waiters search.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from base64 import b64decode, b64encode
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import BinaryIO

from paho.mqtt.client import CallbackAPIVersion, Client, MQTTMessage

READY = b"subscribed\n"
LINE_LIMIT = 1 << 24  # a line holds one message, base64: far beyond any payload of the station's


@dataclass(frozen=True)
class Arrival:
    topic: str
    payload: bytes
    at: float  # time.time() when the subscriber's process got it


def line(at: float, message: MQTTMessage) -> bytes:
    """One arrival as the subscriber's process writes it."""
    return b"%r %s %s\n" % (at, b64encode(message.topic.encode()), b64encode(message.payload))


def parse(text: bytes) -> Arrival:
    at, topic, payload = text.split()
    return Arrival(b64decode(topic).decode(), b64decode(payload), float(at))


class Arrivals:
    """Every message through the broker and when it came, in order, as the subscriber reported it.

    Bodies stay bytes until a figure needs them: flat out, decoding
    thousands a second here would take CPU from the contender being
    measured (on two cores, every process of the set-up competes).
    """

    def __init__(self) -> None:
        self.log: list[Arrival] = []
        self.stopped = False  # the subscriber's process is gone: nothing more will come
        self._waiting: set[asyncio.Event] = set()  # one per waiter, told of arrivals while it waits

    def arrived(self, arrival: Arrival) -> None:
        self.log.append(arrival)
        self._wake()

    def stop(self) -> None:
        self.stopped = True
        self._wake()

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
                    if self.stopped:
                        raise RuntimeError("the subscriber's process stopped")
                    after = seen
                    await waiting.wait()
        finally:
            self._waiting.discard(waiting)

    async def read(self, lines: asyncio.StreamReader) -> None:
        """Log every line the subscriber's process writes, until it stops."""
        try:
            async for text in lines:
                self.arrived(parse(text))
        finally:
            self.stop()


@contextlib.asynccontextmanager
async def subscribed(broker_url: str) -> AsyncIterator[Arrivals]:
    """The subscriber's process, subscribed (SUBACK in) before its arrivals are handed out."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.subscriber",
        broker_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=LINE_LIMIT,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    arrivals = Arrivals()
    reading: asyncio.Task | None = None
    try:
        ready = await asyncio.wait_for(process.stdout.readline(), 15)
        if ready != READY:
            raise RuntimeError(f"the subscriber did not subscribe (it said {ready!r})")
        reading = asyncio.create_task(arrivals.read(process.stdout))
        yield arrivals
    finally:
        process.stdin.close()  # its signal to leave
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
        if reading is not None:
            await reading


def serve(broker_url: str, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Subscribe to every topic and write each arrival to ``stdout`` until ``stdin`` closes."""
    host, port = broker_url.removeprefix("mqtt://").rsplit(":", 1)

    def arrived(_client: object, _userdata: object, message: MQTTMessage) -> None:
        at = time.time()  # first thing: the stamp is the figure, the writing is not
        stdout.write(line(at, message))
        stdout.flush()  # one write per message: the benchmark waits on each

    def acknowledged(*_args: object) -> None:  # paho's thread, as every arrival after it
        stdout.write(READY)
        stdout.flush()

    client = Client(CallbackAPIVersion.VERSION2, client_id="bench-subscriber")
    client.on_message = arrived
    client.on_subscribe = acknowledged
    client.connect(host, int(port))
    client.subscribe("#", qos=1)
    client.loop_start()
    try:
        stdin.read()  # returns at end of file: the benchmark closed it, or is gone
    finally:
        client.disconnect()
        client.loop_stop()


if __name__ == "__main__":
    serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
