"""A simulated station built from a station configuration.

Starts one Modbus TCP simulator per ``modbus-tcp`` bus, with a simulated unit
per device built from the device's own profile, and returns the same
configuration pointed at those simulators. Used by ``outpost demo``, the tests
and the benchmarks: the gateway runs exactly as in production.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from gateway.config import LoadedConfig
from gateway.config.models import MqttConfig
from simulators.modbus_server import ModbusTcpSimulator
from simulators.modbus_unit import SimulatedUnit


@dataclass
class SimulatedStation:
    config: LoadedConfig
    units: dict[str, SimulatedUnit]
    servers: dict[str, ModbusTcpSimulator]

    def unit(self, device: str) -> SimulatedUnit:
        return self.units[device]


async def start_simulated_station(config: LoadedConfig, stack: AsyncExitStack) -> SimulatedStation:
    """Serve every device of ``config`` on loopback; stopped when ``stack`` closes."""
    units: dict[str, SimulatedUnit] = {}
    servers: dict[str, ModbusTcpSimulator] = {}
    buses = dict(config.station.buses)
    for bus_name, bus in config.station.buses.items():
        bus_units = []
        for name, device in config.station.devices.items():
            if device.bus == bus_name:
                units[name] = SimulatedUnit(device.unit, config.simulated_points(name), name=name)
                bus_units.append(units[name])
        server = await stack.enter_async_context(ModbusTcpSimulator(bus_units))
        servers[bus_name] = server
        buses[bus_name] = bus.model_copy(update={"host": server.host, "port": server.port})
    station = config.station.model_copy(update={"buses": buses})
    return SimulatedStation(replace(config, station=station), units, servers)


def with_broker(config: LoadedConfig, url: str, *, protocol: str, state_dir: Path) -> LoadedConfig:
    """``config`` publishing to ``url`` without credentials, keeping state in ``state_dir``.

    Metrics stay off, so a simulation never competes for a running gateway's port.
    """
    mqtt = MqttConfig(brokers=[url], protocol=protocol, topic_prefix=config.station.mqtt.topic_prefix)
    service = config.station.service.model_copy(update={"metrics_listen": None})
    station = config.station.model_copy(update={"mqtt": mqtt, "state_dir": state_dir, "service": service})
    return replace(config, station=station)
