"""Peer benchmark: outpost against the floor, a bare pymodbus + aiomqtt loop, side by side.

Why: the gateway's own cost is what it adds to reading a register and
publishing it; the floor is the least any Python gateway can do for the same
work, in the same process model (its own process, one asyncio loop, pymodbus
over TCP, QoS 1 publishes through aiomqtt).

Set-up, shared by both in one run: one Modbus TCP simulator
(``simulators.devices.modbus_server``) with N gas detectors whose value moves
by more than the telemetry deadband (but never near an alarm) once per poll
interval, a private Mosquitto, and a subscriber timestamping arrivals. Each
contender runs as its own process for ``--seconds`` after its first message:

- floor (``python -m bench.peer --floor``): polls every unit every interval,
  publishes a reading that changed as one JSON message stamped with the time
  its poll answer arrived;
- outpost (``outpost run``): the same devices on one ``modbus-tcp`` bus.

Figures per contender: CPU % of one core and CPU per message, RSS, start
(process spawned -> first message at the subscriber; for outpost, its birth),
own cost (poll answer -> subscriber) p50/p95/p99, and samples/s. The last line
gives outpost's ratios against the floor of the same run.

Run: ``make bench`` (or ``python -m bench.peer --devices 20 --seconds 20``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.common import RESULTS, percentiles, process_usage, publish
from gateway.config import load_config
from simulators.devices.modbus_server import ModbusTcpSimulator
from simulators.devices.modbus_unit import SimulatedUnit
from tests.support.peers import GatewayProcess, Mosquitto, Platform, Received, write_station

LOW, HIGH = 3.0, 6.0  # %LEL: a change beyond the 1 %LEL deadband, far below the 20 %LEL alarm
FLOOR_TOPIC = "floor/v1"


async def floor(broker_url: str, modbus_port: int, units: int, interval: float) -> None:
    """The bare loop: read each unit's gas register, publish what changed, QoS 1."""
    import aiomqtt
    from pymodbus.client import AsyncModbusTcpClient

    host, port = broker_url.removeprefix("mqtt://").rsplit(":", 1)
    modbus = AsyncModbusTcpClient("127.0.0.1", port=modbus_port)
    await modbus.connect()
    last: dict[int, int] = {}
    async with aiomqtt.Client(host, int(port), identifier="floor") as mqtt:
        mqtt.pending_calls_threshold = 1000
        await mqtt.publish(f"{FLOOR_TOPIC}/status", b'{"state":"online"}', qos=1)
        publishing: set[asyncio.Task] = set()
        while True:
            started = time.monotonic()
            for unit in range(1, units + 1):
                answer = await modbus.read_holding_registers(0, count=1, device_id=unit)
                observed = datetime.now(UTC).isoformat()
                value = answer.registers[0]
                if last.get(unit) == value:
                    continue
                last[unit] = value
                body = json.dumps({"device": unit, "gas": value / 10, "observed_at": observed}).encode()
                task = asyncio.ensure_future(mqtt.publish(f"{FLOOR_TOPIC}/{unit}", body, qos=1))
                publishing.add(task)
                task.add_done_callback(publishing.discard)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


@dataclass(frozen=True)
class Contender:
    """One process under test: how to start it, and which messages are its samples."""

    name: str
    start: Callable[[], object]
    pid: Callable[[], int]
    stop: Callable[[], object]
    is_sample: Callable[[Received], bool]
    is_first: Callable[[Received], bool]


async def run_one(contender: Contender, platform: Platform, seconds: float) -> dict:
    """Start it, time its first message, then measure ``seconds`` of steady running."""
    mark = len(platform.messages)
    spawned = time.time()
    contender.start()
    try:
        first = await platform.wait_for(contender.is_first, timeout=30, after=mark)
        await platform.wait_for(contender.is_sample, timeout=30, after=mark)
        pid = contender.pid()
        before, begun = process_usage(pid), len(platform.messages)
        await asyncio.sleep(seconds)
        after, ended = process_usage(pid), len(platform.messages)
    finally:
        contender.stop()
    samples = [m for m in platform.messages[begun:ended] if contender.is_sample(m)]
    own = [m.at - datetime.fromisoformat(m.payload["observed_at"]).timestamp() for m in samples]
    cpu = after["cpu_seconds"] - before["cpu_seconds"]
    return {
        "cpu_percent": round(100 * cpu / seconds, 2),
        "cpu_ms_per_message": round(1000 * cpu / max(len(samples), 1), 3),
        "rss_mib": after["rss_mib"],
        "start_s": round(first.at - spawned, 3),
        "own_cost": percentiles(own),
        "samples_per_s": round(len(samples) / seconds, 1),
        "messages": len(samples),
    }


async def move_values(units: list[SimulatedUnit], interval: float) -> None:
    """Every unit's value moves once per interval, each at its own phase."""
    step = interval / max(len(units), 1)
    high = False
    while True:
        high = not high
        for unit in units:
            unit.set("gas", HIGH if high else LOW)
            await asyncio.sleep(step)


async def measure(devices: int, seconds: float, poll: float) -> dict:
    async with AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outpost-bench-peer-")))
        broker = Mosquitto(work / "mosquitto")
        broker.start()
        stack.callback(broker.stop)
        names = [f"gas-{i:02d}" for i in range(devices)]
        device_config = {
            name: {"unit": i + 1, "profile": "gas-detector", "location": f"room {i}"}
            for i, name in enumerate(names)
        }
        config = load_config(write_station(work, broker_url=broker.url, modbus_port=1, devices=device_config))
        units = [SimulatedUnit(config.station.devices[n].unit, config.simulated_points(n), n) for n in names]
        for unit in units:
            unit.set("gas", LOW)
        server = await stack.enter_async_context(ModbusTcpSimulator(units))
        mover = asyncio.create_task(move_values(units, poll))
        stack.callback(mover.cancel)
        station = write_station(
            work, broker_url=broker.url, modbus_port=server.port, poll_interval=poll, devices=device_config
        )
        platform = Platform(broker.url, "#")
        await platform.start()
        stack.push_async_callback(platform.stop)

        floor_process: list[subprocess.Popen] = []
        floor_args = [broker.url, str(server.port), str(devices), str(poll)]
        floor_command = [sys.executable, "-m", "bench.peer", "--floor", *floor_args]

        def stop_floor() -> None:
            process = floor_process.pop()
            process.terminate()
            process.wait(timeout=10)

        gateway = GatewayProcess(station, work / "gateway.log")
        contenders = [
            Contender(
                "floor (pymodbus + aiomqtt)",
                lambda: floor_process.append(
                    subprocess.Popen(floor_command, cwd=Path(__file__).parent.parent)
                ),
                lambda: floor_process[0].pid,
                stop_floor,
                lambda m: m.topic.startswith(f"{FLOOR_TOPIC}/") and "observed_at" in m.payload,
                lambda m: m.topic == f"{FLOOR_TOPIC}/status",
            ),
            Contender(
                "outpost",
                gateway.start,
                lambda: gateway.process.pid,  # type: ignore[union-attr]
                gateway.stop,
                lambda m: "/telemetry/" in m.topic,
                lambda m: m.topic.endswith("/cs-test/status") and m.payload.get("state") == "online",
            ),
        ]
        results = {c.name: await run_one(c, platform, seconds) for c in contenders}
    return {
        "benchmark": "peer",
        "devices": devices,
        "poll_interval_s": poll,
        "seconds": seconds,
        "machine_cores": os.cpu_count(),
        "results": results,
    }


def print_table(result: dict) -> None:
    print(
        f"\npeer: {result['devices']} devices @ {result['poll_interval_s']:g} s, "
        f"{result['seconds']:g} s measured each; own cost = poll answer -> subscriber"
    )
    print(
        f"{'contender':<28}{'CPU %':>7}{'ms CPU/msg':>11}{'RSS MiB':>9}{'start s':>9}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'samples/s':>10}"
    )
    for name, r in result["results"].items():
        own = r["own_cost"]
        print(
            f"{name:<28}{r['cpu_percent']:>7}{r['cpu_ms_per_message']:>11}{r['rss_mib']:>9}{r['start_s']:>9}"
            f"{own.get('p50_ms')!s:>8}{own.get('p95_ms')!s:>8}{own.get('p99_ms')!s:>8}{r['samples_per_s']:>10}"
        )
    floor_figures, ours = result["results"].values()

    def ratio(key: str, inner: str | None = None) -> str:
        a = ours[key] if inner is None else ours[key].get(inner)
        b = floor_figures[key] if inner is None else floor_figures[key].get(inner)
        return f"{a / b:.2f}x" if a is not None and b else "n/a"

    print(
        f"vs floor (same run): CPU/msg {ratio('cpu_ms_per_message')}, RSS {ratio('rss_mib')}, "
        f"start {ratio('start_s')}, own cost p50 {ratio('own_cost', 'p50_ms')}, "
        f"samples/s {ratio('samples_per_s')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0, help="steady running measured per contender")
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--json", type=Path, default=RESULTS / "peer.json")
    parser.add_argument("--floor", nargs=4, help=argparse.SUPPRESS)  # inside the floor's own process
    args = parser.parse_args()
    if args.floor:
        url, port, units, interval = args.floor
        asyncio.run(floor(url, int(port), int(units), float(interval)))
        return
    result = asyncio.run(measure(args.devices, args.seconds, args.poll))
    publish(result, args.json, print_table)


if __name__ == "__main__":
    main()
