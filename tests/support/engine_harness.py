"""Drive the real AlarmEngine poll by poll, with simulated time, for several devices."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drivers.observation import DeviceFault, FaultCategory, Observation, PollOutcome
from gateway.alarms.clock import ManualClock
from gateway.alarms.engine import AlarmEngine
from gateway.config import LoadedConfig, load_config
from gateway.contract.events import AlarmEvent, Envelope
from tests.support.station_text import write

EPOCH = datetime(2026, 6, 1, tzinfo=UTC)

STATION = """\
station:
  id: cs-0001
  name: Test
  district: "310104"
  location: 1 Test Road
mqtt:
  brokers: ["mqtt://127.0.0.1:1883"]
profiles_dir: {profiles}
buses:
  lan:
    type: modbus-tcp
    host: 127.0.0.1
devices:
  kitchen-gas: {bus: lan, unit: 1, profile: gas-detector}
  kitchen-smoke: {bus: lan, unit: 2, profile: smoke-detector}
  hall-smoke: {bus: lan, unit: 3, profile: smoke-detector}
  kitchen-co: {bus: lan, unit: 4, profile: co-detector}
  river: {bus: lan, unit: 5, profile: water-level}
"""


class StateStore:
    """What the gateway's database keeps of the engine: the entries ``take_state`` gives after a step."""

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}

    def commit(self, engine: AlarmEngine) -> None:
        for name, value in (engine.take_state() or {}).items():
            if value is None:
                self.entries.pop(name, None)
            else:
                self.entries[name] = value


class Harness:
    """One engine, a stamp counter and a clock; ``poll`` feeds one answer of one device.

    Every call takes the simulated time ``t`` (seconds after ``EPOCH``) and moves the clock there.
    """

    def __init__(self, config: LoadedConfig, store: StateStore | None = None) -> None:
        self.config = config
        self.store = store
        counter = itertools.count(1)

        def stamp() -> dict[str, Any]:
            n = next(counter)
            return {"id": f"id-{n}", "station": "cs-0001", "seq": n, "created_at": EPOCH}

        self.stamp = stamp
        self.clock = ManualClock(EPOCH)
        self.engine = AlarmEngine(config, stamp, clock=self.clock, saved=store.entries if store else None)
        self.points = {
            device: {p.name: p.is_flag for p in config.register_points(device)}
            for device in config.station.devices
        }

    def poll(self, device: str, t: float, **values: float | bool) -> list[Envelope]:
        self.clock.set(t)
        defaults = {name: False if flag else 0.0 for name, flag in self.points[device].items()}
        observed = EPOCH + timedelta(seconds=t)
        observations = tuple(
            Observation(device, name, value, None, observed) for name, value in (defaults | values).items()
        )
        return self.engine.handle(PollOutcome(device, observed, t, observations=observations))

    def lost(self, device: str, t: float) -> list[Envelope]:
        self.clock.set(t)
        fault = DeviceFault(FaultCategory.TIMEOUT, "no response (timeout)")
        return self.engine.handle(PollOutcome(device, EPOCH + timedelta(seconds=t), t, fault=fault))

    def tick(self, t: float) -> list[Envelope]:
        self.clock.set(t)
        return self.engine.tick()

    def active(self) -> dict[str, str]:
        return {a.alarm_key: a.state.value for a in self.engine.active_alarms()}


def harness(tmp_path: Path, extra: str = "", store: bool = False) -> Harness:
    config = load_config(write(tmp_path, STATION + extra))
    return Harness(config, StateStore() if store else None)


def alarms(events: list[Envelope]) -> list[AlarmEvent]:
    return [e for e in events if isinstance(e, AlarmEvent)]


def brief(events: list[Envelope]) -> list[tuple[str, str, str]]:
    """(alarm name, transition, grade) of each alarm event."""
    return [(e.alarm_key.split(".", 1)[1], e.transition.value, e.grade.value) for e in alarms(events)]
