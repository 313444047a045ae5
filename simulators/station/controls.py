"""What a tester can do to a running simulated station, by name.

The control endpoint (``outpost sim set/fault/unplug/replug``) and the
scenario player both act through :class:`StationControls`, and a scenario is
checked with the same :func:`problems` before anything starts, so a typo in a
device or point name is an error at load time rather than a silent no-op in
the middle of a run. Radios are pressed (``press``) and send texts
(``message``) through the same object, which also says what the gateway did
to the station: the actuators' coils and registers on the simulated units, and
what the handhelds received.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum

from drivers.radio import aprs
from gateway.config import LoadedConfig
from gateway.config.models import ModbusRtuBus, SerialLineBus
from simulators.devices.modbus_unit import SimulatedUnit
from simulators.radios.aprs_radio import Heard
from simulators.station.buses import SimulatedStation
from simulators.station.radio_bridges import RadioError, accounts, handheld_calls


class Fault(StrEnum):
    """How a simulated device can misbehave (``normal`` ends any of them)."""

    SILENT = "silent"
    BAD_CHECKSUM = "bad-checksum"
    NOISE = "noise"
    EXCEPTION = "exception"
    WRONG_LENGTH = "wrong-length"
    NORMAL = "normal"


# What each bus type can simulate: a TCP frame has no checksum to break, a serial
# sensor has no Modbus exception to answer with.
_FAULTS_BY_BUS = {
    "modbus-tcp": {Fault.SILENT, Fault.EXCEPTION, Fault.NORMAL},
    "modbus-rtu": set(Fault),
    "serial-line": {Fault.SILENT, Fault.BAD_CHECKSUM, Fault.NOISE, Fault.NORMAL},
}


class ControlError(ValueError):
    """A request the simulated station cannot carry out; the message says why."""


def device_problem(config: LoadedConfig, device: str, point: str | None = None) -> str | None:
    """Why ``device`` (and its ``point``) cannot be set, or None."""
    devices = config.station.devices
    if device not in devices:
        return f"no device {device!r} (devices: {', '.join(devices)})"
    if point is None:
        return None
    points = _point_names(config, device)
    if point not in points:
        return f"{device} has no point {point!r} (points: {', '.join(sorted(points))})"
    return None


def fault_problem(config: LoadedConfig, device: str, fault: Fault) -> str | None:
    """Why ``device`` cannot be made to misbehave as ``fault``, or None."""
    if problem := device_problem(config, device):
        return problem
    bus_type = config.station.buses[config.station.devices[device].bus].type
    if fault not in _FAULTS_BY_BUS[bus_type]:
        possible = ", ".join(f for f in Fault if f in _FAULTS_BY_BUS[bus_type])
        return f"{device} is on a {bus_type} bus: {fault} cannot be simulated there (possible: {possible})"
    return None


def bus_problem(config: LoadedConfig, bus: str) -> str | None:
    """Why ``bus`` cannot be unplugged, or None: only a serial adapter can be pulled."""
    buses = config.station.buses
    if bus not in buses:
        return f"no bus {bus!r} (buses: {', '.join(buses)})"
    if not isinstance(buses[bus], ModbusRtuBus | SerialLineBus):
        return f"bus {bus} is {buses[bus].type}: only serial buses (a USB adapter) can be unplugged"
    return None


def radio_problem(config: LoadedConfig, radio: str, *, text: bool = False) -> str | None:
    """Why ``radio`` cannot be pressed (or, with ``text``, send a message), or None.

    Handhelds are the registry's callsigns (on the KISS bridges), pendants its other
    ids (on the line-radio bridges); a pendant sends no text.
    """
    radios = config.station.radios
    if radios is None:
        return "this station has no radios section"
    kiss = any(b.type in ("kiss-tcp", "kiss-serial") for b in radios.bridges.values())
    line = any(b.type == "line-radio" for b in radios.bridges.values())
    handhelds = handheld_calls(radios) if kiss else []
    pendants = accounts(radios) if line and not text else []
    if radio.upper() not in handhelds + pendants:
        known = ", ".join(handhelds + pendants) or "none"
        what = "handheld that sends texts" if text else "simulated radio"
        return f"no {what} {radio!r} (radios: {known})"
    return None


def actuator_problem(config: LoadedConfig, actuator: str, value: str) -> str | None:
    """Why ``actuator`` cannot be expected at ``value``, or None."""
    declared = config.station.actuators
    if actuator not in declared:
        return f"no actuator {actuator!r} (declared: {', '.join(declared) or 'none'})"
    if value not in declared[actuator].values:
        return f"{actuator} has no value {value!r} (values: {', '.join(declared[actuator].values)})"
    return None


def _point_names(config: LoadedConfig, device: str) -> set[str]:
    names = config.profile_of(device).point_names()
    return names | {name for name, a in config.station.actuators.items() if a.device == device}


class StationControls:
    """Acts on the simulators of a running :class:`SimulatedStation`; raises :class:`ControlError`."""

    def __init__(self, station: SimulatedStation) -> None:
        self.station = station
        self.config = station.config

    def set(self, device: str, point: str, value: float | bool) -> None:
        """The next read of ``device``'s ``point`` returns ``value`` (engineering units)."""
        self._check(device_problem(self.config, device, point))
        self.station.unit(device).set(point, value)

    def get(self, device: str, point: str) -> float | bool:
        self._check(device_problem(self.config, device, point))
        return self.station.unit(device).get(point)

    def fault(self, device: str, fault: Fault | str) -> None:
        try:
            fault = Fault(fault)
        except ValueError:
            raise ControlError(f"no fault {fault!r} (faults: {', '.join(Fault)})") from None
        self._check(fault_problem(self.config, device, fault))
        unit = self.station.unit(device)
        if fault is Fault.EXCEPTION:
            assert isinstance(unit, SimulatedUnit)
            unit.answer_with_exception()
        elif fault is Fault.WRONG_LENGTH:
            assert isinstance(unit, SimulatedUnit)
            unit.answer_with_wrong_length()
        else:
            {
                Fault.SILENT: unit.go_silent,
                Fault.BAD_CHECKSUM: unit.answer_with_bad_checksum,
                Fault.NOISE: unit.answer_with_noise,
                Fault.NORMAL: unit.answer_normally,
            }[fault]()

    async def unplug(self, bus: str) -> None:
        """Pull the bus's USB adapter: its port disappears for the gateway."""
        await self._serial(bus).unplug()

    async def replug(self, bus: str) -> None:
        await self._serial(bus).replug()

    async def press(self, radio: str, *, mic_e: bool = False) -> str:
        """``radio``'s emergency key: what it sends depends on the radio (see SimulatedRadios)."""
        self._check(radio_problem(self.config, radio))
        assert self.station.radios is not None
        try:
            return await self.station.radios.press(radio, mic_e=mic_e)
        except RadioError as exc:
            raise ControlError(str(exc)) from None

    async def message(self, radio: str, text: str) -> str:
        self._check(radio_problem(self.config, radio, text=True))
        assert self.station.radios is not None
        return await self.station.radios.message(radio, text)

    def actuators(self) -> dict[str, str]:
        """Each declared actuator as the gateway last wrote it on its simulated unit, by the value
        the station file names (``on``), or the raw number when no declared value matches."""
        states = {}
        for name, actuator in self.config.station.actuators.items():
            raw = self.station.unit(actuator.device).get(name)
            states[name] = next((value for value, word in actuator.values.items() if word == raw), str(raw))
        return states

    def handhelds(self) -> dict[str, list[dict[str, str]]]:
        """Each simulated handheld's received messages (to it, or bulletins), oldest first."""
        radios = self.station.radios
        if radios is None:
            return {}
        return {call: [_message(heard) for heard in radios.received(call)] for call in radios.handhelds()}

    def _serial(self, bus: str):
        self._check(bus_problem(self.config, bus))
        return self.station.servers[bus]

    @staticmethod
    def _check(problem: str | None) -> None:
        if problem is not None:
            raise ControlError(problem)


def _message(heard: Heard) -> dict[str, str]:
    """A received message as a tester reads it: when (wall clock), from whom, the text."""
    assert isinstance(heard.packet, aprs.AprsMessage)  # what SimulatedRadios.received keeps
    at = datetime.fromtimestamp(time.time() - (time.monotonic() - heard.at), UTC)
    return {
        "at": at.isoformat(timespec="seconds"),
        "from": str(heard.frame.source),
        "text": heard.packet.text,
    }


def resting_values(config: LoadedConfig) -> dict[str, dict[str, float]]:
    """Per device, values that raise nothing: a point with a ``low`` ladder (oxygen) is set
    between its highest low rung and its lowest high rung, instead of the simulator's 0.

    A station simulated "at rest" must be quiet, or every run starts with false alarms.
    """
    values: dict[str, dict[str, float]] = {}
    for device, rules in config.rules.items():
        for rule in rules.values():
            if not (rule.enabled and rule.low and rule.point):
                continue
            low = max(rung.at for rung in rule.low) + rule.deadband
            high = min((rung.at for rung in rule.high), default=low * 1.2 + 1)
            values.setdefault(device, {})[rule.point] = round((low + high) / 2, 3)
    return values


def bring_to_rest(controls: StationControls) -> None:
    for device, points in resting_values(controls.config).items():
        for point, value in points.items():
            controls.set(device, point, value)
