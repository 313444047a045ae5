"""A simulated station built from a station configuration.

Starts a simulator for every bus, with a simulated device per configured
device built from the device's own profile, and returns the same
configuration pointed at those simulators: a Modbus TCP server on loopback
for a ``modbus-tcp`` bus; for a ``modbus-rtu`` bus, the units multi-dropped
on a pty line; for a ``serial-line`` bus, the sensor on a pty of its own. The
ptys deliver bytes no faster than the configured baud rate. Radio bridges get
their simulators from :mod:`simulators.station.radio_bridges`. Used by
``outpost demo``, the tests and the benchmarks: the gateway runs exactly as
in production.
"""

from __future__ import annotations

import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from gateway.config import LoadedConfig
from gateway.config.models import ModbusRtuBus, ModbusTcpBus, MqttConfig, MqttProtocol, SerialLineBus
from simulators.devices.modbus_rtu import ModbusRtuSimulator
from simulators.devices.modbus_server import ModbusTcpSimulator
from simulators.devices.modbus_unit import SimulatedUnit
from simulators.devices.serial_sensor import SerialSensorSimulator
from simulators.station.radio_bridges import SimulatedRadios, start_simulated_radios

BusSimulator = ModbusTcpSimulator | ModbusRtuSimulator | SerialSensorSimulator


@dataclass
class SimulatedStation:
    config: LoadedConfig
    units: dict[str, SimulatedUnit | SerialSensorSimulator]
    servers: dict[str, BusSimulator]
    radios: SimulatedRadios | None = None  # with a ``radios`` section: a simulator per bridge

    def unit(self, device: str) -> SimulatedUnit | SerialSensorSimulator:
        return self.units[device]

    def describe(self, bus: str) -> str:
        """Where the gateway finds the simulated bus, for a person watching the demo."""
        server = self.servers[bus]
        if isinstance(server, ModbusTcpSimulator):
            return f"modbus-tcp 127.0.0.1:{server.port}, units {sorted(server.units)}"
        if isinstance(server, ModbusRtuSimulator):
            return f"modbus-rtu on pty {server.port}, units {sorted(server.units)}"
        return f"serial-line on pty {server.port}"


async def start_simulated_station(config: LoadedConfig, stack: AsyncExitStack) -> SimulatedStation:
    """Serve every device of ``config``; stopped (and ptys removed) when ``stack`` closes."""
    ptys = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outpost-sim-")))
    units: dict[str, SimulatedUnit | SerialSensorSimulator] = {}
    servers: dict[str, BusSimulator] = {}
    buses = dict(config.station.buses)
    for bus_name, bus in config.station.buses.items():
        names = [name for name, device in config.station.devices.items() if device.bus == bus_name]
        server: BusSimulator
        if isinstance(bus, SerialLineBus):
            [name] = names
            server = SerialSensorSimulator(
                config.line_profile_of(name).line_protocol(),
                ptys,
                name=name,
                period=config.station.devices[name].poll_interval,
                baudrate=bus.baudrate,
            )
            units[name] = server
        else:
            bus_units = [_modbus_unit(config, name) for name in names]
            units.update(zip(names, bus_units, strict=True))
            if isinstance(bus, ModbusRtuBus):
                server = ModbusRtuSimulator(bus_units, ptys, name=bus_name, baudrate=bus.baudrate)
            else:
                server = ModbusTcpSimulator(bus_units)
        servers[bus_name] = await stack.enter_async_context(server)
        buses[bus_name] = _pointed_at(bus, server)
    update: dict = {"buses": buses}
    radios = None
    if config.station.radios is not None:
        radios, update["radios"] = await start_simulated_radios(
            config.station.radios, config.radio_protocols, ptys, stack
        )
    station = config.station.model_copy(update=update)
    return SimulatedStation(replace(config, station=station), units, servers, radios)


def _modbus_unit(config: LoadedConfig, device: str) -> SimulatedUnit:
    profile = config.modbus_profile_of(device)
    return SimulatedUnit(
        config.station.devices[device].unit,
        config.simulated_points(device),
        name=device,
        unreadable=profile.unreadable_ranges(),
    )


def _pointed_at(bus, server: BusSimulator):
    if isinstance(bus, ModbusTcpBus):
        assert isinstance(server, ModbusTcpSimulator)
        return bus.model_copy(update={"host": server.host, "port": server.port})
    return bus.model_copy(update={"port": server.port})


def with_broker(config: LoadedConfig, url: str, *, protocol: MqttProtocol, state_dir: Path) -> LoadedConfig:
    """``config`` publishing to ``url`` without credentials, keeping state in ``state_dir``.

    Metrics stay off, so a simulation never competes for a running gateway's port.
    """
    mqtt = MqttConfig(brokers=[url], protocol=protocol, topic_prefix=config.station.mqtt.topic_prefix)
    service = config.station.service.model_copy(update={"metrics_listen": None})
    station = config.station.model_copy(update={"mqtt": mqtt, "state_dir": state_dir, "service": service})
    return replace(config, station=station)
