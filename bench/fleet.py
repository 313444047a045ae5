"""Fleet sizing: how many stations one broker carries, with what latency and delivery.

Set-up: a private Mosquitto per run; ``outpost fleet``'s engine
(:func:`simulators.fleet.run.run_fleet`) with N stations in this process and the
platform subscriber in a child process.

Figures per run: messages per second acknowledged by the broker, publish
latency until PUBACK (p50/p95/p99), delivery to the platform (received/sent,
lost, alarms, latency), and CPU and RSS of this process (all stations) and of
Mosquitto. Runs: 200 and 1 500 stations against Mosquitto's default
configuration, and both again against a tuned one: ``set_tcp_nodelay true``
(by default Mosquitto's small PUBACKs wait for the client's delayed ACK, about
40 ms) and ``max_queued_messages 100000`` (by default a client may have 1 000
messages queued beyond those in flight: a platform subscriber that falls
behind while a thousand stations burst at once loses the rest).

Baseline, measured in the same run: a bare single-client QoS 1 publish loop
(aiomqtt, 64 in flight, alarm-sized payloads) into the same kind of broker,
with one subscriber: the broker's and this machine's ceiling for one
connection.

Run: ``make bench`` (or ``python -m bench.fleet --stations 200,1500``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import time
from pathlib import Path

import aiomqtt

from bench.common import RESULTS, percentiles, process_usage, publish
from simulators.fleet.run import FleetSettings, run_fleet
from tests.support.peers import Mosquitto

TUNED = ("set_tcp_nodelay true", "max_queued_messages 100000")
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


async def baseline(url: str, messages: int = 10_000, window: int = 64, size: int = 950) -> dict:
    """One client publishing as fast as PUBACKs allow; one subscriber receiving."""
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    latencies: list[float] = []
    received = 0
    done = asyncio.Event()
    async with (
        aiomqtt.Client(host, int(port), socket_options=NODELAY) as subscriber,
        aiomqtt.Client(
            host,
            int(port),
            max_inflight_messages=window,
            socket_options=NODELAY,
        ) as publisher,
    ):
        publisher.pending_calls_threshold = window  # a full window is the point, not a warning
        await subscriber.subscribe("bench/baseline", qos=1)

        async def receive() -> None:
            nonlocal received
            async for _ in subscriber.messages:
                received += 1
                if received == messages:
                    done.set()

        async def send_one() -> None:
            started = time.perf_counter()
            await publisher.publish("bench/baseline", b"x" * size, qos=1)
            latencies.append(time.perf_counter() - started)

        receiver = asyncio.create_task(receive())
        started = time.perf_counter()
        for first in range(0, messages, window):
            await asyncio.gather(*(send_one() for _ in range(min(window, messages - first))))
        elapsed = time.perf_counter() - started
        try:
            async with asyncio.timeout(30):
                await done.wait()
        except TimeoutError:
            pass
        receiver.cancel()
    return {
        "messages": messages,
        "per_second": round(messages / elapsed, 1),
        "publish_latency": percentiles(latencies),
        "received": received,
        "ratio": round(received / messages, 6),
    }


async def fleet_run(work: Path, settings: FleetSettings, options: tuple[str, ...]) -> dict:
    broker = Mosquitto(work, options=options)
    broker.start()
    try:
        assert broker.process is not None
        settings = FleetSettings(**{**settings.__dict__, "broker": broker.url})
        ours_before, broker_before = process_usage(os.getpid()), process_usage(broker.process.pid)
        started = time.monotonic()
        report = await run_fleet(settings)
        elapsed = time.monotonic() - started
        ours, theirs = process_usage(os.getpid()), process_usage(broker.process.pid)
    finally:
        broker.stop()
    report["broker_options"] = list(options)
    report["processes"] = {
        "run_seconds": round(elapsed, 1),
        "fleet_cpu_percent": round(100 * (ours["cpu_seconds"] - ours_before["cpu_seconds"]) / elapsed, 1),
        "fleet_rss_mib": ours["rss_mib"],
        "mosquitto_cpu_percent": round(
            100 * (theirs["cpu_seconds"] - broker_before["cpu_seconds"]) / elapsed, 1
        ),
        "mosquitto_rss_mib": theirs["rss_mib"],
    }
    return report


async def measure(stations: list[int], template: FleetSettings) -> dict:
    runs = []
    with tempfile.TemporaryDirectory(prefix="outpost-bench-fleet-") as tmp:
        work = Path(tmp)
        bases = {}
        for name, options in (("default", ()), ("tuned", TUNED)):
            broker = Mosquitto(work / f"baseline-{name}", options=options)
            broker.start()
            try:
                bases[name] = await baseline(broker.url)
            finally:
                broker.stop()
        plans = [(count, options) for options in ((), TUNED) for count in stations]
        for index, (count, options) in enumerate(plans):
            settings = FleetSettings(**{**template.__dict__, "stations": count})
            runs.append(await fleet_run(work / f"run-{index}", settings, options))
    return {"benchmark": "fleet", "tuned_broker": list(TUNED), "baseline_single_client": bases, "runs": runs}


def print_table(result: dict) -> None:
    first = result["runs"][0]["settings"]
    print(
        f"\nfleet: {first['duration_s']:g} s per run, {first['devices_per_station']} devices per station, "
        f"telemetry every {first['telemetry_interval_s']:g} s, alarm burst {first['alarm_burst']}, "
        f"reconnect storm {first['reconnect_storm'] * 100:g} %; latencies in ms, publish -> PUBACK"
    )
    print(
        f"{'run':<34}{'msg/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'steady p99':>11}{'alarm p99':>10}"
        f"{'delivered':>11}{'alarms':>12}{'dlv p99':>9}{'fleet CPU':>10}{'RSS':>6}{'broker CPU':>11}"
    )
    for name, base in result["baseline_single_client"].items():
        lat = base["publish_latency"]
        label = f"baseline: 1 client, {name} broker"
        print(
            f"{label:<34}{base['per_second']:>8}{lat['p50_ms']:>7}{lat['p95_ms']:>7}{lat['p99_ms']:>7}"
            f"{'':>21}{base['ratio'] * 100:>10.2f}%"
        )
    for run in result["runs"]:
        settings, delivery, lat = run["settings"], run["delivery"], run["publish_latency"]
        usage = run["processes"]
        label = f"{settings['stations']} stations, " + (
            "tuned broker" if run["broker_options"] else "default broker"
        )
        alarms = f"{delivery['alarms_received']}/{delivery['alarms_sent']}"
        alarm_p99 = run["publish_latency_by_kind"].get("alarm", {}).get("p99_ms")
        print(
            f"{label:<34}{run['published']['per_second']:>8}{lat['p50_ms']:>7}{lat['p95_ms']:>7}{lat['p99_ms']:>7}"
            f"{run['steady_publish_latency']['p99_ms']:>11}{alarm_p99!s:>10}"
            f"{delivery['ratio'] * 100:>10.2f}%{alarms:>12}{delivery['latency']['p99_ms']:>9}"
            f"{usage['fleet_cpu_percent']:>9}%{usage['fleet_rss_mib']:>5.0f}M{usage['mosquitto_cpu_percent']:>10}%"
        )
    floor = max(base["per_second"] for base in result["baseline_single_client"].values())
    best = max(run["published"]["per_second"] for run in result["runs"])
    print(
        f"vs floor (same run): the busiest fleet publishes {best / max(floor, 1):.2f}x one bare client's rate"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", default="200,1500", help="comma-separated fleet sizes")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--telemetry-interval", type=float, default=10.0)
    parser.add_argument("--alarm-burst", type=int, default=3)
    parser.add_argument("--reconnect-storm", type=float, default=0.2)
    parser.add_argument("--json", type=Path, default=RESULTS / "fleet.json")
    args = parser.parse_args()
    template = FleetSettings(
        broker="",
        duration=args.duration,
        telemetry_interval=args.telemetry_interval,
        alarm_burst=args.alarm_burst,
        reconnect_storm=args.reconnect_storm,
    )
    stations = [int(count) for count in args.stations.split(",")]
    result = asyncio.run(measure(stations, template))
    publish(result, args.json, print_table)


if __name__ == "__main__":
    main()
