"""mbpoll (libmodbus, an independent master) against the RTU simulator: the simulated slaves,
and the failures they are told to produce, are what a real master sees on a real line."""

from __future__ import annotations

import asyncio
import re
import shutil

import pytest

from drivers.modbus.registers import DataType, RegisterPoint, RegisterType, WordOrder
from simulators.devices.modbus_rtu import ModbusRtuSimulator
from simulators.devices.modbus_unit import SimulatedUnit
from tests.support.modbus_crc import crc16_modbus

POINTS = [
    RegisterPoint("gas", RegisterType.HOLDING, 0, scale=0.1),
    RegisterPoint("status", RegisterType.HOLDING, 1),
    RegisterPoint("level", RegisterType.INPUT, 4, DataType.F32, WordOrder.LITTLE),
    RegisterPoint("relay", RegisterType.COIL, 3),
    RegisterPoint("door", RegisterType.DISCRETE_INPUT, 6),
]


async def mbpoll(port: str, *args: str) -> tuple[int, str]:
    """One poll by mbpoll at 9600 8N1 (``-v`` shows the bytes on the wire)."""
    if shutil.which("mbpoll") is None:
        raise RuntimeError("mbpoll is not installed: run scripts/install-peers (make test does)")
    process = await asyncio.create_subprocess_exec(
        *("mbpoll", "-m", "rtu", "-b", "9600", "-d", "8", "-P", "none", "-s", "1"),
        *("-1", "-o", "0.5", "-v", *args, port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 20)
    return process.returncode or 0, output.decode(errors="replace")


def readings(output: str) -> dict[int, str]:
    """``[reference]: value`` lines of mbpoll's output."""
    return {int(ref): value for ref, value in re.findall(r"^\[(\d+)\]:\s+(\S+)", output, re.M)}


def received(output: str) -> bytes:
    """The answer libmodbus received, from its ``<hh>`` trace."""
    answer = output.split("Waiting for a confirmation...", 1)[-1]
    return bytes(int(byte, 16) for byte in re.findall(r"<([0-9A-F]{2})>", answer))


@pytest.fixture
async def line(tmp_path):
    units = [SimulatedUnit(unit, POINTS) for unit in (1, 2, 3, 4, 5)]
    for unit in units:
        unit.set("gas", 10.0 * unit.unit)
        unit.set("status", unit.unit)
    units[0].set("level", 3.25)
    units[0].set("relay", True)
    units[0].set("door", True)
    async with ModbusRtuSimulator(units, tmp_path) as simulator:
        yield simulator


async def test_mbpoll_reads_every_register_kind_from_the_simulated_slaves(line):
    code, output = await mbpoll(line.port, "-a", "1,2", "-t", "4", "-r", "1", "-c", "2")
    assert code == 0, output
    per_slave = output.split("-- Polling slave")
    assert readings(per_slave[1]) == {1: "100", 2: "1"}
    assert readings(per_slave[2]) == {1: "200", 2: "2"}
    # 32-bit float in little word order (CD AB), mbpoll's default order.
    code, output = await mbpoll(line.port, "-a", "1", "-t", "3:float", "-r", "5")
    assert (code, readings(output)) == (0, {5: "3.25"}), output
    code, output = await mbpoll(line.port, "-a", "1", "-t", "0", "-r", "4")
    assert (code, readings(output)) == (0, {4: "1"}), output
    code, output = await mbpoll(line.port, "-a", "1", "-t", "1", "-r", "7")
    assert (code, readings(output)) == (0, {7: "1"}), output


async def test_mbpoll_sees_the_failures_the_simulator_is_told_to_produce(line):
    line.unit(3).go_silent()
    line.unit(4).answer_with_bad_checksum()
    line.unit(5).answer_with_exception()

    code, output = await mbpoll(line.port, "-a", "3", "-t", "4")
    assert code != 0
    assert received(output) == b""

    code, output = await mbpoll(line.port, "-a", "4", "-t", "4")
    assert code != 0  # libmodbus rejected it...
    frame = received(output)
    assert frame[:3] == bytes([4, 3, 2])  # ...although a whole answer came,
    assert len(frame) == 7
    assert frame[-2:] != crc16_modbus(frame[:-2])  # with a CRC that does not fit it

    code, output = await mbpoll(line.port, "-a", "5", "-t", "4")
    assert code != 0
    assert received(output)[:3] == bytes([5, 0x83, 4])  # exception 4, device failure

    line.unit(4).answer_normally()
    code, output = await mbpoll(line.port, "-a", "4", "-t", "4")
    assert (code, readings(output)) == (0, {1: "400"}), output
    frame = received(output)
    assert frame[-2:] == crc16_modbus(frame[:-2])
