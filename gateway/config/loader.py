"""Load a station file and the profiles it names, check every reference, merge overrides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drivers.modbus.registers import RegisterPoint, RegisterType
from gateway.config.errors import ConfigError, ConfigIssue
from gateway.config.models import DeviceConfig, StationConfig
from gateway.config.profiles import AlarmRule, Profile
from gateway.config.validation import validate
from gateway.config.yaml_source import LineMap, load_yaml
from gateway.paths import bundled_config_dir


@dataclass(frozen=True)
class LoadedConfig:
    """A validated station: its file, its profiles and each device's effective alarm rules."""

    path: Path
    station: StationConfig
    profiles: dict[str, Profile]
    rules: dict[str, dict[str, AlarmRule]]

    def profile_of(self, device: str) -> Profile:
        return self.profiles[self.station.devices[device].profile]

    def register_points(self, device: str) -> list[RegisterPoint]:
        return self.profile_of(device).register_points()

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
        points = sum(len(self.register_points(name)) for name in station.devices)
        rules = sum(1 for device in self.rules.values() for rule in device.values() if rule.enabled)
        lines = [
            f"station {station.station.id} ({station.station.name}), district {station.station.district}",
            f"{len(station.buses)} bus(es), {len(station.devices)} device(s), "
            f"{points} point(s), {rules} alarm rule(s)",
        ]
        for name, device in station.devices.items():
            lines.append(
                f"  {name:<20} {device.profile:<18} bus {device.bus} unit {device.unit:<3} "
                f"every {device.poll_interval:g}s  {device.location}"
            )
        for name, zone in station.zones.items():
            lines.append(f"  zone {name}: {zone.confirm} of {', '.join(zone.devices)} -> {zone.grade}")
        return "\n".join(lines)


def load_config(path: Path | str) -> LoadedConfig:
    """Read and check everything; raise :class:`ConfigError` listing every problem found."""
    path = Path(path)
    data, lines = load_yaml(path)
    issues: list[ConfigIssue] = []
    station = validate(StationConfig, data, lines, issues)
    if station is None:
        raise ConfigError(issues)
    search = _profile_dirs(path, station)
    profiles: dict[str, Profile] = {}
    profile_lines: dict[str, LineMap] = {}
    missing: set[str] = set()
    for name in sorted({device.profile for device in station.devices.values()}):
        file = _find_profile(name, search)
        if file is None:
            missing.add(name)
        elif (found := _load_profile(file, issues)) is not None:
            profiles[name], profile_lines[name] = found
    for name, profile in profiles.items():
        _check_profile(profile, profile_lines[name], issues)
    _check_actuators(station, lines, issues)
    _check_zones(station, lines, issues)
    rules: dict[str, dict[str, AlarmRule]] = {}
    for name, device in station.devices.items():
        _check_device(name, device, station, profiles, missing, search, lines, issues)
        if device.profile in profiles:
            rules[name] = _effective_rules(name, device, profiles[device.profile], lines, issues)
    if issues:
        raise ConfigError(issues)
    return LoadedConfig(path, station, profiles, rules)


def _profile_dirs(path: Path, station: StationConfig) -> list[Path]:
    local = station.profiles_dir or Path("profiles")
    return [path.parent / local, bundled_config_dir() / "profiles"]


def _find_profile(name: str, search: list[Path]) -> Path | None:
    return next((d / f"{name}.yaml" for d in search if (d / f"{name}.yaml").is_file()), None)


def _load_profile(file: Path, issues: list[ConfigIssue]) -> tuple[Profile, LineMap] | None:
    try:
        data, lines = load_yaml(file)
    except ConfigError as exc:
        issues.extend(exc.issues)
        return None
    profile = validate(Profile, data, lines, issues)
    return (profile, lines) if profile is not None else None


def _available_profiles(search: list[Path]) -> list[str]:
    return sorted({file.stem for directory in search for file in directory.glob("*.yaml")})


def _check_profile(profile: Profile, lines: LineMap, issues: list[ConfigIssue]) -> None:
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


def _check_device(
    name: str,
    device: DeviceConfig,
    station: StationConfig,
    profiles: dict[str, Profile],
    missing: set[str],
    search: list[Path],
    lines: LineMap,
    issues: list[ConfigIssue],
) -> None:
    def issue(key: str, message: str) -> None:
        path = ("devices", name, key)
        issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(path), message))

    if device.bus not in station.buses:
        issue("bus", f"no bus {device.bus!r} (buses: {', '.join(station.buses) or 'none'})")
    else:
        for other_name, other in station.devices.items():
            if other_name < name and other.bus == device.bus and other.unit == device.unit:
                issue("unit", f"unit {device.unit} on bus {device.bus} is already {other_name}")
    if device.profile in missing:
        known = ", ".join(_available_profiles(search)) or "none"
        issue("profile", f"no profile {device.profile!r} (available: {known})")
    if device.profile not in profiles:
        return
    for rule in device.alarms:
        if rule not in profiles[device.profile].alarms:
            known = ", ".join(profiles[device.profile].alarms) or "none"
            issues.append(
                ConfigIssue(
                    lines.file,
                    lines.line_of(("devices", name, "alarms", rule))[1],
                    f"devices.{name}.alarms.{rule}",
                    f"profile {device.profile} has no alarm {rule!r} (alarms: {known})",
                )
            )


def _effective_rules(
    name: str,
    device: DeviceConfig,
    profile: Profile,
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
            path = ("zones", name, "confirm")
            message = f"needs {zone.confirm} detectors but the zone has {len(zone.devices)}"
            issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(path), message))
