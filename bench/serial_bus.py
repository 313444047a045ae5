"""Serial bus: what read coalescing buys on the example station's RS-485 line (Modbus RTU, 9600 8N1).

Why: at 9600 baud a Modbus RTU line spends most of its time on per-request
overhead (an 8-byte request, a 5-byte answer frame, two 3.5-character
silences and the inter-request gap) rather than on data, and every alarm on
the line waits for the line. This benchmark shows how much line time the
planned reads need with and without coalescing, how close the real poller
gets to that, and how much headroom the line has at the configured rates.

Figures, for the example station's ``rs485`` bus, coalesced and (baseline)
with ``coalesce=False`` (one request per point, or per group of points
sharing a word):

- requests per full poll cycle (every device's urgent and routine reads once);
- computed physical line time per full cycle: per request, request frame
  (8 bytes) + answer frame (5 + data bytes) at 11 bits per character (the
  Modbus RTU timing model in ``drivers.modbus.rtu``), a 3.5-character silence
  before each frame, and the bus's inter-request gap; and the line
  utilisation that the configured rates need (urgent reads every
  ``poll_interval``, routine ones every telemetry interval);
- measured, with the poller the gateway builds for the bus
  (``gateway.buses.build_poller``) against the simulated station's line on a
  pty paced at the baud rate (``simulators.station.buses``), run twice:
  at the configured intervals (achieved polls per second, device poll and
  per-tick burst durations, bus busy time / wall time) and flat out (poll
  intervals near zero, every read every cycle, each unit's alarm reads
  first: full-cycle duration, and the line time the answered reads take at
  9600 8N1 with 11-bit characters and 3.5-character silences, as a share
  of the wall time: the bus utilisation against the physical limit);
- baseline in the same run: pymodbus' own RTU client reading the same
  blocks back to back on the same pty (it keeps no silence between an
  answer and its next request);
- a pacing check of the simulated line: bytes through a null modem built as
  the RTU simulator builds its own, timed, as bits per character.

The simulator paces characters at the wire rate but keeps no inter-frame
silence and answers at once, so the measured cycle can be shorter than the
computed physical limit; the "simulator floor" (frames at the simulated
character time plus the poller's gap) is printed to tell the two apart.

Run: ``python -m bench.serial_bus`` (about 80 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from unittest import mock

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusException

import gateway.buses
from bench.common import RESULTS, percentiles, publish
from drivers.modbus.plan import ReadRequest
from drivers.modbus.poller import ModbusDevice, ModbusPoller
from drivers.modbus.registers import ReadPriority, RegisterType
from drivers.modbus.rtu import (
    MODBUS_CHAR_BITS,
    REQUEST_FRAME_BYTES,
    answer_frame_bytes,
    silent_interval,
    transaction_line_time,
)
from drivers.observation import PollOutcome
from drivers.serial_port import SerialSettings
from gateway.buses import modbus_devices, serial_settings
from gateway.config import LoadedConfig, load_config
from gateway.config.models import ModbusRtuBus
from gateway.config.paths import example_station
from simulators.devices.null_modem import NullModem
from simulators.station.buses import start_simulated_station
from tests.support.outcomes import running

BUS = "rs485"
SATURATED_INTERVAL = 0.001  # every device always due: the poller runs the line flat out
SETTLE = 0.5  # after a run: an answer still in flight on the line must not reach the next poller
BURST_SPLIT = 0.25  # of a poll interval: polls closer than this belong to one tick's burst
PACING_BYTES = 192  # 200 ms at 9600 8N1


# -- computed --------------------------------------------------------------------------
def frame_bytes(request: ReadRequest) -> int:
    """Request plus answer frame of one read."""
    return REQUEST_FRAME_BYTES + answer_frame_bytes(request.register.is_bit, request.count)


def physical_line_time(request: ReadRequest, baudrate: int, gap: float) -> float:
    """Both frames at 11-bit characters, a 3.5-character silence before each, then the gap."""
    return transaction_line_time(request, baudrate) + gap


def wire_line_time(request: ReadRequest, settings: SerialSettings, gap: float) -> float:
    """The same at the port's own character size (10 bits for 8N1), silences of 3.5 of those."""
    return settings.transfer_time(frame_bytes(request) + 2 * 3.5) + gap


def simulated_floor(request: ReadRequest, settings: SerialSettings, gap: float) -> float:
    """The least the simulated line can take: both frames at its character time, then the gap."""
    return settings.transfer_time(frame_bytes(request)) + gap


def computed(devices: Sequence[ModbusDevice], settings: SerialSettings, gap: float) -> dict:
    """Requests, bytes and line time per full cycle, and the line time the configured rates need."""
    baud = settings.baudrate
    every = [r for d in devices for r in d.requests]
    schedules = [s for d in devices for s in d.schedules()]
    cycle = sum(physical_line_time(r, baud, gap) for r in every)
    per_second = sum(
        sum(physical_line_time(r, baud, gap) for r in requests) / interval
        for _priority, interval, requests in schedules
    )
    urgent = sum(1 for r in every if r.priority is ReadPriority.URGENT)
    return {
        "requests_per_cycle": {"urgent": urgent, "routine": len(every) - urgent, "total": len(every)},
        "requests_per_second_configured": round(
            sum(len(requests) / interval for _p, interval, requests in schedules), 2
        ),
        "polls_per_second_configured": round(sum(1 / interval for _p, interval, _r in schedules), 3),
        "frame_bytes_per_cycle": sum(frame_bytes(r) for r in every),
        "line_time_per_cycle_ms": round(cycle * 1000, 2),
        "of_which_frames_ms": round(sum(frame_bytes(r) for r in every) * MODBUS_CHAR_BITS / baud * 1000, 2),
        "of_which_silences_and_gaps_ms": round(len(every) * (2 * silent_interval(baud) + gap) * 1000, 2),
        "max_full_cycles_per_second": round(1 / cycle, 2),
        "line_time_per_second_ms": round(per_second * 1000, 1),
        "utilisation_pct": round(100 * per_second, 1),
        "line_time_per_cycle_wire_chars_ms": round(
            sum(wire_line_time(r, settings, gap) for r in every) * 1000, 2
        ),
        "simulator_floor_per_cycle_ms": round(
            sum(simulated_floor(r, settings, gap) for r in every) * 1000, 2
        ),
    }


# -- the simulated line's pacing -------------------------------------------------------
async def _one_way(source: int, target: int, nbytes: int) -> float:
    loop = asyncio.get_running_loop()
    received = bytearray()
    done: asyncio.Future[float] = loop.create_future()

    def readable() -> None:
        with contextlib.suppress(BlockingIOError):
            received.extend(os.read(target, 4096))
        if len(received) >= nbytes and not done.done():
            done.set_result(time.monotonic())

    loop.add_reader(target, readable)
    try:
        started = time.monotonic()
        os.write(source, b"\x55" * nbytes)
        return await asyncio.wait_for(done, 5) - started
    finally:
        loop.remove_reader(target)


async def pacing_check(directory: Path, settings: SerialSettings, repeats: int = 3) -> dict:
    """Time bytes through a null modem made as ``ModbusRtuSimulator`` makes its line."""
    line = NullModem(directory, "pacing", baudrate=settings.baudrate)
    line.plug()
    ends = [os.open(p, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK) for p in (line.port, line.device_port)]
    try:
        elapsed = {}
        for direction, (source, target) in {"to_device": ends, "to_gateway": ends[::-1]}.items():
            samples = [await _one_way(source, target, PACING_BYTES) for _ in range(repeats)]
            elapsed[direction] = statistics.median(samples)
    finally:
        for fd in ends:
            os.close(fd)
        line.unplug()
    bits = {d: round(s * settings.baudrate / PACING_BYTES, 2) for d, s in elapsed.items()}
    return {
        "bytes": PACING_BYTES,
        "elapsed_ms": {d: round(s * 1000, 1) for d, s in elapsed.items()},
        "bits_per_char": bits,
        "wire_bits_per_char": settings.char_bits,
        "modbus_timing_bits_per_char": MODBUS_CHAR_BITS,
        "paced_at_baud_rate": all(abs(b - settings.char_bits) < 0.5 for b in bits.values()),
    }


# -- measured --------------------------------------------------------------------------
def bus_poller(config: LoadedConfig, devices: list[ModbusDevice]) -> ModbusPoller:
    """The poller the gateway builds for the bus, polling ``devices`` instead of its own plan."""
    with mock.patch.object(gateway.buses, "modbus_devices", return_value=devices):
        poller = gateway.buses.build_poller(config, BUS, config.station.buses[BUS])
    assert isinstance(poller, ModbusPoller)
    return poller


def started_at(outcome: PollOutcome) -> float:
    return outcome.received_monotonic - outcome.busy_seconds


def faults(outcomes: Sequence[PollOutcome]) -> dict:
    failed = [o for o in outcomes if not o.ok]
    return {"count": len(failed), "first": [str(o.fault) for o in failed[:3]]}


async def at_configured_rates(config: LoadedConfig, devices: list[ModbusDevice], window: float) -> dict:
    """Poll at the configured intervals for ``window`` seconds."""
    async with running(bus_poller(config, devices)) as outcomes:
        first = await outcomes.next_where(lambda _o: True, timeout=10)
        t0 = started_at(first)
        await outcomes.wait_until(t0 + window + 1.0)
    await asyncio.sleep(SETTLE)
    polls = [o for o in outcomes.items if t0 <= started_at(o) < t0 + window]
    interval = min(d.poll_interval for d in devices)
    bursts: list[list[PollOutcome]] = []
    for outcome in polls:
        if bursts and started_at(outcome) - bursts[-1][-1].received_monotonic < BURST_SPLIT * interval:
            bursts[-1].append(outcome)
        else:
            bursts.append([outcome])
    per_device = {d.name: sum(1 for o in polls if o.device == d.name) / window for d in devices}
    return {
        "window_s": window,
        "polls": len(polls),
        "polls_per_second": round(len(polls) / window, 3),
        "slowest_device_polls_per_second": round(min(per_device.values()), 3),
        "device_poll": percentiles([o.busy_seconds for o in polls]),
        "burst_all_devices": percentiles([b[-1].received_monotonic - started_at(b[0]) for b in bursts]),
        "bus_busy_pct": round(100 * sum(o.busy_seconds for o in polls) / window, 1),
        "faults": faults(polls),
    }


def line_use(reads: Sequence[ReadRequest], wall: float, settings: SerialSettings) -> dict:
    """How much of the line ``reads`` answered within ``wall`` seconds used, two ways.

    Against the physical limit: each read as the Modbus timing model puts it on a
    9600 8N1 wire (11-bit characters, a 3.5-character silence before each frame).
    Against this line's own floor: both frames at the pty's character time plus the
    one 3.5-character silence the gateway keeps before its request (the simulator
    keeps none before its answer); what is left is the simulator's turnaround and
    the client's own time.
    """
    baud = settings.baudrate
    physical = sum(transaction_line_time(r, baud) for r in reads)
    floor = sum(simulated_floor(r, settings, silent_interval(baud)) for r in reads)
    return {
        "reads": len(reads),
        "wall_s": round(wall, 3),
        "reads_per_second": round(len(reads) / wall, 1),
        "of_physical_limit_pct": round(100 * physical / wall, 1),
        "of_line_floor_pct": round(100 * floor / wall, 1),
    }


async def saturated(config: LoadedConfig, devices: list[ModbusDevice], cycles: int) -> dict:
    """Flat out: every device always due, all its reads in one poll, its alarm reads first
    (``ModbusDevice.schedules``): ``cycles`` full cycles back to back."""
    flat_out = [replace(d, poll_interval=SATURATED_INTERVAL, routine_interval=None) for d in devices]
    names = {d.name for d in devices}
    wanted = len(devices) * (cycles + 1)  # the first cycle only sets the pace
    async with running(bus_poller(config, flat_out)) as outcomes:
        await outcomes.next_where(lambda _o: len(outcomes.items) >= wanted, timeout=60)
    await asyncio.sleep(SETTLE)
    rounds: list[list[PollOutcome]] = []
    current: list[PollOutcome] = []
    for outcome in outcomes.items:
        current.append(outcome)
        if {o.device for o in current} == names:
            rounds.append(current)
            current = []
    measured = rounds[1 : cycles + 1]
    periods = [
        later[-1].received_monotonic - earlier[-1].received_monotonic
        for earlier, later in zip(rounds, measured, strict=False)
    ]
    polls = [o for r in measured for o in r]
    wall = measured[-1][-1].received_monotonic - rounds[0][-1].received_monotonic
    requests = {d.name: d.requests for d in devices}
    answered = [r for o in polls if o.ok for r in requests[o.device]]
    return {
        "cycles": len(measured),
        "polls_per_cycle_max": max(len(r) for r in measured),
        "full_cycle": percentiles(periods),
        "cycles_per_second": round(len(measured) / wall, 2),
        "device_poll": percentiles([o.busy_seconds for o in polls]),
        "bus_busy_pct": round(100 * sum(o.busy_seconds for o in polls) / wall, 1),
        "faults": faults(polls),
        "line_use": line_use(answered, wall, serial_settings(_rtu_bus(config))),
    }


async def bare_pymodbus(config: LoadedConfig, devices: list[ModbusDevice], cycles: int) -> dict:
    """The baseline: pymodbus' own RTU client reading the same blocks back to back, nothing else."""
    bus = _rtu_bus(config)
    client = AsyncModbusSerialClient(
        bus.port,
        baudrate=bus.baudrate,
        bytesize=bus.data_bits,
        parity=serial_settings(bus).parity.letter,
        stopbits=bus.stop_bits,
        timeout=bus.timeout,
        retries=0,
    )
    reads = {
        RegisterType.COIL: client.read_coils,
        RegisterType.DISCRETE_INPUT: client.read_discrete_inputs,
        RegisterType.HOLDING: client.read_holding_registers,
        RegisterType.INPUT: client.read_input_registers,
    }
    ordered = [(d.unit, r) for d in devices for _p, _i, requests in d.schedules() for r in requests]
    answered: list[ReadRequest] = []
    failed = 0
    assert await client.connect(), f"cannot open {bus.port}"
    try:
        started = 0.0
        for cycle in range(cycles + 1):  # the first cycle only sets the pace
            if cycle == 1:
                started = time.monotonic()
            for unit, request in ordered:
                try:
                    response = await reads[request.register](
                        request.address, count=request.count, device_id=unit
                    )
                except ModbusException:
                    failed += 1
                    continue
                if cycle and not response.isError():
                    answered.append(request)
        wall = time.monotonic() - started
    finally:
        client.close()
    await asyncio.sleep(SETTLE)
    return {"line_use": line_use(answered, wall, serial_settings(bus)), "failed_reads": failed}


def _rtu_bus(config: LoadedConfig) -> ModbusRtuBus:
    bus = config.station.buses[BUS]
    assert isinstance(bus, ModbusRtuBus)
    return bus


async def measure(window: float | None, cycles: int) -> dict:
    full = load_config(example_station())
    bus = full.station.buses[BUS]
    assert isinstance(bus, ModbusRtuBus)
    # Only this bus: the station's other simulators would share the event loop with the poller.
    on_bus = {n: d for n, d in full.station.devices.items() if d.bus == BUS}
    config = replace(full, station=full.station.model_copy(update={"buses": {BUS: bus}, "devices": on_bus}))
    settings = serial_settings(bus)
    gap = silent_interval(bus.baudrate) if bus.inter_request_gap is None else bus.inter_request_gap
    variants = {
        "coalesced": modbus_devices(config, BUS),
        "no_coalescing": modbus_devices(config, BUS, coalesce=False),
    }
    if window is None:  # one slowest schedule, so routine reads come as often as configured
        window = max(i for d in variants["coalesced"] for _p, i, _r in d.schedules())
    result: dict = {
        "benchmark": "serial_bus",
        "bus": {
            "name": BUS,
            "type": bus.type,
            "baudrate": bus.baudrate,
            "format": f"{bus.data_bits}{settings.parity.letter}{bus.stop_bits}",
            "devices": [f"{d.name} (unit {d.unit})" for d in variants["coalesced"]],
            "silent_interval_ms": round(silent_interval(bus.baudrate) * 1000, 3),
            "inter_request_gap_ms": round(gap * 1000, 3),
            "inter_request_gap_source": "configured" if bus.inter_request_gap is not None else "default",
            "timeout_s": bus.timeout,
            "retries": bus.retries,
        },
    }
    async with AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outpost-bench-")))
        result["pacing_check"] = await pacing_check(work, settings)
        station = await start_simulated_station(config, stack)
        result["simulated_line"] = station.describe(BUS)
        result["variants"] = {}
        for name, devices in variants.items():
            result["variants"][name] = {
                "computed": computed(devices, settings, gap),
                "measured_configured": await at_configured_rates(station.config, devices, window),
                "measured_saturated": await saturated(station.config, devices, cycles),
            }
        result["bare_pymodbus_flat_out"] = await bare_pymodbus(station.config, variants["coalesced"], cycles)
    fast, slow = result["variants"]["coalesced"], result["variants"]["no_coalescing"]
    for variant in (fast, slow):
        limit = variant["computed"]["line_time_per_cycle_ms"]
        cycle = variant["measured_saturated"]["full_cycle"]["mean_ms"]
        variant["measured_cycle_vs_computed_limit"] = round(cycle / limit, 2)
        variant["measured_cycle_vs_simulator_floor"] = round(
            cycle / variant["computed"]["simulator_floor_per_cycle_ms"], 2
        )
    result["coalescing_gain"] = {
        "requests_per_cycle": round(
            slow["computed"]["requests_per_cycle"]["total"] / fast["computed"]["requests_per_cycle"]["total"],
            2,
        ),
        "computed_line_time": round(
            slow["computed"]["line_time_per_cycle_ms"] / fast["computed"]["line_time_per_cycle_ms"], 2
        ),
        "measured_full_cycle": round(
            slow["measured_saturated"]["full_cycle"]["mean_ms"]
            / fast["measured_saturated"]["full_cycle"]["mean_ms"],
            2,
        ),
    }
    return result


# -- output ----------------------------------------------------------------------------
def print_table(result: dict) -> None:
    bus, pacing = result["bus"], result["pacing_check"]
    fast, slow = result["variants"]["coalesced"], result["variants"]["no_coalescing"]
    print(
        f"\nserial bus {bus['name']}: {bus['type']} {bus['baudrate']} {bus['format']}, "
        f"{len(bus['devices'])} units, "
        f"gap {bus['inter_request_gap_ms']} ms ({bus['inter_request_gap_source']}), "
        f"3.5-char silence {bus['silent_interval_ms']} ms, timeout {bus['timeout_s']} s"
    )
    print(
        f"simulated line pacing: {pacing['bytes']} bytes in {pacing['elapsed_ms']['to_device']} ms "
        f"to device / {pacing['elapsed_ms']['to_gateway']} ms to gateway = "
        f"{pacing['bits_per_char']['to_device']} / {pacing['bits_per_char']['to_gateway']} bits per char "
        f"(wire {pacing['wire_bits_per_char']}, Modbus timing model {pacing['modbus_timing_bits_per_char']})"
    )

    def row(label: str, a: object, b: object) -> None:
        print(f"{label:<46}{a!s:>20}{b!s:>20}")

    def dist(part: dict) -> str:
        return f"{part['p50_ms']}/{part['p95_ms']}/{part['mean_ms']}"

    row("", "coalesced", "no coalescing")
    cf, cs = fast["computed"], slow["computed"]

    def requests(c: dict) -> str:
        r = c["requests_per_cycle"]
        return f"{r['total']} ({r['urgent']}+{r['routine']})"

    row("requests per full cycle (urgent+routine)", requests(cf), requests(cs))
    row(
        "requests/s at configured rates",
        cf["requests_per_second_configured"],
        cs["requests_per_second_configured"],
    )
    row("frame bytes per full cycle", cf["frame_bytes_per_cycle"], cs["frame_bytes_per_cycle"])
    print("computed (11-bit chars, 2 x 3.5-char silence + gap per read)")
    row("  line time per full cycle (ms)", cf["line_time_per_cycle_ms"], cs["line_time_per_cycle_ms"])
    row("    frames / silences+gaps (ms)", _pair(cf), _pair(cs))
    row("  max full cycles/s", cf["max_full_cycles_per_second"], cs["max_full_cycles_per_second"])
    row(
        "  line time/s at configured rates (ms)", cf["line_time_per_second_ms"], cs["line_time_per_second_ms"]
    )
    row("  utilisation at configured rates (%)", cf["utilisation_pct"], cs["utilisation_pct"])
    row(
        f"  same at the wire's {pacing['wire_bits_per_char']}-bit chars (ms)",
        cf["line_time_per_cycle_wire_chars_ms"],
        cs["line_time_per_cycle_wire_chars_ms"],
    )
    row(
        "  simulator floor per full cycle (ms)",
        cf["simulator_floor_per_cycle_ms"],
        cs["simulator_floor_per_cycle_ms"],
    )
    mf, ms = fast["measured_configured"], slow["measured_configured"]
    print(f"measured at configured intervals ({mf['window_s']:g} s window)")
    row(
        f"  polls/s (configured {cf['polls_per_second_configured']})",
        mf["polls_per_second"],
        ms["polls_per_second"],
    )
    row(
        "  slowest device polls/s",
        mf["slowest_device_polls_per_second"],
        ms["slowest_device_polls_per_second"],
    )
    row("  device poll p50/p95/mean (ms)", dist(mf["device_poll"]), dist(ms["device_poll"]))
    row(
        "  tick burst, all devices p50/p95/mean (ms)",
        dist(mf["burst_all_devices"]),
        dist(ms["burst_all_devices"]),
    )
    row("  bus busy / wall time (%)", mf["bus_busy_pct"], ms["bus_busy_pct"])
    row("  faults", mf["faults"]["count"], ms["faults"]["count"])
    sf, ss = fast["measured_saturated"], slow["measured_saturated"]
    print(f"measured flat out ({sf['cycles']} full cycles, every read every cycle, alarm reads first)")
    row("  full cycle p50/p95/mean (ms)", dist(sf["full_cycle"]), dist(ss["full_cycle"]))
    row("  full cycles/s (computed max above)", sf["cycles_per_second"], ss["cycles_per_second"])
    row("  device poll p50/p95/mean (ms)", dist(sf["device_poll"]), dist(ss["device_poll"]))
    row("  bus busy / wall time (%)", sf["bus_busy_pct"], ss["bus_busy_pct"])
    row("  faults", sf["faults"]["count"], ss["faults"]["count"])
    row(
        "  measured cycle / computed limit",
        fast["measured_cycle_vs_computed_limit"],
        slow["measured_cycle_vs_computed_limit"],
    )
    row(
        "  measured cycle / simulator floor",
        fast["measured_cycle_vs_simulator_floor"],
        slow["measured_cycle_vs_simulator_floor"],
    )
    row(
        "  line used, of the physical limit (%)",
        sf["line_use"]["of_physical_limit_pct"],
        ss["line_use"]["of_physical_limit_pct"],
    )
    row(
        "  line used, of this line's floor (%)",
        sf["line_use"]["of_line_floor_pct"],
        ss["line_use"]["of_line_floor_pct"],
    )
    bare = result["bare_pymodbus_flat_out"]["line_use"]
    print(
        f"vs floor (same run): flat out with alarm reads first, the gateway uses "
        f"{sf['line_use']['of_physical_limit_pct']} % of the physical limit of the line "
        f"({bus['baudrate']} {bus['format']}, 11-bit characters, 3.5-character silences; "
        f"{sf['line_use']['reads_per_second']} reads/s); a bare pymodbus RTU client loop on the same pty "
        f"{bare['of_physical_limit_pct']} % ({bare['reads_per_second']} reads/s); the pty paces 10-bit "
        "characters and the simulator answers at once, so 100 % is not a ceiling here"
    )
    gain = result["coalescing_gain"]
    print(
        f"coalescing: {gain['requests_per_cycle']}x fewer requests, {gain['computed_line_time']}x less "
        f"computed line time, {gain['measured_full_cycle']}x shorter measured full cycle"
    )


def _pair(c: dict) -> str:
    return f"{c['of_which_frames_ms']}/{c['of_which_silences_and_gaps_ms']}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--window", type=float, default=None, help="seconds at configured rates (default: slowest interval)"
    )
    parser.add_argument("--cycles", type=int, default=20, help="saturated full cycles per variant")
    parser.add_argument("--json", type=Path, default=RESULTS / "serial_bus.json")
    args = parser.parse_args()
    result = asyncio.run(measure(args.window, args.cycles))
    publish(result, args.json, print_table)


if __name__ == "__main__":
    main()
