"""Plays a scenario's timeline against a simulated station and its peers.

Steps run at their ``at`` (seconds after :meth:`Player.play` starts); a ramp
or noise runs on in the background while later steps happen. Each step's
wall-clock time is recorded and announced through an event, so an
expectation measures its latency from the step that should cause it, and can
wait for that step instead of polling.

Noise is drawn from ``random.Random`` seeded with the scenario's seed and the
step's index: every run plays the same values.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from simulators.scenarios.scenario import NoiseAction, RampAction, Scenario, Step
from simulators.station.controls import StationControls


class Peers(Protocol):
    """What a step can do beyond the station: the broker, the gateway process, the platform."""

    async def stop_broker(self) -> None: ...
    async def start_broker(self) -> None: ...
    async def kill_gateway(self) -> None: ...
    async def restart_gateway(self) -> None: ...
    async def acknowledge(self, alarm: str, by: str) -> str: ...


@dataclass
class Played:
    index: int
    step: Step
    at: float  # time.time() when it was carried out


@dataclass
class Player:
    scenario: Scenario
    controls: StationControls
    peers: Peers
    announce: Callable[[str], None] = lambda _line: None
    played: list[Played] = field(default_factory=list)
    started_at: float | None = None
    _started: asyncio.Event = field(default_factory=asyncio.Event)
    _done: dict[str, asyncio.Event] = field(default_factory=dict)

    async def play(self) -> None:
        """Every step at its time; returns when the last one (and every ramp and noise) is over."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.started_at = time.time()
        self._started.set()
        order = sorted(enumerate(self.scenario.steps), key=lambda item: item[1].at)
        async with asyncio.TaskGroup() as background:
            for index, step in order:
                await asyncio.sleep(max(0.0, start + step.at - loop.time()))
                await self._carry_out(index, step, background)

    async def when(self, name: str | None) -> float:
        """Wait until the step ``name`` (None: the start) has happened; its wall-clock time."""
        if name is None:
            await self._started.wait()
            assert self.started_at is not None
            return self.started_at
        await self._event(name).wait()
        return next(p.at for p in self.played if p.step.name == name)

    def _event(self, name: str) -> asyncio.Event:
        return self._done.setdefault(name, asyncio.Event())

    async def _carry_out(self, index: int, step: Step, background: asyncio.TaskGroup) -> None:
        at = time.time()
        assert self.started_at is not None
        self.announce(f"t={at - self.started_at:6.2f}s  {step.describe()}")
        action = getattr(step, step.action)
        controls = self.controls
        match step.action:
            case "set":
                controls.set(action.device, action.point, action.value)
            case "ramp":
                background.create_task(self._ramp(action))
            case "noise":
                background.create_task(self._noise(action, random.Random(f"{self.scenario.seed}:{index}")))
            case "fault":
                controls.fault(action.device, action.fault)
            case "unplug":
                await controls.unplug(action)
            case "replug":
                await controls.replug(action)
            case "broker":
                await (self.peers.stop_broker() if action == "stop" else self.peers.start_broker())
            case "gateway":
                await (self.peers.kill_gateway() if action == "kill" else self.peers.restart_gateway())
            case "press":
                self.announce(f"          {await controls.press(action)}")
            case "message":
                await controls.message(action.radio, action.text)
            case "ack":
                self.announce(f"          gateway -> {await self.peers.acknowledge(action.alarm, action.by)}")
        self.played.append(Played(index, step, at))
        if step.name is not None:
            self._event(step.name).set()

    async def _ramp(self, ramp: RampAction) -> None:
        await self._over(ramp.over, ramp.every, lambda f: ramp.start + (ramp.to - ramp.start) * f, ramp)
        self.controls.set(ramp.device, ramp.point, ramp.to)

    async def _noise(self, noise: NoiseAction, draw: random.Random) -> None:
        def value(_fraction: float) -> float:
            return noise.around + draw.uniform(-noise.amplitude, noise.amplitude)

        await self._over(noise.over, noise.every, value, noise)
        self.controls.set(noise.device, noise.point, noise.around)

    async def _over(
        self, over: float, every: float, value: Callable[[float], float], target: RampAction | NoiseAction
    ) -> None:
        """Set ``value(fraction of over elapsed)`` every ``every`` seconds until ``over`` has passed."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while (elapsed := loop.time() - start) < over:
            self.controls.set(target.device, target.point, value(elapsed / over))
            await asyncio.sleep(min(every, over - elapsed))
