"""Peer benchmark: outpost against the floor, bare pymodbus + MQTT loops, side by side.

Why: the gateway's own cost is what it adds to reading a register and
publishing it; the floor (``bench.floor``) is the least a Python program can
do for the same work: its paho variant a blocking loop, its aiomqtt variant
one asyncio loop like outpost's.

Set-up, shared by all contenders of a run: a Modbus TCP simulator with N gas
detectors in its own process (``bench.simulator``), a private Mosquitto
(logging errors only), and a subscriber in a process of its own
timestamping every arrival (``bench.subscriber``). Each contender runs as its
own process, one after the other:

- ``floor-paho``, ``floor-aiomqtt``: ``python -m bench.floor``;
- ``outpost``: ``outpost run`` with the same devices on one ``modbus-tcp`` bus.

Two runs:

- steady: 20 devices polled every second, each value moving once a second;
  figures over ``--seconds`` after a contender's first sample: CPU % of one
  core, CPU per message, RSS, start (process spawned -> first message at the
  subscriber; for outpost, its birth), own cost p50/p95/p99 (the
  simulator sends the first answer carrying a unit's new value, timed on its
  packet hook -> the sample reaches the subscriber; the same clock for every
  contender, where each one's own ``observed_at`` is stamped differently and
  outpost's is cut to the millisecond), samples/s;
- flat out: 200 devices whose gas value changes on every read, polled as fast
  as each contender can (the floors without a pause, outpost at the smallest
  ``poll_interval`` its configuration accepts); samples/s, CPU % and CPU per
  message, over ``--flat-seconds`` after a warm-up.

Both also give the simulator's CPU % (near 100 % it, not the contender, sets
the pace), and lines with outpost's ratios against the floors of the same run.

Run: ``make bench`` (or ``python -m bench.peer --devices 20 --seconds 20``).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from subprocess import PIPE

from bench.common import RESULTS, percentiles, process_usage, publish
from bench.floor import sample_prefix, status_topic
from bench.subscriber import Arrival, Arrivals, subscribed
from tests.support.peers import Mosquitto, write_station

ROOT = Path(__file__).resolve().parent.parent
FLAT_OUT_POLL = 0.05  # the smallest poll_interval the configuration accepts (gateway.config.types)
FLAT_OUT_WARM_UP = 2.0  # seconds after the first sample before measuring: births, statuses, caches
TELEMETRY = "/cs-test/telemetry/"
BIRTH = "/cs-test/status"
FLOORS = ("floor-paho", "floor-aiomqtt")


@dataclass(frozen=True)
class Contender:
    """One process under test: its command line, and which messages are its first and its samples."""

    name: str
    command: list[str]  # after the Python interpreter
    is_first: Callable[[Arrival], bool]
    is_sample: Callable[[str], bool]  # by topic
    reading: Callable[[dict], tuple[int, float]]  # a sample's unit and gas value, from its JSON


def floor(variant: str, broker_url: str, modbus_port: int, devices: int, interval: float) -> Contender:
    """``bench.floor``'s ``variant``: its status is its first message, its unit topics its samples."""
    status, prefix = status_topic(variant), sample_prefix(variant)
    command = ["-m", "bench.floor", variant, broker_url, str(modbus_port), str(devices), str(interval)]
    return Contender(
        f"floor-{variant}",
        command,
        lambda a: a.topic == status,
        lambda topic: topic.startswith(prefix),
        lambda body: (body["device"], body["gas"]),
    )


def contenders(
    broker_url: str, modbus_port: int, station: Path, units: dict[str, int], floor_interval: float
) -> list[Contender]:
    """The three processes a run compares, each polling the same simulator through the same broker."""
    outpost = Contender(
        "outpost",
        ["-m", "gateway.cli", "run", str(station)],
        lambda a: a.topic.endswith(BIRTH) and json.loads(a.payload).get("state") == "online",
        lambda topic: TELEMETRY in topic,
        lambda body: (units[body["device"]], body["readings"]["gas"]["value"]),
    )
    devices = len(units)
    floors = [floor(v, broker_url, modbus_port, devices, floor_interval) for v in ("paho", "aiomqtt")]
    return [*floors, outpost]


async def stop(process: asyncio.subprocess.Process) -> None:
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()  # never leak a contender; its figures are already taken
        await process.wait()


class AnswerTimes:
    """When the simulator sent each unit's first answer carrying a new value (its ``ANSWERS`` file)."""

    def __init__(self, path: Path) -> None:
        self._sent: dict[int, list[tuple[float, float]]] = {}  # unit -> (sent, value), oldest first
        if path.exists():
            for line in path.read_text().splitlines():
                unit, value, sent = line.split()
                self._sent.setdefault(int(unit), []).append((float(sent), float(value)))

    def of(self, unit: int, value: float, received: float) -> float | None:
        """When the newest answer of ``unit`` giving ``value`` before ``received`` was sent."""
        sends = self._sent.get(unit, [])
        for at, sent_value in reversed(sends[: bisect.bisect(sends, (received, math.inf))]):
            if abs(sent_value - value) < 1e-6:
                return at
        return None


def own_costs(contender: Contender, samples: list[Arrival], answers: AnswerTimes) -> tuple[list[float], int]:
    """Each sample's own cost (answer sent -> subscriber), and how many fell back to ``observed_at``.

    The fallback is the sample's ``observed_at``, stamped by the contender itself; outpost's
    is cut to the millisecond (about 0.5 ms high on average), the floors' is not.
    """
    costs, fallbacks = [], 0
    for arrival in samples:
        body = json.loads(arrival.payload)
        sent = answers.of(*contender.reading(body), arrival.at)
        if sent is None:
            fallbacks += 1
            sent = datetime.fromisoformat(body["observed_at"]).timestamp()
        costs.append(arrival.at - sent)
    return costs, fallbacks


async def run_one(
    contender: Contender,
    arrivals: Arrivals,
    simulator: int,
    log: Path,
    seconds: float,
    warm_up: float,
    answers: Path,
) -> dict:
    """Start it, time its first message, then measure ``seconds`` of running after ``warm_up``."""
    mark = len(arrivals.log)
    spawned = time.time()
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *contender.command, cwd=ROOT, stdout=output, stderr=asyncio.subprocess.STDOUT
        )
    try:
        first = await arrivals.wait_for(contender.is_first, mark, timeout=60)
        await arrivals.wait_for(lambda a: contender.is_sample(a.topic), mark, timeout=60)
        await asyncio.sleep(warm_up)
        before, simulator_before = process_usage(process.pid), process_usage(simulator)
        begun = len(arrivals.log)
        await asyncio.sleep(seconds)
        after, simulator_after = process_usage(process.pid), process_usage(simulator)
        ended = len(arrivals.log)
    finally:
        await stop(process)
    samples = [a for a in arrivals.log[begun:ended] if contender.is_sample(a.topic)]
    own, fallbacks = own_costs(contender, samples, AnswerTimes(answers))
    cpu = after["cpu_seconds"] - before["cpu_seconds"]
    simulator_cpu = simulator_after["cpu_seconds"] - simulator_before["cpu_seconds"]
    return {
        "cpu_percent": round(100 * cpu / seconds, 2),
        "cpu_ms_per_message": round(1000 * cpu / max(len(samples), 1), 3),
        "rss_mib": after["rss_mib"],
        "start_s": round(first.at - spawned, 3),
        "own_cost": percentiles(own),
        "own_cost_from_observed_at": fallbacks,  # samples whose answer the simulator did not time
        "samples_per_s": round(len(samples) / seconds, 1),
        "messages": len(samples),
        "simulator_cpu_percent": round(100 * simulator_cpu / seconds, 1),
    }


@contextlib.asynccontextmanager
async def simulator(work: Path, broker_url: str, devices: dict, mode: str, interval: float, answers: Path):
    """The Modbus simulator's process and its port; steady, it times its answers into ``answers``."""
    station = write_station(work, broker_url=broker_url, modbus_port=1, devices=devices)
    with (work / "simulator.log").open("ab") as errors:  # pymodbus' complaints when a contender leaves
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "bench.simulator", str(station), mode, str(interval), str(answers)],
            cwd=ROOT,
            stdout=PIPE,
            stderr=errors,
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        yield process.pid, int(line)
    finally:
        await stop(process)


async def run(
    broker_url: str, work: Path, devices: int, mode: str, poll: float, seconds: float, warm_up: float
) -> dict:
    """One run: every contender against the same simulator, broker and subscriber."""
    work = Path(tempfile.mkdtemp(prefix=f"{mode}-", dir=work))
    names = [f"gas-{i:03d}" for i in range(devices)]
    device_config = {
        name: {"unit": i + 1, "profile": "gas-detector", "location": f"room {i}"}
        for i, name in enumerate(names)
    }
    floor_interval = 0.0 if mode == "flat" else poll
    answers = work / "answers.log"
    async with (
        subscribed(broker_url) as arrivals,
        simulator(work, broker_url, device_config, mode, poll, answers) as (simulator_pid, port),
    ):
        station = write_station(
            work, broker_url=broker_url, modbus_port=port, poll_interval=poll, devices=device_config
        )
        results = {}
        units = {name: config["unit"] for name, config in device_config.items()}
        for contender in contenders(broker_url, port, station, units, floor_interval):
            log = work / f"{contender.name}.log"
            results[contender.name] = await run_one(
                contender, arrivals, simulator_pid, log, seconds, warm_up, answers
            )
            arrivals.log.clear()  # flat out, tens of thousands of arrivals: not kept past their figures
    return {
        "devices": devices,
        "poll_interval_s": {"floor-paho": floor_interval, "floor-aiomqtt": floor_interval, "outpost": poll},
        "seconds": seconds,
        "results": results,
    }


async def measure(devices: int, seconds: float, poll: float, flat_devices: int, flat_seconds: float) -> dict:
    async with AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outpost-bench-peer-")))
        broker = Mosquitto(work / "mosquitto")
        # Logging every publish (the tests' setting) would take the broker's CPU flat out.
        broker.config.write_text(broker.config.read_text().replace("log_type all", "log_type error"))
        broker.start()
        stack.callback(broker.stop)
        steady = await run(broker.url, work, devices, "steady", poll, seconds, 0.0)
        flat = await run(
            broker.url, work, flat_devices, "flat", FLAT_OUT_POLL, flat_seconds, FLAT_OUT_WARM_UP
        )
    return {"benchmark": "peer", "machine_cores": os.cpu_count(), "steady": steady, "flat_out": flat}


def ratio(ours: float | None, floor: float | None) -> str:
    return f"{ours / floor:.2f}x" if ours is not None and floor else "n/a"


def print_table(result: dict) -> None:
    steady, flat = result["steady"], result["flat_out"]
    print(
        f"\npeer, steady: {steady['devices']} devices @ {steady['poll_interval_s']['outpost']:g} s, "
        f"{steady['seconds']:g} s measured each; own cost = the simulator's answer sent -> subscriber "
        f"({sum(r['own_cost_from_observed_at'] for r in steady['results'].values())} samples from "
        "observed_at instead)"
    )
    print(
        f"{'contender':<15}{'CPU %':>7}{'ms CPU/msg':>11}{'RSS MiB':>9}{'start s':>9}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'samples/s':>10}{'sim CPU %':>10}"
    )
    for name, r in steady["results"].items():
        own = r["own_cost"]
        print(
            f"{name:<15}{r['cpu_percent']:>7}{r['cpu_ms_per_message']:>11}{r['rss_mib']:>9}{r['start_s']:>9}"
            f"{own['p50_ms']!s:>8}{own['p95_ms']!s:>8}{own['p99_ms']!s:>8}{r['samples_per_s']:>10}"
            f"{r['simulator_cpu_percent']:>10}"
        )
    ours = steady["results"]["outpost"]
    for floor_name in FLOORS:
        base = steady["results"][floor_name]
        print(
            f"vs floor (same run), outpost / {floor_name}: "
            f"CPU/msg {ratio(ours['cpu_ms_per_message'], base['cpu_ms_per_message'])}, "
            f"RSS {ratio(ours['rss_mib'], base['rss_mib'])}, "
            f"start {ratio(ours['start_s'], base['start_s'])}, "
            f"own cost p50 {ratio(ours['own_cost']['p50_ms'], base['own_cost']['p50_ms'])} "
            f"p99 {ratio(ours['own_cost']['p99_ms'], base['own_cost']['p99_ms'])}, "
            f"samples/s {ratio(ours['samples_per_s'], base['samples_per_s'])}"
        )
    polls = flat["poll_interval_s"]
    print(
        f"\npeer, flat out: {flat['devices']} devices, a new value on every read, polled as fast as each "
        f"can (floors every {polls['floor-paho']:g} s, outpost every {polls['outpost']:g} s), "
        f"{flat['seconds']:g} s measured each"
    )
    print(f"{'contender':<15}{'samples/s':>10}{'CPU %':>7}{'ms CPU/msg':>11}{'RSS MiB':>9}{'sim CPU %':>10}")
    for name, r in flat["results"].items():
        print(
            f"{name:<15}{r['samples_per_s']:>10}{r['cpu_percent']:>7}{r['cpu_ms_per_message']:>11}"
            f"{r['rss_mib']:>9}{r['simulator_cpu_percent']:>10}"
        )
    ours, base = flat["results"]["outpost"], flat["results"]["floor-paho"]
    print(
        f"vs floor (same run), flat out: outpost {ours['samples_per_s']} samples/s = "
        f"{ratio(ours['samples_per_s'], base['samples_per_s'])} floor-paho's "
        "(target >= 2000/s and >= 0.75x), "
        f"CPU/msg {ratio(ours['cpu_ms_per_message'], base['cpu_ms_per_message'])} floor-paho's"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=20, help="steady run")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady running measured per contender")
    parser.add_argument("--poll", type=float, default=1.0, help="steady run's poll interval")
    parser.add_argument("--flat-devices", type=int, default=200)
    parser.add_argument("--flat-seconds", type=float, default=15.0, help="flat out, measured per contender")
    parser.add_argument("--json", type=Path, default=RESULTS / "peer.json")
    args = parser.parse_args()
    result = asyncio.run(measure(args.devices, args.seconds, args.poll, args.flat_devices, args.flat_seconds))
    publish(result, args.json, print_table)


if __name__ == "__main__":
    main()
