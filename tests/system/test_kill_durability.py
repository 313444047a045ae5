"""Never lose an alarm to a crash: SIGKILLs in the middle of alarm bursts on several buses.

Twenty gas detectors on four Modbus TCP buses toggle between clean air, the
first stage and the second stage at random, in bursts across buses, while the
gateway process (``outpost run``; in the main case its fsyncs slowed to an SD
card's pace by the LD_PRELOAD shim) is killed with SIGKILL at random instants
and started again on the same state directory, as systemd would. A platform
subscriber with a persistent session stays connected throughout.

At the end every value is held until the gateway has delivered everything,
and the platform's story (:mod:`tests.support.story`) must hold together: no
clear or level change without a raise, no second raise without a clear, every
event the outbox held at a kill delivered, and each alarm's final picture
equal to what the detectors read. Nuisance control is turned out of the way
(no flood summaries, no chatter delays) so that what is judged is durability.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from gateway.config import load_config
from simulators.devices.modbus_server import ModbusTcpSimulator
from simulators.devices.modbus_unit import SimulatedUnit
from tests.support.health import read_health
from tests.support.peers import GatewayProcess, Platform, gas_detectors, write_station
from tests.support.slow_fsync import slow_fsync_env
from tests.support.story import Story, final_differences, read_story

pytestmark = pytest.mark.slow

BUSES = 4
PER_BUS = 5
POLL = 0.2
CLEAN, FIRST_STAGE, SECOND_STAGE = 2.0, 30.0, 60.0
LEVEL_OF = {CLEAN: None, FIRST_STAGE: "yellow", SECOND_STAGE: "orange"}  # the gas profile's colours
QUIET_POLICY = {  # nuisance control out of the way: each change is published as it happens
    "flood": {"count": 10_000},
    "chatter": {"count": 100, "window": "1s"},
}
SETTLE = 45.0  # seconds for the gateway to deliver everything once the values are held


@dataclass
class Station:
    units: dict[str, SimulatedUnit]
    gateway: GatewayProcess
    state_dir: Path
    health_url: str
    gas: dict[str, float] = field(default_factory=dict)  # the value last set on each detector

    def set_gas(self, name: str, value: float) -> None:
        self.units[name].set("gas", value)
        self.gas[name] = value

    def truth(self) -> dict[str, str | None]:
        """The level each gas alarm should be active at, from what the detectors read."""
        return {f"cs-test.{name}.gas": LEVEL_OF[value] for name, value in self.gas.items()}

    def backlog(self) -> int | None:
        """Messages the gateway still holds (from its ``/healthz``); None while it does not answer."""
        health = read_health(self.health_url)
        return None if health is None else health["outbox"]["backlog"] + health["outbox"]["in_flight"]


@contextlib.asynccontextmanager
async def gas_station(directory: Path, broker_url: str, env: dict[str, str]) -> AsyncIterator[Station]:
    """``BUSES`` Modbus TCP simulators of ``PER_BUS`` gas detectors each, and ``outpost run``."""
    detectors = gas_detectors(BUSES * PER_BUS)
    names = list(detectors)
    # The registers come from the profile: a first station file gives them, the ports come later.
    config = load_config(write_station(directory, broker_url=broker_url, modbus_port=1, devices=detectors))
    units = {
        name: SimulatedUnit(d["unit"], config.simulated_points(name), name=name)
        for name, d in detectors.items()
    }
    async with contextlib.AsyncExitStack() as servers:
        buses, devices = {}, {}
        for number in range(BUSES):
            bus, members = f"bus-{number}", names[number * PER_BUS : (number + 1) * PER_BUS]
            server = await servers.enter_async_context(ModbusTcpSimulator(units[n] for n in members))
            buses[bus] = {"type": "modbus-tcp", "host": "127.0.0.1", "port": server.port, "timeout": "300ms"}
            devices.update({n: {**detectors[n], "bus": bus} for n in members})
        path = write_station(
            directory,
            broker_url=broker_url,
            modbus_port=0,
            devices=devices,
            buses=buses,
            poll_interval=POLL,
            extra={"alarm_policy": QUIET_POLICY},
        )
        listen = yaml.safe_load(path.read_text())["service"]["metrics_listen"]
        station = Station(
            units,
            GatewayProcess(path, directory / "gateway.log", env),
            directory / "state",
            f"http://{listen}/healthz",
        )
        for name in names:
            station.set_gas(name, CLEAN)
        station.gateway.start()
        try:
            yield station
        finally:
            station.gateway.stop(signal.SIGKILL)


async def toggle_gas(station: Station, rng: random.Random) -> None:
    """Forever: a burst of one to eight detectors, across buses, each moved to another level.

    Clean air is drawn as often as both stages together, so that alarms clear
    too (a clear waits out the profile's two-second off delay).
    """
    names = list(station.units)
    while True:
        for name in rng.sample(names, rng.choice((1, 1, 2, 3, 5, 8))):
            others = [v for v in LEVEL_OF if v != station.gas[name]]
            station.set_gas(name, CLEAN if CLEAN in others and rng.random() < 0.5 else rng.choice(others))
        await asyncio.sleep(rng.uniform(0.1, 0.6))


def committed_alarm_ids(state_dir: Path) -> set[str]:
    """The ids of the alarm events in the outbox, read as the killed gateway left it."""
    uri = f"file:{state_dir / 'outbox.sqlite3'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        rows = db.execute("SELECT payload FROM outbox WHERE topic LIKE '%/alarm'").fetchall()
    return {json.loads(payload)["id"] for (payload,) in rows}


async def wait_for_birth(platform: Platform, boot_count: int, timeout: float = 30.0) -> None:
    await platform.wait_for(
        lambda m: m.topic == "outpost/v1/cs-test/status" and m.payload.get("boot_count", 0) >= boot_count,
        timeout,
    )


async def settle(station: Station, platform: Platform, committed: set[str], timeout: float) -> Story:
    """Until the platform's picture is the truth and the gateway holds nothing more; the story then."""
    changed = asyncio.Event()
    platform.listeners.append(lambda _m: changed.set())
    deadline = time.monotonic() + timeout
    while True:
        story = read_story(m.payload for m in platform.messages)
        received = {e["id"] for e in story.events}
        caught_up = committed <= received and await asyncio.to_thread(station.backlog) == 0
        if (caught_up and not final_differences(story, station.truth())) or time.monotonic() > deadline:
            return story
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), 0.5)  # or look at the gateway's backlog again


def verdict(story: Story, station: Station, committed: set[str]) -> list[str]:
    """Every way the platform was let down, with the stories that show it."""
    received = {e["id"] for e in story.events}
    problems = [str(a) for a in story.anomalies]
    problems += final_differences(story, station.truth())
    problems += [f"committed at a kill, never delivered: {i}" for i in sorted(committed - received)]
    keys = sorted({a.alarm_key for a in story.anomalies})[:5]
    problems += [f"story of {key}: {' | '.join(story.by_key(key))}" for key in keys]
    return problems


@pytest.mark.parametrize(
    ("disk", "kills"),
    [pytest.param("sd-card", 20, id="sd-card-fsync"), pytest.param("fast", 5, id="fast-disk")],
)
@pytest.mark.timeout(240)
async def test_sigkills_during_alarm_bursts_lose_nothing_and_keep_every_story_whole(
    tmp_path, mosquitto, platform, request, disk, kills
):
    rng = random.Random()
    env = slow_fsync_env(request.getfixturevalue("slow_fsync")) if disk == "sd-card" else {}
    committed: set[str] = set()
    async with gas_station(tmp_path, mosquitto.url, env) as station:
        await wait_for_birth(platform, 1)
        toggling = asyncio.create_task(toggle_gas(station, rng))
        try:
            for kill in range(kills):
                await asyncio.sleep(rng.uniform(0.3, 3.0))
                await station.gateway.stop_async(signal.SIGKILL)
                committed |= await asyncio.to_thread(committed_alarm_ids, station.state_dir)
                station.gateway.start()
                await wait_for_birth(platform, kill + 2)
        finally:
            toggling.cancel()
        story = await settle(station, platform, committed, SETTLE)
        log = station.gateway.output()

    transitions = len(story.events)
    print(f"{disk}: {kills} kills, {transitions} alarm events, {len(story.anomalies)} anomalies")
    assert transitions >= 2 * kills, "the detectors hardly toggled: the run proves nothing"
    problems = verdict(story, station, committed)
    assert not problems, "\n".join(problems)
    assert "Traceback" not in log
