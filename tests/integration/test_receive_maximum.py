"""A broker's Receive Maximum holds: never more unacknowledged publishes than it allows.

MQTT 5.0 §3.2.2.3.3: the server's CONNACK may set Receive Maximum, and §3.3.4:
a server that receives more unacknowledged QoS 1 publishes than that disconnects
with 0x93 "Receive Maximum exceeded". Mosquitto announces the property but does
not enforce it, so the peer here is the test's own: a small MQTT 5 server that
announces 2, answers each publish a little late, and does what the standard says
when a client sends a third. A station that ignored it would lose its session
each time its outbox filled the window, and its backlog would never drain.
"""

from __future__ import annotations

import asyncio
import struct

import pytest

from tests.support.peers import gas_detectors, running_station

pytestmark = pytest.mark.slow

RECEIVE_MAXIMUM = 2
CONNACK = bytes([0x20, 6, 0x00, 0x00, 3, 0x21]) + struct.pack(">H", RECEIVE_MAXIMUM)
RECEIVE_MAXIMUM_EXCEEDED = bytes([0xE0, 1, 0x93])


class StrictBroker:
    """An MQTT 5 server of a few packet types that holds its clients to its Receive Maximum."""

    def __init__(self) -> None:
        self.topics: list[str] = []  # of the QoS 1 publishes it acknowledged
        self.most_unacknowledged = 0
        self.exceeded = 0
        self.changed = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        unacknowledged = 0

        async def acknowledge(packet_id: bytes, topic: str) -> None:
            nonlocal unacknowledged
            await asyncio.sleep(0.02)  # a broker that takes its time to store
            if writer.is_closing():
                return
            writer.write(b"\x40\x02" + packet_id)
            unacknowledged -= 1
            self.topics.append(topic)
            self.changed.set()

        try:
            while True:
                kind, body = await read_packet(reader)
                if kind == 0x1:  # CONNECT
                    writer.write(CONNACK)
                elif kind == 0x3 and body[0] & 0x06:  # PUBLISH, QoS 1
                    topic_length = struct.unpack(">H", body[1:3])[0]
                    topic = body[3 : 3 + topic_length].decode()
                    packet_id = body[3 + topic_length : 5 + topic_length]
                    unacknowledged += 1
                    self.most_unacknowledged = max(self.most_unacknowledged, unacknowledged)
                    if unacknowledged > RECEIVE_MAXIMUM:
                        self.exceeded += 1
                        writer.write(RECEIVE_MAXIMUM_EXCEEDED)
                        break
                    asyncio.create_task(acknowledge(packet_id, topic))  # noqa: RUF006 - ends with the connection
                elif kind == 0x8:  # SUBSCRIBE: granted QoS 1
                    writer.write(b"\x90\x04" + body[1:3] + b"\x00\x01")
                elif kind == 0xC:  # PINGREQ
                    writer.write(b"\xd0\x00")
                elif kind == 0xE:  # DISCONNECT
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One MQTT packet: its type, and its first byte's flags followed by its body."""
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first >> 4, bytes([first & 0x0F]) + await reader.readexactly(length)


async def test_the_station_keeps_within_the_brokers_receive_maximum_and_every_alarm_arrives(tmp_path):
    broker = StrictBroker()
    port = await broker.start()
    devices = gas_detectors(6)

    async def alarms_acknowledged() -> None:
        while sum(topic.endswith("/alarm") for topic in broker.topics) < len(devices):
            broker.changed.clear()
            await broker.changed.wait()

    try:
        async with running_station(
            tmp_path, f"mqtt://127.0.0.1:{port}", devices=devices, poll_interval=0.2
        ) as station:
            for unit in station.units.values():  # a burst: statuses, telemetry and alarms at once
                unit.set("gas", 60.0)
            await asyncio.wait_for(alarms_acknowledged(), 30)
            log = station.gateway.output()
    finally:
        await broker.stop()
    assert broker.exceeded == 0, f"{broker.exceeded} sessions ended with 0x93"
    assert broker.most_unacknowledged == RECEIVE_MAXIMUM  # the window was full, and no fuller
    assert "Traceback" not in log
