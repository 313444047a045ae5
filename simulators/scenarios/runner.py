"""A scenario end to end: simulated station, broker, ``outpost run`` as a process, the platform.

The gateway runs exactly as in service (its own process, its own state
directory, killed with SIGKILL for a power cut); the runner only plays the
timeline on the simulators and the peers, and judges what the platform
subscriber receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.commands.auth import read_key
from gateway.config import LoadedConfig
from gateway.contract.decode import decode
from gateway.i18n import Translator
from gateway.operator.cmd import send_command
from gateway.operator.describe import describe
from gateway.operator.mqtt import broker_settings
from simulators.scenarios.expectations import (
    Verdict,
    judge_expected,
    judge_heard,
    judge_never,
    judge_switched,
    note_late_arrivals,
)
from simulators.scenarios.gateway_process import GatewayProcess
from simulators.scenarios.platform import Platform, Received, device_status
from simulators.scenarios.player import Player
from simulators.scenarios.readiness import free_listen, radio_bridges_connected
from simulators.scenarios.scenario import LoadedScenario
from simulators.station.buses import start_simulated_station
from simulators.station.controls import StationControls, bring_to_rest
from simulators.station.gateway_config import gateway_config, merged, write_yaml


@dataclass
class Broker:
    """The broker a scenario runs against; ``stop``/``start`` only if the scenario may cut it."""

    url: str
    protocol: str = "mqtt5"
    stop: Callable[[], Awaitable[None]] | None = None
    start: Callable[[], Awaitable[None]] | None = None


@dataclass
class Report:
    scenario: str
    file: str
    verdicts: list[Verdict] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)
    error: str | None = None
    gateway_log: str = ""

    @property
    def passed(self) -> bool:
        return self.error is None and all(v.ok for v in self.verdicts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "file": self.file,
            "passed": self.passed,
            "error": self.error,
            "results": [v.as_dict() for v in self.verdicts],
            "timeline": self.timeline,
            "gateway_log": self.gateway_log,
        }

    def text(self) -> str:
        lines = [f"scenario: {self.scenario} ({self.file})"]
        lines += [verdict.line() for verdict in self.verdicts]
        if self.error:
            lines.append(f"ERROR  {self.error}")
        lines.append("PASSED" if self.passed else f"FAILED  gateway log: {self.gateway_log}")
        return "\n".join(lines)


class _Peers:
    def __init__(self, broker: Broker, gateway: GatewayProcess, config: LoadedConfig) -> None:
        self.broker = broker
        self.gateway = gateway
        self.config = config

    async def stop_broker(self) -> None:
        assert self.broker.stop is not None
        await self.broker.stop()

    async def start_broker(self) -> None:
        assert self.broker.start is not None
        await self.broker.start()

    async def kill_gateway(self) -> None:
        await self.gateway.stop_async(signal.SIGKILL)

    async def restart_gateway(self) -> None:
        self.gateway.start()

    async def acknowledge(self, alarm: str, by: str) -> str:
        """The platform's signed ``ack`` (unsigned if the station allows it); the gateway's answer."""
        station = self.config.station
        key_file = station.commands.key_file
        answer = await send_command(
            broker_settings(self.broker.url, self.broker.protocol),
            prefix=station.topic_prefix,
            station=station.station.id,
            name="ack",
            args={"alarm_key": f"{station.station.id}.{alarm}", "by": by},
            key=read_key(key_file) if key_file else None,
        )
        return f"ack {alarm}: " + ("done" if answer.ok else f"refused ({answer.error})")


async def run_scenario(
    loaded: LoadedScenario,
    broker: Broker,
    work_dir: Path,
    *,
    announce: Callable[[str], None] = lambda _line: None,
    ready_timeout: float = 60.0,
) -> Report:
    """Play ``loaded`` once and judge it; the report says what passed, what failed and why."""
    scenario = loaded.scenario
    report = Report(scenario.name, str(loaded.path), gateway_log=str(work_dir / "gateway.log"))
    if broker.stop is None and any(step.action == "broker" for step in scenario.steps):
        report.error = "this scenario stops the broker: run it with the embedded broker, not --broker"
        return report
    async with AsyncExitStack() as stack:
        station = await start_simulated_station(loaded.config, stack)
        controls = StationControls(station)
        bring_to_rest(controls)
        for device, points in scenario.initial.items():
            for point, value in points.items():
                controls.set(device, point, value)
        config = gateway_config(
            loaded.station_data,
            loaded.station_file,
            station,
            broker=broker.url,
            protocol=broker.protocol,
            state_dir=work_dir / "state",
        )
        # Metrics off: a scenario never competes with a gateway in service for its port. With
        # radios, a free loopback port: its /healthz says when every bridge is connected.
        radios = station.config.station.radios is not None
        listen = free_listen() if radios else None
        config_file = write_yaml(
            merged(config, {"service": {"metrics_listen": listen}}), work_dir / "gateway.yaml"
        )
        platform = Platform(broker.url, f"{station.config.station.topic_prefix}/#")
        await platform.start(timeout=30)
        stack.push_async_callback(platform.stop)
        gateway = GatewayProcess(config_file, work_dir / "gateway.log")
        gateway.start()
        stack.push_async_callback(_stop, gateway)
        try:
            for device in station.config.station.devices:
                await platform.wait_for(_fresh_ok(device), timeout=ready_timeout)
            if listen is not None:
                await radio_bridges_connected(listen, timeout=ready_timeout)
        except TimeoutError:
            tail = "\n".join(gateway.output().splitlines()[-10:])
            report.error = (
                f"the station was not up within {ready_timeout:g}s (all devices ok, radio bridges "
                f"connected); gateway log:\n{tail}"
            )
            return report
        prefix = station.config.station.topic_prefix
        platform.listeners.append(lambda m: _show(m, prefix, announce))
        player = Player(scenario, controls, _Peers(broker, gateway, station.config), announce=announce)
        await _play_and_judge(player, platform, report)
        report.timeline = [
            f"t={p.at - (player.started_at or p.at):.2f}s {p.step.describe()}" for p in player.played
        ]
    return report


def _fresh_ok(device: str) -> Callable[[Received], bool]:
    """``device`` reported ok by this run: not retained, a broker may still hold an earlier run's."""
    ok = device_status(device, "ok")
    return lambda message: ok(message) and not message.retain


async def _play_and_judge(player: Player, platform: Platform, report: Report) -> None:
    scenario = player.scenario
    async with asyncio.TaskGroup() as group:
        group.create_task(player.play())
        judged = [group.create_task(judge_expected(e, platform, player)) for e in scenario.expect]
        heard = [group.create_task(judge_heard(h, player)) for h in scenario.hear]
        switched = [group.create_task(judge_switched(a, player)) for a in scenario.actuators]
    expected = [task.result() for task in judged]
    await asyncio.sleep(scenario.hold)  # a false alarm or a duplicate may still be on its way
    note_late_arrivals(expected, scenario.expect, platform, player)
    claimed = {v.claimed_id for v in expected if v.claimed_id}
    never = judge_never(scenario.never, platform, player, claimed)
    report.verdicts = expected + [task.result() for task in heard + switched] + never


def _show(message: Received, prefix: str, announce: Callable[[str], None]) -> None:
    """Alarms and device states as the platform receives them, for a person watching a run."""
    if message.topic.endswith("/alarm") or "/device/" in message.topic:
        payload = decode(json.dumps(message.payload).encode())
        where = message.topic.removeprefix(prefix + "/")
        announce(f"          platform <- {describe(where, payload, Translator())}")


async def _stop(gateway: GatewayProcess) -> None:
    with contextlib.suppress(Exception):
        await gateway.stop_async()
