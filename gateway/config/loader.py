"""Load a station file and the profiles it names, check every reference, merge overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from drivers.modbus.registers import RegisterPoint, RegisterType
from gateway.config.environment import check_environment
from gateway.config.errors import ConfigError, ConfigIssue
from gateway.config.intent import bare_durations, misread_booleans
from gateway.config.models import (
    MODBUS_ONLY_KEYS,
    SERIAL_BUSES,
    DeviceConfig,
    SerialLineBus,
    StationConfig,
)
from gateway.config.paths import bundled_config_dir
from gateway.config.profiles import AlarmRule, Profile
from gateway.config.radios import KISS_BRIDGES, KissSerialBridge, LineRadioBridge, LineRadioProtocolConfig
from gateway.config.response_check import check_response
from gateway.config.validation import M, validate
from gateway.config.yaml_source import LineMap, load_yaml

if TYPE_CHECKING:
    from gateway.config.line_profiles import SerialLineProfile

AnyProfile: TypeAlias = "Profile | SerialLineProfile"
PROTOCOLS = ("modbus", "serial-line")  # what a profile's ``protocol`` may say
BUS_PROTOCOL = {"modbus-tcp": "modbus", "modbus-rtu": "modbus", "serial-line": "serial-line"}


@dataclass(frozen=True)
class LoadedConfig:
    """A validated station: its file, its profiles and each device's effective alarm rules."""

    path: Path
    station: StationConfig
    profiles: dict[str, AnyProfile]
    rules: dict[str, dict[str, AlarmRule]]
    radio_protocols: dict[str, LineRadioProtocolConfig] = field(default_factory=dict)  # by bridge
    warnings: list[ConfigIssue] = field(default_factory=list)  # worth a look, not wrong

    def profile_of(self, device: str) -> AnyProfile:
        return self.profiles[self.station.devices[device].profile]

    def modbus_profile_of(self, device: str) -> Profile:
        profile = self.profile_of(device)
        if not isinstance(profile, Profile):
            raise TypeError(f"{device} is not a Modbus device (profile {profile.protocol})")
        return profile

    def line_profile_of(self, device: str) -> SerialLineProfile:
        profile = self.profile_of(device)
        if isinstance(profile, Profile):
            raise TypeError(f"{device} is not a serial-line device (profile {profile.protocol})")
        return profile

    def offline_after(self, device: str) -> int:
        """Consecutive failed polls before ``device`` is offline: its own setting, else its bus's."""
        config = self.station.devices[device]
        if config.offline_after is not None:
            return config.offline_after
        return self.station.buses[config.bus].offline_after

    def register_points(self, device: str) -> list[RegisterPoint]:
        return self.modbus_profile_of(device).register_points()

    def alarm_points(self, device: str) -> set[str]:
        """The points the device's alarms and fault reporting read: they must be read urgently."""
        points = set(self.profile_of(device).faults)
        for rule in self.rules[device].values():
            if rule.enabled:
                points.update(rule.inputs())
        return points

    def simulated_points(self, device: str) -> list[RegisterPoint]:
        """What a simulator of ``device`` serves: its profile's points and its actuators."""
        actuators = [
            RegisterPoint(
                name,
                RegisterType.COIL if actuator.register_type == "coil" else RegisterType.HOLDING,
                actuator.address,
            )
            for name, actuator in self.station.actuators.items()
            if actuator.device == device
        ]
        return self.register_points(device) + actuators

    def summary(self) -> str:
        station = self.station
        points = sum(len(self.profile_of(name).point_names()) for name in station.devices)
        rules = sum(1 for device in self.rules.values() for rule in device.values() if rule.enabled)
        lines = [
            f"station {station.station.id} ({station.station.name}), district {station.station.district}",
            f"{len(station.buses)} bus(es), {len(station.devices)} device(s), "
            f"{points} point(s), {rules} alarm rule(s)",
        ]
        for name, device in station.devices.items():
            where = f"bus {device.bus}"
            if not isinstance(station.buses.get(device.bus), SerialLineBus):
                where += f" unit {device.unit}"
            lines.append(
                f"  {name:<20} {device.profile:<20} {where:<24} "
                f"every {device.poll_interval:g}s  {device.location}"
            )
        for name, zone in station.zones.items():
            lines.append(f"  zone {name}: {zone.confirm} of {', '.join(zone.devices)} -> {zone.grade}")
        if station.radios is not None:
            radios = station.radios
            lines.append(
                f"radios: {len(radios.registry)} registered, {len(radios.groups)} group(s), "
                f"callsign {radios.callsign or '-'}"
            )
            for name, bridge in radios.bridges.items():
                lines.append(f"  radio bridge {name:<14} {bridge.type}")
        return "\n".join(lines)


def load_config(path: Path | str) -> LoadedConfig:
    """Read and check everything; raise :class:`ConfigError` listing every problem found.

    ConfigError is the only exception this raises, whatever the file holds: a
    running gateway reloads its configuration with this, and a bad file must
    leave it running on the configuration it has. Loading is bounded in time
    and memory (see :mod:`gateway.config.yaml_source`).
    """
    path = Path(path)
    try:
        return _load(path)
    except ConfigError:
        raise
    except Exception as exc:  # a loader bug must not take a running gateway down
        message = f"cannot be loaded ({type(exc).__name__}: {exc})"
        raise ConfigError([ConfigIssue(path, 0, "", message)]) from exc


def _load(path: Path) -> LoadedConfig:
    data, lines = load_yaml(path)
    issues: list[ConfigIssue] = []
    warnings: list[ConfigIssue] = []
    station = _validated(StationConfig, data, lines, issues, warnings)
    if station is None:
        raise ConfigError(issues)
    issues.extend(check_environment(station, lines))
    search = _profile_dirs(path, station)
    profiles: dict[str, AnyProfile] = {}
    profile_lines: dict[str, LineMap] = {}
    missing: set[str] = set()
    for name in sorted({device.profile for device in station.devices.values()}):
        file = _find_profile(name, search)
        if file is None:
            missing.add(name)
        elif (found := _load_profile(file, issues, warnings)) is not None:
            profiles[name], profile_lines[name] = found
    for name, profile in profiles.items():
        _check_profile(profile, profile_lines[name], issues)
    _check_actuators(station, lines, issues)
    _check_zones(station, lines, issues)
    _check_serial_ports(station, lines, issues)
    rules: dict[str, dict[str, AlarmRule]] = {}
    for name, device in station.devices.items():
        _check_device(name, device, station, profiles, missing, search, lines, issues)
        if device.profile in profiles:
            rules[name] = _effective_rules(name, device, profiles[device.profile], lines, issues)
    radio_protocols = _check_radios(station, search, lines, issues, warnings)
    issues.extend(check_response(station, lines))
    if issues:
        raise ConfigError(issues)
    return LoadedConfig(path, station, profiles, rules, radio_protocols, warnings)


def _validated(
    model: type[M], data: object, lines: LineMap, issues: list[ConfigIssue], warnings: list[ConfigIssue]
) -> M | None:
    """A whole file validated, and read for what YAML took differently from what was meant."""
    result = validate(model, data, lines, issues)
    if result is not None:
        issues.extend(misread_booleans(result, lines))
        warnings.extend(bare_durations(result, data, lines))
    return result


def _profile_dirs(path: Path, station: StationConfig) -> list[Path]:
    local = station.profiles_dir or Path("profiles")
    return [path.parent / local, bundled_config_dir() / "profiles"]


def _find_profile(name: str, search: list[Path]) -> Path | None:
    return next((d / f"{name}.yaml" for d in search if (d / f"{name}.yaml").is_file()), None)


def _load_profile(
    file: Path, issues: list[ConfigIssue], warnings: list[ConfigIssue]
) -> tuple[AnyProfile, LineMap] | None:
    try:
        data, lines = load_yaml(file)
    except ConfigError as exc:
        issues.extend(exc.issues)
        return None
    protocol = data.get("protocol", "modbus") if isinstance(data, dict) else "modbus"
    if protocol not in PROTOCOLS:
        expected = ", ".join(repr(name) for name in PROTOCOLS)
        message = f"unknown protocol {protocol!r} (expected {expected})"
        issues.append(ConfigIssue(lines.file, lines.line_of(("protocol",))[1], "protocol", message))
        return None
    profile = _validated(_profile_model(protocol), data, lines, issues, warnings)
    return (profile, lines) if profile is not None else None


def _profile_model(protocol: str) -> type[AnyProfile]:
    """The model of a ``protocol``'s profiles; the serial-line one (its parsers, checksums and
    framings) is imported only by a station that has such a profile."""
    if protocol == "modbus":
        return Profile
    from gateway.config.line_profiles import SerialLineProfile

    return SerialLineProfile


def _available_profiles(search: list[Path]) -> list[str]:
    return sorted({file.stem for directory in search for file in directory.glob("*.yaml")})


def _check_profile(profile: AnyProfile, lines: LineMap, issues: list[ConfigIssue]) -> None:
    points = set(profile.points)
    flags = profile.flag_names()

    def issue(path: tuple, message: str) -> None:
        issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(path), message))

    for flag in profile.faults:
        if flag not in flags:
            issue(
                ("faults", flag),
                f"is not a flag of this profile (flags: {', '.join(sorted(flags))})",
            )
    if profile.test_flag is not None and profile.test_flag not in flags:
        issue(("test_flag",), "is not a flag of this profile")
    for name, rule in profile.alarms.items():
        if rule.point is not None and rule.point not in points:
            issue(
                ("alarms", name, "point"),
                f"no point {rule.point!r} (points: {', '.join(sorted(points))})",
            )
        for bit in rule.device_bits:
            if bit not in flags:
                issue(("alarms", name, "device_bits", bit), "is not a flag of this profile")
    for path, message in profile.problems():
        issue(path, message)


def _check_serial_ports(station: StationConfig, lines: LineMap, issues: list[ConfigIssue]) -> None:
    owner: dict[str, str] = {}
    users: list[tuple[tuple[str, ...], str, str]] = [  # (key path, port, whose)
        (("buses", name, "port"), bus.port, f"bus {name}")
        for name, bus in station.buses.items()
        if isinstance(bus, SERIAL_BUSES)
    ]
    for name, bridge in (station.radios.bridges if station.radios else {}).items():
        if isinstance(bridge, KissSerialBridge):
            users.append((("radios", "bridges", name, "port"), bridge.port, f"radio bridge {name}"))
        elif isinstance(bridge, LineRadioBridge) and bridge.serial is not None:
            path = ("radios", "bridges", name, "serial", "port")
            users.append((path, bridge.serial.port, f"radio bridge {name}"))
    for key, port, whose in users:
        if port in owner:
            message = f"port {port} is already {owner[port]}'s"
            issues.append(ConfigIssue(lines.file, lines.line_of(key)[1], ".".join(key), message))
        owner.setdefault(port, whose)


def _check_device(
    name: str,
    device: DeviceConfig,
    station: StationConfig,
    profiles: dict[str, AnyProfile],
    missing: set[str],
    search: list[Path],
    lines: LineMap,
    issues: list[ConfigIssue],
) -> None:
    def issue(key: str, message: str) -> None:
        path = ("devices", name, key)
        issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(path), message))

    bus = station.buses.get(device.bus)
    if bus is None:
        issue("bus", f"no bus {device.bus!r} (buses: {', '.join(station.buses) or 'none'})")
    else:
        for other_name, other in station.devices.items():
            if other_name >= name or other.bus != device.bus:
                continue
            if isinstance(bus, SerialLineBus):
                issue("bus", f"serial-line bus {device.bus} already carries {other_name}")
            elif other.unit == device.unit:
                issue("unit", f"unit {device.unit} on bus {device.bus} is already {other_name}")
    if isinstance(bus, SerialLineBus):
        for key in sorted(set(MODBUS_ONLY_KEYS) & device.model_fields_set):
            issue(key, f"does not apply to a serial-line device (bus {device.bus} is serial-line): remove it")
    if device.profile in missing:
        known = ", ".join(_available_profiles(search)) or "none"
        issue("profile", f"no profile {device.profile!r} (available: {known})")
    if device.profile not in profiles:
        return
    profile = profiles[device.profile]
    if bus is not None and BUS_PROTOCOL[bus.type] != profile.protocol:
        issue(
            "profile",
            f"profile {device.profile} is a {profile.protocol} profile, but bus {device.bus} is {bus.type}",
        )
    elif bus is not None and _streams_faster_than_timeout(bus, profile, device):
        issue(
            "poll_interval",
            f"the sensor sends every {device.poll_interval:g}s, but bus {device.bus} "
            f"calls it silent after {bus.timeout:g}s (timeout): make timeout longer",
        )
    for rule in device.alarms:
        if rule not in profile.alarms:
            known = ", ".join(profile.alarms) or "none"
            issues.append(
                ConfigIssue(
                    lines.file,
                    lines.line_of(("devices", name, "alarms", rule))[1],
                    f"devices.{name}.alarms.{rule}",
                    f"profile {device.profile} has no alarm {rule!r} (alarms: {known})",
                )
            )


def _streams_faster_than_timeout(bus, profile: AnyProfile, device: DeviceConfig) -> bool:
    """A streaming sensor must be given longer than its own period before it counts as silent."""
    return (
        isinstance(bus, SerialLineBus)
        and not isinstance(profile, Profile)
        and profile.mode == "stream"
        and bus.timeout <= device.poll_interval
    )


def _effective_rules(
    name: str,
    device: DeviceConfig,
    profile: AnyProfile,
    lines: LineMap,
    issues: list[ConfigIssue],
) -> dict[str, AlarmRule]:
    rules = dict(profile.alarms)
    for rule_name, override in device.alarms.items():
        if rule_name not in rules:
            continue
        merged = rules[rule_name].model_dump() | override.model_dump(exclude_unset=True)
        position = ("devices", name, "alarms", rule_name)
        rule = validate(AlarmRule, merged, lines, issues, base=position)
        if rule is not None:
            rules[rule_name] = rule
    return rules


def _check_actuators(station: StationConfig, lines: LineMap, issues: list[ConfigIssue]) -> None:
    for name, actuator in station.actuators.items():
        if actuator.device not in station.devices:
            path = ("actuators", name, "device")
            known = ", ".join(station.devices) or "none"
            message = f"no device {actuator.device!r} (devices: {known})"
            issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(path), message))
        elif isinstance(station.buses.get(station.devices[actuator.device].bus), SerialLineBus):
            path = ("actuators", name, "device")
            message = f"{actuator.device!r} is a serial-line sensor; actuators must be Modbus devices"
            issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(path), message))


def _check_zones(station: StationConfig, lines: LineMap, issues: list[ConfigIssue]) -> None:
    for name, zone in station.zones.items():
        for index, device in enumerate(zone.devices):
            if device not in station.devices:
                path = ("zones", name, "devices", index)
                known = ", ".join(station.devices) or "none"
                message = f"no device {device!r} (devices: {known})"
                issues.append(
                    ConfigIssue(lines.file, lines.line_of(path)[1], f"zones.{name}.devices", message)
                )
        if zone.confirm > len(zone.devices):
            where = ("zones", name, "confirm")
            message = f"needs {zone.confirm} detectors but the zone has {len(zone.devices)}"
            issues.append(ConfigIssue(lines.file, lines.line_of(where)[1], ".".join(where), message))


def _check_radios(
    station: StationConfig,
    search: list[Path],
    lines: LineMap,
    issues: list[ConfigIssue],
    warnings: list[ConfigIssue],
) -> dict[str, LineRadioProtocolConfig]:
    """KISS bridges need the gateway's callsign, line bridges a protocol, groups known radios."""
    radios = station.radios
    if radios is None:
        return {}

    def issue(path: tuple, message: str) -> None:
        issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(map(str, path)), message))

    protocols: dict[str, LineRadioProtocolConfig] = {}
    for name, bridge in radios.bridges.items():
        if isinstance(bridge, KISS_BRIDGES) and radios.callsign is None:
            issue(("radios", "callsign"), f"bridge {name} speaks APRS: give the gateway's callsign")
        if not isinstance(bridge, LineRadioBridge):
            continue
        if bridge.protocol is not None:
            protocols[name] = bridge.protocol
            continue
        assert bridge.profile is not None
        file = _find_profile(bridge.profile, search)
        if file is None:
            known = ", ".join(_available_profiles(search)) or "none"
            issue(
                ("radios", "bridges", name, "profile"), f"no profile {bridge.profile!r} (available: {known})"
            )
            continue
        try:
            data, profile_lines = load_yaml(file)
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        protocol = _validated(LineRadioProtocolConfig, data, profile_lines, issues, warnings)
        if protocol is not None:
            protocols[name] = protocol
    registered = {radio.upper() for radio in radios.registry}
    for group, members in radios.groups.items():
        for index, radio in enumerate(members):
            if radio.upper() not in registered:
                issue(("radios", "groups", group, index), f"radio {radio!r} is not in radios.registry")
    return protocols
