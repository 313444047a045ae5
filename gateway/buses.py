"""One driver poller per configured bus: where configuration becomes driver objects.

The alarm configuration decides what the drivers read urgently: every point
an enabled alarm rule or a fault report depends on. Everything else is
routine telemetry, read every ``telemetry_interval`` in reads of its own.
"""

from __future__ import annotations

from dataclasses import replace

from drivers.backoff import Backoff
from drivers.modbus.plan import plan_reads
from drivers.modbus.poller import ModbusDevice
from drivers.modbus.registers import ReadPriority, RegisterPoint
from drivers.modbus.tcp import tcp_poller
from drivers.observation import BusPoller
from drivers.serial_port import SerialSettings
from gateway.config import LoadedConfig
from gateway.config.models import Bus, ModbusRtuBus, ModbusTcpBus, SerialLineBus, SerialPortConfig

TELEMETRY_FACTOR = 10  # telemetry_interval defaults to this many poll intervals


def build_poller(config: LoadedConfig, bus_name: str, bus: Bus) -> BusPoller:
    if isinstance(bus, ModbusTcpBus):
        devices = modbus_devices(config, bus_name)
        return tcp_poller(
            host=bus.host, port=bus.port, timeout=bus.timeout, devices=devices, retries=bus.retries
        )
    # Each bus type's driver is imported by a station that has such a bus only.
    if isinstance(bus, ModbusRtuBus):
        from drivers.modbus.rtu import rtu_poller

        return rtu_poller(
            settings=serial_settings(bus),
            timeout=bus.timeout,
            devices=modbus_devices(config, bus_name),
            retries=bus.retries,
            gap=bus.inter_request_gap,
            silent_backoff_max=bus.backoff_max,
            backoff=Backoff(0.5, bus.reconnect_max),
        )
    assert isinstance(bus, SerialLineBus)
    from drivers.serial_line.poller import SerialLinePoller

    [(name, device)] = [(n, d) for n, d in config.station.devices.items() if d.bus == bus_name]
    return SerialLinePoller(
        settings=serial_settings(bus),
        device=name,
        protocol=config.line_profile_of(name).line_protocol(),
        poll_interval=device.poll_interval,
        timeout=bus.timeout,
        backoff=Backoff(0.5, bus.reconnect_max),
    )


def serial_settings(bus: SerialPortConfig) -> SerialSettings:
    return SerialSettings(bus.port, bus.baudrate, bus.data_bits, bus.parity, bus.stop_bits)


def modbus_devices(config: LoadedConfig, bus_name: str, *, coalesce: bool = True) -> list[ModbusDevice]:
    """The devices on ``bus_name`` with their planned reads (``coalesce=False``: one per point)."""
    devices = []
    for name, device in config.station.devices.items():
        if device.bus != bus_name:
            continue
        profile = config.modbus_profile_of(name)
        requests = plan_reads(
            prioritised_points(config, name),
            coalesce=coalesce and profile.coalesce,
            max_gap=profile.max_gap,
            unreadable=profile.unreadable_ranges(),
        )
        telemetry = device.telemetry_interval or TELEMETRY_FACTOR * device.poll_interval
        devices.append(ModbusDevice(name, device.unit, device.poll_interval, tuple(requests), telemetry))
    return devices


def prioritised_points(config: LoadedConfig, device: str) -> list[RegisterPoint]:
    """The device's register points, urgent where an alarm or fault report reads them."""
    urgent = config.alarm_points(device)
    return [
        point if point.name in urgent else replace(point, priority=ReadPriority.ROUTINE)
        for point in config.register_points(device)
    ]
