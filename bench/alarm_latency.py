"""Alarm latency: from a register change in a simulator to the alarm at an MQTT subscriber.

Set-up: a real Mosquitto, one Modbus TCP simulator with N gas detectors (in
this process, on its event loop), and ``outpost run`` as its own process
polling each detector every second. Each round changes the gas value of a
batch of detectors (alternating a leak and its all-clear, so every change is
an alarm transition) and waits for the matching alarm events at a subscriber
in a process of its own (``bench.subscriber``), which stamps each arrival
with ``time.time()`` the moment paho's network thread hands it over: in this
process the stamp would wait for the interpreter while the simulator
answers the gateway's next read, sent at the same moment as the alarm.

Figures, p50/p95/p99 over all changes:
- end to end: register written -> alarm received by the subscriber;
- gateway share: the simulator sends the first poll answer carrying the
  changed value -> alarm received by the subscriber, so it includes the
  loopback hop and the gateway's Modbus client reading the answer. The send
  is timed on the simulator's packet hook (``bench.answers``), to the
  microsecond; an alarm whose answer it missed starts at the event's
  ``observed_at`` instead (stamped once the gateway has decoded the answer,
  and cut to the millisecond), and the table says for how many;
- baseline, measured in the same run: a bare QoS 1 publish -> receive
  through the same broker, the floor under the gateway's share;
- RSS and CPU time of the gateway process;
- with ``--breakdown``, the gateway share split stage by stage (poll answer
  sent -> data path, engine, outbox row, commit and fsync, drain, subscriber),
  from a gateway run under ``bench.trace``.

Run: ``make bench`` (or ``python -m bench.alarm_latency --changes 200``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path

import aiomqtt

from bench.answers import AnswerClock, ClockedSimulator
from bench.common import RESULTS, percentiles, process_usage, publish
from bench.subscriber import Arrivals, subscribed
from bench.trace import TracedGateway
from gateway.config import load_config
from simulators.devices.modbus_unit import SimulatedUnit
from tests.support.peers import GatewayProcess, Mosquitto, write_station

LEAK, CLEAR = 60.0, 2.0
# Every detector is flipped again and again on purpose: chatter and flood control would
# (rightly) hold those alarms back, and this measures the path, not the nuisance rules.
NO_NUISANCE_CONTROL = {"chatter": {"count": 100}, "flood": {"count": 10_000}}
# The stages an alarm passes inside the gateway, in order (see bench.trace), and their names here.
STAGES = (
    ("answered", "poll", "poll answer -> data path"),
    ("poll", "engine", "alarm engine step"),
    ("engine", "submit", "events, JSON, outbox row"),
    ("submit", "commit_begin", "wait for the writer thread"),
    ("commit_begin", "commit_end", "transaction incl. fsync"),
    ("commit_end", "settled", "commit -> event loop"),
    ("settled", "taken", "event loop -> drain takes it"),
    ("taken", "handed", "drain -> publish task runs"),
    ("handed", "written", "paho queue -> socket write"),
    ("written", "received", "socket -> broker -> subscriber"),
    ("taken", "puback", "(drain -> PUBACK)"),
)


async def broker_baseline(url: str, arrivals: Arrivals, samples: int = 200) -> list[float]:
    """A bare QoS 1 publish through the same broker to the same subscriber: the floor."""
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    latencies = []
    async with aiomqtt.Client(host, int(port)) as publisher:
        for _ in range(samples):
            after = len(arrivals.log)
            sent = time.time()
            await publisher.publish("bench/baseline", b"x" * 600, qos=1)
            arrival = await arrivals.wait_for(lambda a: a.topic == "bench/baseline", after, timeout=10)
            latencies.append(arrival.at - sent)
    return latencies


def _is(alarm: dict, key: str, transition: str) -> bool:
    return alarm["alarm_key"] == key and alarm["transition"] == transition


def breakdown(timeline: dict[str, dict], arrivals: dict[str, tuple[float, float]]) -> dict[str, dict]:
    """Each stage's share of the gateway's own cost, over the alarms both sides saw."""
    spans: dict[str, list[float]] = {label: [] for _, _, label in STAGES}
    for event_id, (answered, received) in arrivals.items():
        stages = timeline.get(event_id)
        if stages is None or "poll" not in stages:
            continue
        stages = {**stages, "answered": answered, "received": received}
        for start, end, label in STAGES:
            if start in stages and end in stages:
                spans[label].append(stages[end] - stages[start])
    return {label: percentiles(values) for label, values in spans.items() if values}


def share_start(answered: float | None, alarm: dict, missed: list[str]) -> float:
    """Where the gateway's share of ``alarm`` starts: its poll answer sent, else (noted) its observed_at."""
    if answered is not None:
        return answered
    missed.append(alarm["id"])
    return datetime.fromisoformat(alarm["observed_at"]).timestamp()


async def bench_station(
    stack: AsyncExitStack, work: Path, devices: int, poll: float
) -> tuple[Mosquitto, dict[str, SimulatedUnit], AnswerClock, Path]:
    """A broker, the simulated detectors (all clear), the clock on their answers, the station file."""
    broker = Mosquitto(work / "mosquitto")
    broker.start()
    stack.callback(broker.stop)
    names = [f"gas-{i:02d}" for i in range(devices)]
    device_config = {
        name: {
            "unit": i + 1,
            "profile": "gas-detector",
            "location": f"room {i}",
            "alarms": {"gas": {"off_delay": "0s"}},  # every change is an immediate transition
        }
        for i, name in enumerate(names)
    }
    config = load_config(write_station(work, broker_url=broker.url, modbus_port=1, devices=device_config))
    units = {n: SimulatedUnit(config.station.devices[n].unit, config.simulated_points(n), n) for n in names}
    for unit in units.values():
        unit.set("gas", CLEAR)
    clock = AnswerClock(units[names[0]].points["gas"])  # one profile: the same point on every unit
    server = await stack.enter_async_context(ClockedSimulator(units.values(), clock))
    path = write_station(
        work,
        broker_url=broker.url,
        modbus_port=server.port,
        poll_interval=poll,
        devices=device_config,
        extra={"alarm_policy": NO_NUISANCE_CONTROL},
    )
    return broker, units, clock, path


async def measure(changes: int, devices: int, batch: int, poll: float, traced: bool = False) -> dict:
    async with AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outpost-bench-")))
        broker, units, clock, path = await bench_station(stack, work, devices, poll)
        names = list(units)
        arrivals = await stack.enter_async_context(subscribed(broker.url))
        gateway = (
            TracedGateway(path, work / "gateway.log", work / "timeline.jsonl")
            if traced
            else GatewayProcess(path, work / "gateway.log")
        )
        gateway.start()
        stack.callback(gateway.stop)
        for name in names:
            await arrivals.wait_for(lambda a, n=name: a.topic.endswith(f"/device/{n}/status"), 0, 30)
        assert gateway.process is not None
        usage_before = process_usage(gateway.process.pid)

        end_to_end: list[float] = []
        gateway_share: list[float] = []
        seen: dict[str, tuple[float, float]] = {}  # alarm id -> (poll answer sent, received)
        from_observed_at: list[str] = []  # alarms whose answer the clock missed: observed_at instead
        state = dict.fromkeys(names, CLEAR)
        jitter = random.Random(42)
        started = time.monotonic()
        done = 0
        round_index = 0

        async def change(name: str, start: int) -> None:
            # Each change lands at its own random phase of the poll cycle, as real events do.
            await asyncio.sleep(jitter.uniform(0, poll))
            state[name] = LEAK if state[name] == CLEAR else CLEAR
            transition = "raised" if state[name] == LEAK else "cleared"
            clock.expect(units[name].unit, state[name])
            units[name].set("gas", state[name])
            written = time.time()
            key = f"cs-test.{name}.gas"
            arrival = await arrivals.wait_for(
                lambda a: a.topic.endswith("/alarm") and _is(json.loads(a.payload), key, transition),
                start,
                timeout=30,
            )
            payload = json.loads(arrival.payload)
            answered = share_start(clock.sent(units[name].unit), payload, from_observed_at)
            end_to_end.append(arrival.at - written)
            gateway_share.append(arrival.at - answered)
            seen[payload["id"]] = (answered, arrival.at)

        while done < changes:
            count = min(batch, changes - done)
            chosen = [names[(round_index * batch + i) % devices] for i in range(count)]
            round_index += 1
            start = len(arrivals.log)
            await asyncio.gather(*(change(name, start) for name in chosen))
            done += count
        elapsed = time.monotonic() - started
        usage_after = process_usage(gateway.process.pid)
        baseline = await broker_baseline(broker.url, arrivals)
        stages = {}
        if isinstance(gateway, TracedGateway):
            gateway.stop()  # the timeline is written at exit
            stages = breakdown(gateway.timeline(), seen)

    return {
        "benchmark": "alarm_latency",
        "changes": changes,
        "devices": devices,
        "poll_interval_s": poll,
        "concurrent_changes": batch,
        "end_to_end": percentiles(end_to_end),
        "gateway_share": percentiles(gateway_share),
        "gateway_share_from_observed_at": len(from_observed_at),
        "baseline_broker_roundtrip": percentiles(baseline),
        "gateway_share_by_stage": stages,
        "gateway_process": {
            "rss_mib": usage_after["rss_mib"],
            "cpu_seconds_during_run": round(usage_after["cpu_seconds"] - usage_before["cpu_seconds"], 2),
            "cpu_percent_during_run": round(
                100 * (usage_after["cpu_seconds"] - usage_before["cpu_seconds"]) / elapsed, 1
            ),
            "run_seconds": round(elapsed, 1),
        },
    }


def print_table(result: dict) -> None:
    print(
        f"\nalarm latency: {result['changes']} changes, {result['devices']} devices, "
        f"{result['poll_interval_s']} s polling"
    )
    print(f"{'path':<34}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    rows = (
        ("end to end (register -> subscriber)", "end_to_end"),
        ("gateway share (poll answer -> sub)", "gateway_share"),
        ("baseline: bare publish -> sub", "baseline_broker_roundtrip"),
    )
    for label, key in rows:
        row = result[key]
        print(f"{label:<34}{row['p50_ms']:>9}{row['p95_ms']:>9}{row['p99_ms']:>9}{row['max_ms']:>9}")
    fallback = result["gateway_share_from_observed_at"]
    print(
        f"gateway share from the simulator's send of the poll answer for {result['changes'] - fallback} "
        f"changes, from observed_at (cut to the ms, ~0.5 ms high) for {fallback}"
    )
    share, floor = result["gateway_share"], result["baseline_broker_roundtrip"]
    print(
        f"vs floor (same run): gateway share p50 {share['p50_ms']} ms = "
        f"{share['p50_ms'] / max(floor['p50_ms'], 0.001):.1f}x the bare publish's {floor['p50_ms']} ms"
    )
    if result["gateway_share_by_stage"]:
        print(f"gateway share by stage (bench.trace){'':<3}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for label, row in result["gateway_share_by_stage"].items():
            print(f"  {label:<36}{row['p50_ms']:>9}{row['p95_ms']:>9}{row['p99_ms']:>9}")
    usage = result["gateway_process"]
    print(
        f"gateway process: RSS {usage['rss_mib']} MiB, CPU {usage['cpu_percent_during_run']} % "
        f"of one core over {usage['run_seconds']} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10, help="changes made at once per round")
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument(
        "--breakdown", action="store_true", help="split the gateway share by stage (a traced gateway)"
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "alarm_latency.json")
    args = parser.parse_args()
    result = asyncio.run(measure(args.changes, args.devices, args.batch, args.poll, args.breakdown))
    publish(result, args.json, print_table)


if __name__ == "__main__":
    main()
