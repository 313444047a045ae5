"""``outpost demo``: a whole station on one machine, with nothing but Python.

An embedded MQTT broker (amqtt) unless ``--broker`` names one, the example
station's devices as simulators (Modbus TCP on loopback, Modbus RTU and serial
sensors on ptys), the gateway itself, and a view of
what the district platform receives. A scripted gas leak in the kitchen goes
from normal to first stage, second stage and back to normal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from gateway.config import load_config
from gateway.config.paths import example_station
from gateway.contract.decode import decode
from gateway.operator.describe import describe
from gateway.operator.mqtt import broker_settings, connect
from gateway.service.runtime import Gateway
from simulators.station.buses import SimulatedStation, start_simulated_station, with_broker

log = logging.getLogger(__name__)

LEAK_DEVICE = "kitchen-gas"
# (seconds after start, %LEL): a leak building up, then ventilated away.
LEAK_SCRIPT = ((4, 8.0), (6, 27.5), (9, 61.0), (15, 12.0), (18, 1.5))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedBroker:
    """An amqtt broker on a loopback port that can be stopped and started again on that port.

    A scenario's broker outage stops and restarts it; amqtt keeps no state
    across a restart, unlike a broker with persistence.
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port or _free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self._broker: Any = None  # amqtt's Broker, imported only once started

    async def start(self) -> None:
        try:
            from amqtt.broker import Broker
        except ImportError:
            raise SystemExit(
                "the embedded broker needs the demo extra: pip install 'outpost[demo]' "
                "(or give --broker mqtt://host:1883)"
            ) from None
        self._broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }
        )
        await self._broker.start()

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


@contextlib.asynccontextmanager
async def embedded_broker() -> AsyncIterator[str]:
    """An amqtt broker on a free loopback port; yields its URL."""
    broker = EmbeddedBroker()
    await broker.start()
    try:
        yield broker.url
    finally:
        await broker.stop()


async def _platform_view(url: str, prefix: str, ready: asyncio.Event, seen: list[str]) -> None:
    async with connect(broker_settings(url, "mqtt311")) as client:
        await client.subscribe(f"{prefix}/#", qos=1)
        ready.set()
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            line = describe(str(message.topic), decode(bytes(payload)), prefix)
            seen.append(line)
            print(f"platform <- {line}", flush=True)


async def _gas_leak(station: SimulatedStation) -> None:
    unit = station.unit(LEAK_DEVICE)
    start = asyncio.get_running_loop().time()
    for at, value in LEAK_SCRIPT:
        await asyncio.sleep(max(0.0, start + at - asyncio.get_running_loop().time()))
        print(f"simulator: {LEAK_DEVICE} gas -> {value} %LEL", flush=True)
        unit.set("gas", value)


async def run_demo(broker: str | None = None, once: bool = False) -> None:
    config = load_config(example_station())
    async with AsyncExitStack() as stack:
        url = broker if broker is not None else await stack.enter_async_context(embedded_broker())
        state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outpost-demo-")))
        # amqtt speaks MQTT 3.1.1 only.
        config = with_broker(
            config, url, protocol="mqtt311" if broker is None else "mqtt5", state_dir=state_dir
        )
        station = await start_simulated_station(config, stack)
        for device, unit in station.units.items():
            unit.set(next(iter(station.config.profile_of(device).points)), 0)
        station.unit("culvert-level").set("level", 1.2)
        station.unit("pump-pit-gas").set("o2", 20.9)
        print(f"broker: {url}")
        for name in station.servers:
            print(f"simulated bus {name}: {station.describe(name)}")
        gateway = Gateway(station.config)
        ready, seen = asyncio.Event(), list[str]()
        try:
            async with asyncio.TaskGroup() as group:
                view = group.create_task(_platform_view(url, gateway.prefix, ready, seen))
                await ready.wait()
                run = group.create_task(gateway.run())
                await _gas_leak(station)
                if once:
                    await _wait_for_clear(seen)
                    run.cancel()
                    view.cancel()
                else:
                    print("demo running; press Ctrl-C to stop", flush=True)
        finally:
            print("demo stopped", flush=True)


async def _wait_for_clear(seen: list[str], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if any("CLEARED" in line and LEAK_DEVICE in line for line in seen):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the scripted gas leak did not clear in time")
