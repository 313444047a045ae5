"""The station's declared actuators (a siren relay, a valve) on its Modbus buses.

Only what the station file declares can be switched, and only to its declared
values: the platform names a value (``on``), never a raw register write.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from drivers.modbus.poller import ModbusPoller, WriteFailed
from drivers.modbus.registers import RegisterType
from drivers.observation import BusPoller
from drivers.shown import shown
from gateway.commands.registry import CommandFailed
from gateway.config import LoadedConfig

log = logging.getLogger(__name__)


class ModbusActuators:
    """Writes an actuator's declared value through the poller of the bus its device is on."""

    def __init__(self, config: LoadedConfig, pollers: Mapping[str, BusPoller]) -> None:
        self._station = config.station
        self._pollers = pollers

    async def set(self, name: str, value: str) -> None:
        """Switch ``name`` to ``value``; raise :class:`CommandFailed` saying why not."""
        actuator = self._station.actuators.get(name)
        if actuator is None:
            known = ", ".join(self._station.actuators) or "none"
            raise CommandFailed(f"no actuator {name!r} (declared: {known})")
        if value not in actuator.values:
            raise CommandFailed(f"{name} accepts only {', '.join(actuator.values)}")
        device = self._station.devices[actuator.device]
        poller = self._pollers[device.bus]
        if not isinstance(poller, ModbusPoller):
            raise CommandFailed(f"{name}: device {actuator.device} is not on a Modbus bus")
        register = RegisterType.COIL if actuator.register_type == "coil" else RegisterType.HOLDING
        try:
            await poller.write(device.unit, register, actuator.address, actuator.values[value])
        except WriteFailed as exc:
            raise CommandFailed(f"{name}: {exc}") from None
        log.warning("actuator %s set to %s", shown(name), shown(value))
