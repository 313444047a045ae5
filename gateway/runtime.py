"""Wires a loaded configuration into running parts: buses, alarm engine, queue, uplink."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from drivers.observation import BusPoller, PollOutcome
from gateway import __version__
from gateway.alarms.engine import AlarmEngine
from gateway.buses import build_poller
from gateway.config import LoadedConfig
from gateway.config.models import Bus
from gateway.events import AlarmEvent, DeviceSummary, Envelope, StationStatusEvent, utc_now
from gateway.ids import SequenceStore
from gateway.stamp import Stamper
from gateway.supervisor import supervise
from gateway.uplink.mqtt import MqttUplink
from gateway.uplink.queue import MemoryQueue
from gateway.uplink.topics import outbound

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    """One station's gateway: everything ``outpost run`` starts."""

    config: LoadedConfig

    def __post_init__(self) -> None:
        station = self.config.station
        station.state_dir.mkdir(parents=True, exist_ok=True)
        self.boot_id = str(uuid.uuid4())
        self.started_at = utc_now()
        self.prefix = station.topic_prefix
        self.stamp = Stamper(station.station.id, SequenceStore(station.state_dir / "seq"))
        self.queue = MemoryQueue()
        self.engine = AlarmEngine(self.config, self.stamp)
        self.pollers = {name: self._poller(name, bus) for name, bus in station.buses.items()}
        self.uplink = MqttUplink(
            station.mqtt,
            prefix=self.prefix,
            client_id=station.mqtt.client_id or f"outpost-{station.station.id}",
            queue=self.queue,
            birth=lambda: self._station_status("online"),
            will=lambda: self._station_status("offline"),
        )

    def _poller(self, bus_name: str, bus: Bus) -> BusPoller:
        return build_poller(self.config, bus_name, bus)

    def _station_status(self, state: str) -> StationStatusEvent:
        info = self.config.station.station
        devices = [
            DeviceSummary(id=name, profile=d.profile, bus=d.bus, location=d.location)
            for name, d in self.config.station.devices.items()
        ]
        return StationStatusEvent(
            state=state,  # type: ignore[arg-type]
            version=__version__,
            boot_id=self.boot_id,
            started_at=self.started_at,
            name=info.name,
            district=info.district,
            devices=devices,
            **self.stamp(),
        )

    async def on_poll(self, outcome: PollOutcome) -> None:
        """Every poll outcome of every bus goes through here, in arrival order."""
        for event in self.engine.handle(outcome):
            await self.publish(event)

    async def publish(self, event: Envelope) -> None:
        if isinstance(event, AlarmEvent):
            log.warning(
                "%s [%s/%s] %s",
                event.transition.value.upper(),
                event.level,
                event.grade,
                event.message,
            )
        await self.queue.put(outbound(event, self.prefix, self.queue.new_order))

    async def run(self) -> None:
        """Run until cancelled."""
        log.info(
            "outpost %s starting for station %s: %d bus(es), %d device(s)",
            __version__,
            self.config.station.station.id,
            len(self.pollers),
            len(self.config.station.devices),
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(supervise("mqtt uplink", self.uplink.run))
            for name, poller in self.pollers.items():
                group.create_task(supervise(f"bus {name}", lambda p=poller: p.run(self.on_poll)))


async def run_gateway(config: LoadedConfig) -> None:
    """Build the gateway inside the running event loop (pymodbus clients need one) and run it."""
    await Gateway(config).run()
