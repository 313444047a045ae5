"""The station file a gateway needs to run against a simulated station.

It is the technician's own YAML with only what the simulation changes
replaced: each bus's and radio bridge's host and port (TCP) or pty path (serial),
``profiles_dir`` made absolute so the file can live anywhere, and, when asked
for, the broker and the state directory. ``outpost run`` takes it unedited.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from gateway.config.models import ModbusTcpBus
from gateway.config.radios import KissTcpBridge, LineRadioBridge
from simulators.station.buses import SimulatedStation


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` over ``base``, mapping by mapping (a scalar or a list replaces)."""
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def relocatable(data: dict[str, Any], source: Path) -> dict[str, Any]:
    """``data`` read from ``source``, with its profile directory valid from any other place."""
    local = source.resolve().parent / (data.get("profiles_dir") or "profiles")
    if data.get("profiles_dir") is None and not local.is_dir():
        return data  # only the bundled profiles are used: nothing to point at
    return {**data, "profiles_dir": str(local)}


def pointed_at(data: dict[str, Any], station: SimulatedStation) -> dict[str, Any]:
    """``data`` with every bus's address replaced by its simulator's."""
    buses = copy.deepcopy(data.get("buses") or {})
    for name, bus in station.config.station.buses.items():
        if isinstance(bus, ModbusTcpBus):
            buses[name].update(host=bus.host, port=bus.port)
        else:
            buses[name]["port"] = bus.port
    result = {**data, "buses": buses}
    if station.config.station.radios is not None:
        result["radios"] = _radios_pointed_at(data["radios"], station)
    return result


def _radios_pointed_at(radios: dict[str, Any], station: SimulatedStation) -> dict[str, Any]:
    """The ``radios`` section with every bridge's host and port or serial path replaced."""
    assert station.config.station.radios is not None
    bridges = copy.deepcopy(radios.get("bridges") or {})
    for name, bridge in station.config.station.radios.bridges.items():
        if isinstance(bridge, KissTcpBridge):
            bridges[name].update(host=bridge.host, port=bridge.port)
        elif isinstance(bridge, LineRadioBridge):
            if bridge.tcp is not None:
                bridges[name]["tcp"] = {"host": bridge.tcp.host, "port": bridge.tcp.port}
            else:
                assert bridge.serial is not None
                bridges[name]["serial"] = {**bridges[name]["serial"], "port": bridge.serial.port}
        else:
            bridges[name]["port"] = bridge.port
    return {**radios, "bridges": bridges}


def with_broker(data: dict[str, Any], url: str, protocol: str = "mqtt5") -> dict[str, Any]:
    """``data`` publishing to ``url`` without the station's credentials or TLS files,
    which a local broker does not know; the topic prefix and timings stay."""
    mqtt = {
        key: value
        for key, value in (data.get("mqtt") or {}).items()
        if key not in {"brokers", "username", "password_file", "password_env", "tls", "protocol"}
    }
    return {**data, "mqtt": {"brokers": [url], "protocol": protocol, **mqtt}}


def gateway_config(
    data: dict[str, Any],
    source: Path,
    station: SimulatedStation,
    *,
    broker: str | None = None,
    protocol: str = "mqtt5",
    state_dir: Path | None = None,
) -> dict[str, Any]:
    """Everything above at once: the file ``outpost sim --write-config`` writes."""
    result = pointed_at(relocatable(data, source), station)
    if broker is not None:
        result = with_broker(result, broker, protocol)
    if state_dir is not None:
        result = {**result, "state_dir": str(state_dir.resolve())}
    return result


def write_yaml(data: dict[str, Any], path: Path, *, comment: str = "") -> Path:
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
