"""Real peers for the tests: a Mosquitto broker, a platform subscriber, the gateway process.

The platform subscriber and the gateway process are the ones ``outpost sim scenario`` uses
(:mod:`simulators.station`); they are re-exported here for the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from simulators.scenarios.gateway_process import GatewayProcess
from simulators.scenarios.platform import Platform, Received, alarm, device_status

__all__ = ["GatewayProcess", "Platform", "Received", "alarm", "device_status"]

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "config" / "profiles"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def outpost(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the ``outpost`` command line to completion, as a person would."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


class VictoriaMetrics:
    """A real time-series server that accepts InfluxDB writes and answers queries (Debian package)."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("victoria-metrics") is None:
            raise RuntimeError(
                "victoria-metrics is not installed: run scripts/install-peers (make test does)"
            )
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = directory / "victoria-metrics.log"
        self._data = directory / "data"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self._log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    "victoria-metrics",
                    f"-storageDataPath={self._data}",
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    "-search.latencyOffset=0s",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self.port, self.process)

    def export(self, metric: str) -> list[dict]:
        """Every series of ``metric``, as VictoriaMetrics exports them (JSON lines)."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=5).read()
        query = f"{self.url}/api/v1/export?match[]={metric}"
        body = urllib.request.urlopen(query, timeout=5).read().decode()
        return [json.loads(line) for line in body.splitlines() if line]

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Wait until ``process`` accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        time.sleep(0.02)
    raise RuntimeError(f"{process.args[0]} did not start listening on {port}")


class Mosquitto:
    """A private Mosquitto on a loopback port, with persistence, that tests can restart.

    ``password_file`` turns anonymous access off; ``tls`` (ca, cert, key paths)
    makes the listener TLS with client certificates required (mutual TLS);
    ``options`` are further lines of mosquitto.conf (e.g. ``max_queued_messages 100000``).
    """

    def __init__(
        self,
        directory: Path,
        *,
        password_file: Path | None = None,
        tls: tuple[Path, Path, Path] | None = None,
        options: tuple[str, ...] = (),
    ) -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed: run scripts/install-peers (make test does)")
        self.directory = directory
        self.port = free_port()
        self.url = f"{'mqtts' if tls else 'mqtt'}://127.0.0.1:{self.port}"
        self.config = directory / "mosquitto.conf"
        (directory / "data").mkdir(parents=True, exist_ok=True)
        lines = [
            f"persistence true\npersistence_location {directory / 'data'}/",
            f"log_dest file {directory / 'mosquitto.log'}\nlog_type all",
            f"user {getpass.getuser()}",
            f"listener {self.port} 127.0.0.1",
        ]
        if tls:
            ca, cert, key = tls
            lines.append(f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate true")
        if password_file:
            lines.append(f"allow_anonymous false\npassword_file {password_file}")
        else:
            lines.append("allow_anonymous true")
        lines.extend(options)
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None
        self.log_file = directory / "mosquitto.log"

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for_port(self.port, self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.log}") from None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def write_station(
    directory: Path,
    *,
    broker_url: str,
    modbus_port: int,
    poll_interval: float = 0.5,
    devices=None,
    extra: dict | None = None,
    bus_timeout: str = "300ms",
    buses: dict | None = None,
) -> Path:
    """A station file for tests: the example's kind of devices on one simulated bus.

    ``extra`` top-level sections are merged over the defaults (``mqtt`` key by key).
    ``buses`` replaces the one bus (``lan`` on ``modbus_port``); devices then name theirs.
    """
    devices = devices or {
        "kitchen-gas": {"unit": 1, "profile": "gas-detector", "location": "Kitchen"},
        "hall-smoke": {"unit": 2, "profile": "smoke-detector", "location": "Hall"},
    }
    config = {
        "station": {"id": "cs-test", "name": "Test Station", "district": "310104"},
        "mqtt": {"brokers": [broker_url], "reconnect_max": "2s"},
        "state_dir": str(directory / "state"),
        "service": {"metrics_listen": f"127.0.0.1:{free_port()}", "stall_after": "10s"},
        "profiles_dir": str(PROFILES),
        "buses": buses
        or {
            "lan": {
                "type": "modbus-tcp",
                "host": "127.0.0.1",
                "port": modbus_port,
                "timeout": bus_timeout,
            }
        },
        "devices": {
            name: {"bus": "lan", "poll_interval": poll_interval, **device} for name, device in devices.items()
        },
    }
    for section, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(config.get(section), dict):
            config[section] = {**config[section], **value}
        else:
            config[section] = value
    path = directory / "station.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class StationUnderTest:
    units: dict
    gateway: GatewayProcess
    config_path: Path
    state_dir: Path

    async def health_where(self, predicate: Callable[[dict], bool], timeout: float = 20.0) -> dict:
        """The gateway's first ``/healthz`` report for which ``predicate`` holds."""
        listen = yaml.safe_load(self.config_path.read_text())["service"]["metrics_listen"]
        return await wait_for_health(f"http://{listen}/healthz", predicate, timeout)


def gas_detectors(count: int) -> dict[str, dict]:
    return {
        f"gas-{i:02d}": {"unit": i + 1, "profile": "gas-detector", "location": f"room {i}"}
        for i in range(count)
    }


@contextlib.asynccontextmanager
async def running_station(
    directory: Path,
    broker_url: str,
    *,
    devices: dict | None = None,
    extra: dict | None = None,
    poll_interval: float = 0.5,
    bus_timeout: str = "300ms",
    env: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
):
    """Simulated devices on a Modbus TCP simulator, and ``outpost run`` polling them."""
    from gateway.config import load_config
    from simulators.devices.modbus_server import ModbusTcpSimulator
    from simulators.devices.modbus_unit import SimulatedUnit

    settings = {
        "broker_url": broker_url,
        "devices": devices,
        "extra": extra,
        "poll_interval": poll_interval,
        "bus_timeout": bus_timeout,
    }
    # The simulator's port is known only once it listens; the units come from the config first.
    config = load_config(write_station(directory, modbus_port=1, **settings))
    units = {
        name: SimulatedUnit(device.unit, config.simulated_points(name), name=name)
        for name, device in config.station.devices.items()
    }
    for unit in units.values():
        if "gas" in unit.points:
            unit.set("gas", 2.0)
    async with ModbusTcpSimulator(units.values()) as server:
        config_path = write_station(directory, modbus_port=server.port, **settings)
        gateway = GatewayProcess(config_path, directory / "gateway.log", env)
        gateway.start(*options)
        try:
            yield StationUnderTest(units, gateway, config_path, directory / "state")
        finally:
            gateway.stop()


def mqtt_connected(health: dict) -> bool:
    """The gateway has its MQTT session (a ``/healthz`` predicate)."""
    return health["mqtt"]["connected"]


def read_health(url: str) -> dict:
    """The gateway's health report, healthy (200) or not (503)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as unhealthy:
        return json.load(unhealthy)


async def wait_for_health(url: str, predicate: Callable[[dict], bool], timeout: float = 20.0) -> dict:
    """Poll the health endpoint at ``url`` (it has no push) until ``predicate`` holds; that report."""
    deadline = time.monotonic() + timeout
    health: dict = {}
    while True:
        with contextlib.suppress(OSError, ValueError):  # not listening yet
            health = await asyncio.to_thread(read_health, url)
            if predicate(health):
                return health
        if time.monotonic() > deadline:
            raise TimeoutError(f"no health report as awaited within {timeout:g}s; the last:\n{health}")
        await asyncio.sleep(0.05)


async def wait_for_log(read: Callable[[], str], text: str, count: int = 1, timeout: float = 20.0) -> str:
    """Wait until ``text`` appears ``count`` times in a log; return the log."""
    deadline = time.monotonic() + timeout
    while True:
        log = read()
        if log.count(text) >= count:
            return log
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} appeared {log.count(text)} of {count} times:\n{log[-3000:]}")
        await asyncio.sleep(0.05)
