"""Real peers for the tests: a Mosquitto broker, a platform subscriber, the gateway process."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import yaml

REPO = Path(__file__).resolve().parent.parent
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
        import urllib.request

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


@dataclass
class Received:
    topic: str
    payload: dict
    retain: bool
    at: float  # time.time() when it arrived


@dataclass
class Platform:
    """Subscribes as the district platform would and remembers everything it receives.

    Its session is persistent (QoS 1, clean session off), so what is published
    while it reconnects after a broker restart still reaches it.
    """

    url: str
    topic: str
    tls: tuple[Path, Path, Path] | None = None  # ca, client cert, client key
    messages: list[Received] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task | None = None

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready))
        await asyncio.wait_for(ready.wait(), 10)

    async def _run(self, ready: asyncio.Event) -> None:
        host, port = self.url.split("://", 1)[1].rsplit(":", 1)
        tls = None
        if self.tls:
            ca, cert, key = self.tls
            tls = aiomqtt.TLSParameters(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        identifier = f"platform-{free_port()}"
        while True:
            try:
                async with aiomqtt.Client(
                    host, int(port), identifier=identifier, clean_session=False, tls_params=tls
                ) as client:
                    await client.subscribe(self.topic, qos=1)
                    ready.set()
                    async for message in client.messages:
                        try:
                            body = json.loads(message.payload) if message.payload else {}
                        except ValueError:  # not JSON (e.g. garbage a test sends to a command topic)
                            body = {"raw": bytes(message.payload).hex()}
                        if not isinstance(body, dict):
                            body = {"raw": body}
                        async with self._changed:
                            self.messages.append(
                                Received(str(message.topic), body, message.retain, time.time())
                            )
                            self._changed.notify_all()
            except aiomqtt.MqttError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None
                await asyncio.sleep(0.2)  # broker restarting in a test: resubscribe

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float = 10.0, after: int = 0
    ) -> Received:
        """The first message (from index ``after``) matching ``predicate``."""

        def found() -> Received | None:
            return next((m for m in self.messages[after:] if predicate(m)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(found), timeout)
        result = found()
        assert result is not None
        return result

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        return [m for m in self.messages if predicate(m)]


def alarm(key_suffix: str, transition: str | None = None) -> Callable[[Received], bool]:
    def predicate(message: Received) -> bool:
        body = message.payload
        return (
            message.topic.endswith("/alarm")
            and body.get("alarm_key", "").endswith(key_suffix)
            and (transition is None or body.get("transition") == transition)
        )

    return predicate


def write_station(
    directory: Path,
    *,
    broker_url: str,
    modbus_port: int,
    poll_interval: float = 0.5,
    devices=None,
    extra: dict | None = None,
    bus_timeout: str = "300ms",
) -> Path:
    """A station file for tests: the example's kind of devices on one simulated bus.

    ``extra`` top-level sections are merged over the defaults (``mqtt`` key by key).
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
        "buses": {
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


class GatewayProcess:
    """``outpost run`` as its own process, exactly as systemd starts it."""

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log = log
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    def start(self, *options: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    "run",
                    str(self.config),
                    "--log-level",
                    "INFO",
                    *options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()  # never leak a gateway; the test still fails below
            self.process.wait()
            raise
        finally:
            self.process = None
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class StationUnderTest:
    units: dict
    gateway: GatewayProcess
    config_path: Path
    state_dir: Path


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
    from simulators.modbus_server import ModbusTcpSimulator
    from simulators.modbus_unit import SimulatedUnit

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
