"""``outpost demo``: a whole station on one machine, with nothing but Python.

An embedded MQTT broker (amqtt) unless ``--broker`` names one, the example
station's devices as simulators (Modbus TCP on loopback, Modbus RTU and serial
sensors on ptys), the gateway itself, and a view of
what the district platform receives, as a duty officer reads it, in the
station's language (or ``--lang``) and time zone. A scripted gas leak in the
kitchen goes from normal to first stage, second stage and back to normal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import tzinfo
from pathlib import Path
from typing import Any

from gateway.config import load_config
from gateway.config.paths import example_station
from gateway.contract.events import AlarmEvent
from gateway.i18n import Locale, Translator, station_zone
from gateway.operator.describe import quantity
from gateway.service.runtime import Gateway
from simulators.demo_view import StationClockFormatter, platform_view, say
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


async def _gas_leak(station: SimulatedStation, t: Translator, zone: tzinfo) -> None:
    unit = station.unit(LEAK_DEVICE)
    start = asyncio.get_running_loop().time()
    for at, value in LEAK_SCRIPT:
        await asyncio.sleep(max(0.0, start + at - asyncio.get_running_loop().time()))
        say("simulator", f"{LEAK_DEVICE} gas -> {quantity(value, '%LEL', t)}", zone)
        unit.set("gas", value)


async def run_demo(broker: str | None = None, once: bool = False, lang: Locale | None = None) -> None:
    config = load_config(example_station())
    t = Translator(lang or config.station.station.locale)
    zone = station_zone(config.station.reports.timezone)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(StationClockFormatter(zone))
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
        say("demo", f"broker: {url}", zone)
        for name in station.servers:
            say("demo", f"simulated bus {name}: {station.describe(name)}", zone)
        gateway = Gateway(station.config)
        ready, leak_cleared = asyncio.Event(), asyncio.Event()

        def cleared(event: AlarmEvent) -> None:
            if event.source.device == LEAK_DEVICE:
                leak_cleared.set()

        try:
            async with asyncio.TaskGroup() as group:
                view = group.create_task(
                    platform_view(url, gateway.prefix, t, zone, ready=ready, cleared=cleared)
                )
                await ready.wait()
                run = group.create_task(gateway.run())
                await _gas_leak(station, t, zone)
                if once:
                    async with asyncio.timeout(15.0):  # the scripted leak clears within seconds
                        await leak_cleared.wait()
                    run.cancel()
                    view.cancel()
                else:
                    say("demo", "running; press Ctrl-C to stop", zone)
        finally:
            say("demo", "stopped", zone)
