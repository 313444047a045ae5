"""The Modbus TCP simulator the peer benchmark polls, in a process of its own.

Why a process of its own: answering thousands of reads a second takes CPU;
in the benchmark's own process it would compete with the subscriber that
timestamps arrivals, and its cost would blur what is measured.

It serves one unit per device of ``STATION_FILE`` (gas detectors), the gas
value always a change beyond the telemetry deadband but far below the alarm:

- ``steady``: each unit's value moves once per ``INTERVAL`` seconds, each at
  its own phase;
- ``flat``: every read of a unit's gas register finds a new value, so a
  contender polling flat out has a sample to publish on every read.

It prints the port it listens on, then serves until terminated. Steady, given
an ``ANSWERS`` file, it appends to it a line ``unit value time`` as each
unit's first answer carrying a new value is sent (on the simulator's packet
hook, :mod:`bench.answers`): where a contender's own cost starts, to the
microsecond and the same for every contender.

Run (``bench.peer`` does): ``python -m bench.simulator STATION_FILE steady|flat INTERVAL [ANSWERS]``.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path

from bench.answers import AnswerClock, ClockedSimulator
from drivers.modbus.registers import RegisterType
from gateway.config import load_config
from simulators.devices.modbus_server import ModbusTcpSimulator
from simulators.devices.modbus_unit import SimulatedUnit

LOW, HIGH = 3.0, 6.0  # %LEL: a change beyond the 1 %LEL deadband, far below the 20 %LEL alarm
GAS = "gas"


class ChangesOnEveryRead(SimulatedUnit):
    """A unit whose gas value alternates between ``LOW`` and ``HIGH`` on each read of it."""

    high = False

    async def _on_request(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ):
        gas = self.points[GAS]
        if function_code == 3 and address <= gas.address < address + count:  # a holding read of it
            self.high = not self.high
            self.set(GAS, HIGH if self.high else LOW)
        return await super()._on_request(function_code, start_address, address, count, registers, set_values)


async def move_values(units: list[SimulatedUnit], interval: float, clock: AnswerClock | None) -> None:
    """Every unit's value moves once per interval, each at its own phase (its first answer timed)."""
    step = interval / max(len(units), 1)
    high = False
    while True:
        high = not high
        for unit in units:
            value = HIGH if high else LOW
            unit.set(GAS, value)
            if clock is not None:
                clock.expect(unit.unit, value)
            await asyncio.sleep(step)


async def serve(station: Path, mode: str, interval: float, answers: Path | None) -> None:
    config = load_config(station)
    kind = ChangesOnEveryRead if mode == "flat" else SimulatedUnit
    units = [kind(d.unit, config.simulated_points(n), n) for n, d in config.station.devices.items()]
    for unit in units:
        assert unit.points[GAS].register is RegisterType.HOLDING
        unit.set(GAS, LOW)
    clock = None
    if mode == "steady" and answers is not None:
        log = answers.open("a", buffering=1)  # a line at a time: read while this runs
        values = {unit.unit: unit for unit in units}

        def sent(unit: int, at: float) -> None:
            log.write(f"{unit} {values[unit].get(GAS)} {at!r}\n")

        clock = AnswerClock(units[0].points[GAS], sent)
        for unit in units:
            clock.expect(unit.unit, LOW)  # the first answers too: a contender's first samples
    server_class = ModbusTcpSimulator if clock is None else functools.partial(ClockedSimulator, clock=clock)
    async with server_class(units) as server:
        print(server.port, flush=True)
        if mode == "steady":
            await move_values(units, interval, clock)
        else:
            await asyncio.Event().wait()  # until terminated


def main() -> None:
    if len(sys.argv) not in (4, 5) or sys.argv[2] not in ("steady", "flat"):
        sys.exit(f"usage: python -m bench.simulator STATION_FILE steady|flat INTERVAL [ANSWERS]\n\n{__doc__}")
    station, mode, interval = sys.argv[1:4]
    answers = Path(sys.argv[4]) if len(sys.argv) == 5 else None
    asyncio.run(serve(Path(station), mode, float(interval), answers))


if __name__ == "__main__":
    main()
