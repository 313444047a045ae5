"""The floor: the least a Python program can do to turn Modbus reads into MQTT messages.

Why its own module: the floor's RSS and start time are figures of the peer
benchmark (``bench.peer``), so its process imports nothing but the standard
library, pymodbus and one MQTT client; nothing of the gateway, the
simulators or the tests.

Each loop reads every unit's gas register (holding 0), publishes a reading
that changed as one JSON message (QoS 1) stamped with the time its answer
arrived, then sleeps out the rest of ``INTERVAL`` (0: loops flat out). Two
variants, as a gateway could be written:

- ``paho``: a blocking loop (pymodbus' sync client), paho's network thread;
- ``aiomqtt``: one asyncio loop (pymodbus' async client, aiomqtt), like outpost.

Both first publish ``floor/<variant>/status`` (its start is timed to that
message), then each sample on ``floor/<variant>/unit/<unit>``.

Run (``bench.peer`` does): ``python -m bench.floor paho|aiomqtt BROKER_URL MODBUS_PORT UNITS INTERVAL``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import deque
from datetime import UTC, datetime

WINDOW = 1000  # publishes not yet acknowledged before a floor waits: no unbounded queue
GAS_REGISTER = 0


def status_topic(variant: str) -> str:
    return f"floor/{variant}/status"


def sample_prefix(variant: str) -> str:
    return f"floor/{variant}/unit/"


def sample(variant: str, unit: int, value: int, observed: str) -> tuple[str, bytes]:
    """One changed reading: its topic and JSON body."""
    body = json.dumps({"device": unit, "gas": value / 10, "observed_at": observed}).encode()
    return f"{sample_prefix(variant)}{unit}", body


def paho_floor(host: str, port: int, modbus_port: int, units: int, interval: float) -> None:
    """The blocking loop: each read waits for its answer; paho's thread does the network."""
    from paho.mqtt.client import CallbackAPIVersion, Client, MQTTMessageInfo
    from pymodbus.client import ModbusTcpClient

    modbus = ModbusTcpClient("127.0.0.1", port=modbus_port)
    modbus.connect()
    mqtt = Client(CallbackAPIVersion.VERSION2, client_id="floor-paho")
    mqtt.connect(host, port)
    mqtt.loop_start()
    mqtt.publish(status_topic("paho"), b'{"state":"online"}', qos=1)
    unacknowledged: deque[MQTTMessageInfo] = deque()
    last: dict[int, int] = {}
    while True:
        started = time.monotonic()
        for unit in range(1, units + 1):
            value = modbus.read_holding_registers(GAS_REGISTER, count=1, device_id=unit).registers[0]
            observed = datetime.now(UTC).isoformat()
            if last.get(unit) == value:
                continue
            last[unit] = value
            unacknowledged.append(mqtt.publish(*sample("paho", unit, value, observed), qos=1))
            while unacknowledged and unacknowledged[0].is_published():
                unacknowledged.popleft()
            if len(unacknowledged) > WINDOW:
                unacknowledged.popleft().wait_for_publish()
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


async def aiomqtt_floor(host: str, port: int, modbus_port: int, units: int, interval: float) -> None:
    """The asyncio loop: reads awaited one by one, each publish a task of its own."""
    import aiomqtt
    from pymodbus.client import AsyncModbusTcpClient

    modbus = AsyncModbusTcpClient("127.0.0.1", port=modbus_port)
    await modbus.connect()
    room = asyncio.Semaphore(WINDOW)
    publishing: set[asyncio.Task] = set()
    last: dict[int, int] = {}
    async with aiomqtt.Client(host, port, identifier="floor-aiomqtt") as mqtt:
        mqtt.pending_calls_threshold = WINDOW + 1  # its warning would be a log line per message

        async def send(topic: str, body: bytes) -> None:
            try:
                await mqtt.publish(topic, body, qos=1)
            finally:
                room.release()

        await mqtt.publish(status_topic("aiomqtt"), b'{"state":"online"}', qos=1)
        while True:
            started = time.monotonic()
            for unit in range(1, units + 1):
                answer = await modbus.read_holding_registers(GAS_REGISTER, count=1, device_id=unit)
                observed = datetime.now(UTC).isoformat()
                value = answer.registers[0]
                if last.get(unit) == value:
                    continue
                last[unit] = value
                await room.acquire()
                task = asyncio.create_task(send(*sample("aiomqtt", unit, value, observed)))
                publishing.add(task)
                task.add_done_callback(publishing.discard)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


def main() -> None:
    if len(sys.argv) != 6 or sys.argv[1] not in ("paho", "aiomqtt"):
        sys.exit(
            f"usage: python -m bench.floor paho|aiomqtt BROKER_URL MODBUS_PORT UNITS INTERVAL\n\n{__doc__}"
        )
    variant, url, modbus_port, units, interval = sys.argv[1:]
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    settings = (host, int(port), int(modbus_port), int(units), float(interval))
    if variant == "paho":
        paho_floor(*settings)
    else:
        asyncio.run(aiomqtt_floor(*settings))


if __name__ == "__main__":
    main()
