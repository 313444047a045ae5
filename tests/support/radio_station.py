"""A radio-only station for tests: the gateway process with a ``radios`` section, and signed commands."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from pathlib import Path

import yaml

from simulators.scenarios.readiness import radio_bridges_connected as bridges_connected
from tests.support.peers import GatewayProcess, Platform, free_port, outpost

KEY = "6f7574706f73742d746573742d6b6579"
PREFIX = "outpost/v1/cs-test"


def write_radio_station(
    directory: Path, broker_url: str, radios: dict, listen: str, extra: dict | None = None
) -> Path:
    key_file = directory / "command.key"
    key_file.write_text(KEY + "\n")
    config = {
        "station": {"id": "cs-test", "name": "Test Station", "district": "310104"},
        "mqtt": {"brokers": [broker_url], "reconnect_max": "2s"},
        "state_dir": str(directory / "state"),
        "service": {"metrics_listen": listen, "stall_after": "10s"},
        "commands": {"key_file": str(key_file)},
        "radios": radios,
        **(extra or {}),
    }
    path = directory / "station.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


@contextlib.asynccontextmanager
async def radio_gateway(
    directory: Path, broker_url: str, radios: dict, platform: Platform, extra: dict | None = None
):
    """``outpost run`` with ``radios`` (and ``extra`` top-level sections); yields once it is online."""
    listen = f"127.0.0.1:{free_port()}"
    path = write_radio_station(directory, broker_url, radios, listen, extra)
    gateway = GatewayProcess(path, directory / "gateway.log")
    gateway.start()
    try:
        await online(gateway, platform)
        yield gateway
    finally:
        gateway.stop()


async def online(gateway: GatewayProcess, platform: Platform, after: int = 0) -> None:
    """Until the gateway is online at the platform (since message ``after``) and its bridges are up."""
    await platform.wait_for(
        lambda m: m.topic == f"{PREFIX}/status" and m.payload.get("state") == "online", 30, after=after
    )
    await bridges_connected(yaml.safe_load(gateway.config.read_text())["service"]["metrics_listen"])


async def command(config: Path, name: str, *args: str) -> dict:
    result = await asyncio.to_thread(outpost, "cmd", "--config", str(config), name, *args, timeout=240)
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def radio_alarm(radio: str, transition: str | None = None):
    def predicate(message) -> bool:
        body = message.payload
        return (
            message.topic == f"{PREFIX}/alarm"
            and body.get("kind") == "radio_sos"
            and (body.get("radio") or {}).get("radio") == radio
            and (transition is None or body.get("transition") == transition)
        )

    return predicate


def health_url(config: Path) -> str:
    """The gateway's ``/healthz``, at the address its station file gives."""
    return f"http://{yaml.safe_load(config.read_text())['service']['metrics_listen']}/healthz"


def scrape(config: Path) -> str:
    """The gateway's ``/metrics``, at the address its station file gives (call it in a thread)."""
    listen = yaml.safe_load(config.read_text())["service"]["metrics_listen"]
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as response:
        return response.read().decode()
