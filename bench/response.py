"""Local response: from a sensor crossing its threshold to the siren written and the call-out on the air.

The stations' yardstick is the one-minute warning: with the district
unreachable, the siren relay must be written and the radio call-out on the
air within 10 s of the crossing. This measures both with the broker down.

Set-up: no broker listens at all; one Modbus TCP simulator with a gas
detector whose unit also carries the siren coil; the KISS TNC emulator with
the duty team's simulated handheld on its air; ``outpost run`` as its own
process with one response rule (second-stage gas: siren on, call the duty
team). Each round crosses the threshold at a random phase of the poll cycle,
waits for the coil and the call-out, then ends the chain as people do: the
handheld replies ``ACK``, the gas clears, the siren is reset by hand.

Figures, p50/p95/p99 over all rounds:
- crossing -> siren coil written on the simulated unit;
- crossing -> call-out frame heard from the TNC by the handheld;
- floors, measured in the same run: a bare Modbus coil write to the same
  simulator, and a bare APRS message through the same TNC to the handheld.
  Half a poll interval (the average wait for the next poll) is the rest of
  the floor under both paths.

Run: ``make bench`` (or ``python -m bench.response --rounds 50``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from bench.alarm_latency import NO_NUISANCE_CONTROL
from bench.common import RESULTS, percentiles, publish
from drivers.radio import aprs
from gateway.config import load_config
from simulators.devices.modbus_server import ModbusTcpSimulator
from simulators.devices.modbus_unit import SimulatedUnit
from simulators.radios.aprs_radio import AprsRadio, Heard
from simulators.radios.kiss_tnc import KissTnc
from tests.support.peers import GatewayProcess, free_port, wait_for_health, write_station

GATEWAY, DUTY, FLOOR_SENDER = "BH4XYZ-10", "BH4ABC-7", "BH4FLR-1"
CALL = "Gas leak in the kitchen"
LEAK, CLEAR = 60.0, 2.0
SIREN_COIL = 5
MIN_INTERVAL = 1.0  # the rule's same action never repeats faster: rounds are spaced wider
YARDSTICK = 10.0  # the one-minute warning's share for siren and call-out, seconds
COIL_LOOKS_EVERY = 0.002  # the simulated coil has no push: its value is looked at this often
FLOOR_SAMPLES = 50


def response_station(tnc_port: int) -> dict:
    """The station file's sections for the siren, the radio and the rule."""
    return {
        "alarm_policy": NO_NUISANCE_CONTROL,
        "actuators": {
            "siren": {
                "device": "kitchen-gas",
                "register": "coil",
                "address": SIREN_COIL,
                "values": {"on": 1, "off": 0},
            }
        },
        "radios": {
            "callsign": GATEWAY,
            "bridges": {"vhf": {"type": "kiss-tcp", "port": tnc_port}},
            "registry": {DUTY: {"name": "Li Wei"}},
            "groups": {"duty": [DUTY]},
        },
        "response": {
            "min_interval": f"{MIN_INTERVAL}s",
            "rules": {
                "kitchen-gas": {
                    "match": {"kind": ["gas"], "grade": "second-stage"},
                    "steps": [
                        {
                            "actuate": {"actuator": "siren", "value": "on", "max_on": "1h"},
                            "call": {"group": "duty", "text": CALL},
                        }
                    ],
                }
            },
        },
    }


def call_to(callsign: str, text: str, since: float):
    """A predicate on what a handheld heard: the message ``text`` to ``callsign`` after ``since``."""

    def wanted(heard: Heard) -> bool:
        packet = heard.packet
        return (
            heard.at >= since
            and isinstance(packet, aprs.AprsMessage)
            and packet.addressee.strip().upper() == callsign
            and packet.text == text
        )

    return wanted


async def coil_on(unit: SimulatedUnit, timeout: float) -> float:
    """When (monotonic) the siren coil reads on."""
    deadline = time.monotonic() + timeout
    while not unit.get("siren"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the siren coil is not on within {timeout:g}s")
        await asyncio.sleep(COIL_LOOKS_EVERY)
    return time.monotonic()


async def bare_coil_writes(port: int) -> list[float]:
    """The floor under the siren path's write: a coil write straight to the same simulator."""
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    latencies = []
    try:
        for _ in range(FLOOR_SAMPLES):
            started = time.monotonic()
            await client.write_coil(SIREN_COIL, False, device_id=1)
            latencies.append(time.monotonic() - started)
    finally:
        client.close()
    return latencies


async def bare_frames(sender: AprsRadio, handheld: AprsRadio) -> list[float]:
    """The floor under the call-out's last hop: an APRS message through the same TNC to the handheld."""
    latencies = []
    for i in range(FLOOR_SAMPLES):
        text = f"floor {i}"
        sent = await sender.message(DUTY, text)
        heard = await handheld.wait_for(call_to(DUTY, text, sent), timeout=10)
        latencies.append(heard.at - sent)
    return latencies


async def measure(rounds: int, poll: float) -> dict:
    async with AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outpost-bench-")))
        tnc = await stack.enter_async_context(KissTnc())
        await tnc.serve_tcp()
        # Before the TNC closes, a moment to hear its parties hang up: otherwise Python 3.11
        # logs each of its connections as cancelled at the loop's end.
        stack.push_async_callback(asyncio.sleep, 0.2)
        handheld = await stack.enter_async_context(AprsRadio(DUTY, tnc.host, tnc.port))
        broker_down = f"mqtt://127.0.0.1:{free_port()}"  # nobody listens: the district cannot be reached
        devices = {
            "kitchen-gas": {"unit": 1, "profile": "gas-detector", "alarms": {"gas": {"off_delay": "0s"}}}
        }
        extra = response_station(tnc.port)
        config = load_config(
            write_station(work, broker_url=broker_down, modbus_port=1, devices=devices, extra=extra)
        )
        unit = SimulatedUnit(1, config.simulated_points("kitchen-gas"), "kitchen-gas")
        unit.set("gas", CLEAR)
        server = await stack.enter_async_context(ModbusTcpSimulator([unit]))
        path = write_station(
            work,
            broker_url=broker_down,
            modbus_port=server.port,
            poll_interval=poll,
            devices=devices,
            extra=extra,
        )
        gateway = GatewayProcess(path, work / "gateway.log")
        gateway.start()
        stack.callback(gateway.stop)
        healthz = f"http://{load_config(path).station.service.metrics_listen}/healthz"
        await wait_for_health(
            healthz,
            lambda h: h["radios"]["vhf"]["connected"] and h["devices"]["kitchen-gas"]["status"] == "ok",
            timeout=30,
        )

        to_siren: list[float] = []
        to_call: list[float] = []
        phase = random.Random(42)
        for index in range(rounds):
            started = time.monotonic()
            await asyncio.sleep(phase.uniform(0, poll))  # the crossing lands anywhere in the poll cycle
            unit.set("gas", LEAK)
            crossed = time.monotonic()
            siren_at, heard = await asyncio.gather(
                coil_on(unit, YARDSTICK * 3),
                handheld.wait_for(call_to(DUTY, CALL, crossed), timeout=YARDSTICK * 3),
            )
            to_siren.append(siren_at - crossed)
            to_call.append(heard.at - crossed)
            await handheld.message(GATEWAY, "ACK", str(index))  # ends the chain
            unit.set("gas", CLEAR)
            await wait_for_health(healthz, lambda h: not h["alarms_active"], timeout=30)
            unit.set("siren", False)  # the manual reset
            await asyncio.sleep(max(0.0, started + MIN_INTERVAL * 1.2 - time.monotonic()))

        coil_floor = await bare_coil_writes(server.port)
        sender = await stack.enter_async_context(AprsRadio(FLOOR_SENDER, tnc.host, tnc.port))
        frame_floor = await bare_frames(sender, handheld)

    return {
        "benchmark": "response",
        "rounds": rounds,
        "poll_interval_s": poll,
        "broker": "down",
        "crossing_to_siren": percentiles(to_siren),
        "crossing_to_call_out": percentiles(to_call),
        "floor_bare_coil_write": percentiles(coil_floor),
        "floor_bare_frame": percentiles(frame_floor),
        "yardstick_ms": YARDSTICK * 1000,
    }


def print_table(result: dict) -> None:
    print(
        f"\nlocal response, broker down: {result['rounds']} crossings, {result['poll_interval_s']} s polling"
    )
    print(f"{'path':<40}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    rows = (
        ("crossing -> siren coil written", "crossing_to_siren"),
        ("crossing -> call-out heard from the TNC", "crossing_to_call_out"),
        ("floor: bare coil write", "floor_bare_coil_write"),
        ("floor: bare frame through the TNC", "floor_bare_frame"),
    )
    for label, key in rows:
        row = result[key]
        print(f"{label:<40}{row['p50_ms']:>9}{row['p95_ms']:>9}{row['p99_ms']:>9}{row['max_ms']:>9}")
    half_poll = result["poll_interval_s"] * 500
    siren, call = result["crossing_to_siren"], result["crossing_to_call_out"]
    siren_floor = half_poll + result["floor_bare_coil_write"]["p50_ms"]
    call_floor = half_poll + result["floor_bare_frame"]["p50_ms"]
    print(
        f"vs floor (same run): siren p50 {siren['p50_ms']} ms against {siren_floor:.1f} ms "
        f"(half a poll + a bare write); call-out p50 {call['p50_ms']} ms against {call_floor:.1f} ms "
        f"(half a poll + a bare frame)"
    )
    worst = max(siren["p99_ms"], call["p99_ms"])
    print(f"one-minute warning: p99 {worst} ms of the {result['yardstick_ms']:.0f} ms allowed")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--json", type=Path, default=RESULTS / "response.json")
    args = parser.parse_args()
    result = asyncio.run(measure(args.rounds, args.poll))
    publish(result, args.json, print_table)


if __name__ == "__main__":
    main()
