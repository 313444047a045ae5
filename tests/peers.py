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


class Mosquitto:
    """A private Mosquitto on a loopback port, with persistence, that tests can restart."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed: run scripts/install-peers (make test does)")
        self.directory = directory
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.config = directory / "mosquitto.conf"
        (directory / "data").mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {directory / 'data'}/\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"user {getpass.getuser()}\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"mosquitto exited: {output}")
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening")

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
    """Subscribes as the district platform would and remembers everything it receives."""

    url: str
    topic: str
    messages: list[Received] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task | None = None

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready))
        await asyncio.wait_for(ready.wait(), 10)

    async def _run(self, ready: asyncio.Event) -> None:
        host, port = self.url.removeprefix("mqtt://").rsplit(":", 1)
        while True:
            try:
                async with aiomqtt.Client(host, int(port)) as client:
                    await client.subscribe(self.topic, qos=1)
                    ready.set()
                    async for message in client.messages:
                        body = json.loads(message.payload) if message.payload else {}
                        async with self._changed:
                            self.messages.append(
                                Received(str(message.topic), body, message.retain, time.time())
                            )
                            self._changed.notify_all()
            except aiomqtt.MqttError:
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
    directory: Path, *, broker_url: str, modbus_port: int, poll_interval: float = 0.5, devices=None
) -> Path:
    """A station file for tests: the example's kind of devices on one simulated bus."""
    devices = devices or {
        "kitchen-gas": {"unit": 1, "profile": "gas-detector", "location": "Kitchen"},
        "hall-smoke": {"unit": 2, "profile": "smoke-detector", "location": "Hall"},
    }
    config = {
        "station": {"id": "cs-test", "name": "Test Station", "district": "310104"},
        "mqtt": {"brokers": [broker_url], "reconnect_max": "2s"},
        "state_dir": str(directory / "state"),
        "profiles_dir": str(PROFILES),
        "buses": {
            "lan": {
                "type": "modbus-tcp",
                "host": "127.0.0.1",
                "port": modbus_port,
                "timeout": "300ms",
            }
        },
        "devices": {
            name: {"bus": "lan", "poll_interval": poll_interval, **device} for name, device in devices.items()
        },
    }
    path = directory / "station.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class GatewayProcess:
    """``outpost run`` as its own process, exactly as systemd starts it."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
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
        code = self.process.wait(timeout=15)
        self.process = None
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")
