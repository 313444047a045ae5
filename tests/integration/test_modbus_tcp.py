"""The Modbus TCP poller against the pymodbus simulator: values, faults, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest
from pymodbus.constants import ExcCodes

from drivers.modbus.plan import plan_reads
from drivers.modbus.poller import Backoff, ModbusDevice
from drivers.modbus.registers import DataType, RegisterPoint, RegisterType, WordOrder
from drivers.modbus.tcp import tcp_poller
from drivers.observation import FaultCategory
from simulators.devices.modbus_server import ModbusTcpSimulator
from simulators.devices.modbus_unit import SimulatedUnit
from tests.support.outcomes import Outcomes, running, values

POINTS = [
    RegisterPoint("gas", RegisterType.HOLDING, 0, scale=0.1, unit="%LEL"),
    RegisterPoint("high_alarm", RegisterType.HOLDING, 1, bit=1),
    RegisterPoint("level", RegisterType.INPUT, 4, DataType.F32, WordOrder.LITTLE, unit="m"),
    RegisterPoint("relay", RegisterType.COIL, 17),
    RegisterPoint("door", RegisterType.DISCRETE_INPUT, 2),
]


@contextlib.asynccontextmanager
async def polling(server: ModbusTcpSimulator, *units: int):
    devices = [ModbusDevice(f"dev{u}", u, 0.1, tuple(plan_reads(POINTS))) for u in units]
    poller = tcp_poller(
        host="127.0.0.1", port=server.port, timeout=0.3, devices=devices, backoff=Backoff(0.05, 0.2)
    )
    async with running(poller) as outcomes:
        yield outcomes


@pytest.fixture
async def server():
    units = [SimulatedUnit(1, POINTS), SimulatedUnit(2, POINTS)]
    async with ModbusTcpSimulator(units) as simulator:
        yield simulator


async def test_polls_decode_every_register_kind(server):
    unit = server.unit(1)
    unit.set("gas", 61.5)
    unit.set("high_alarm", True)
    unit.set("level", 3.25)
    unit.set("relay", True)
    unit.set("door", True)
    async with polling(server, 1) as outcomes:
        outcome = await outcomes.next_where(lambda o: o.ok)
    assert values(outcome) == {
        "gas": 61.5,
        "high_alarm": True,
        "level": 3.25,
        "relay": True,
        "door": True,
    }
    assert {o.unit for o in outcome.observations if o.point == "gas"} == {"%LEL"}


async def test_silent_unit_times_out_while_its_neighbour_keeps_answering(server):
    server.unit(2).go_silent()
    async with polling(server, 1, 2) as outcomes:
        fault = await outcomes.next_where(lambda o: o.device == "dev2" and not o.ok)
        assert fault.fault.category is FaultCategory.TIMEOUT
        assert "no response" in fault.fault.reason
        await outcomes.next_where(lambda o: o.device == "dev1" and o.ok)
        server.unit(2).answer_normally()
        await outcomes.next_where(lambda o: o.device == "dev2" and o.ok)


async def test_exception_response_becomes_a_fault_with_the_code(server):
    server.unit(1).answer_with_exception(ExcCodes.DEVICE_BUSY)
    async with polling(server, 1) as outcomes:
        outcome = await outcomes.next_where(lambda o: not o.ok)
    assert outcome.fault.category is FaultCategory.EXCEPTION
    assert outcome.fault.reason.startswith("exception 6 (device busy) reading")


@pytest.mark.parametrize(("value", "shown"), [(float("nan"), "NaN"), (float("-inf"), "-inf")])
async def test_a_float_register_holding_nan_or_infinity_is_a_device_fault(server, value, shown):
    unit = server.unit(1)
    unit.set("level", value)
    async with polling(server, 1) as outcomes:
        outcome = await outcomes.next_where(lambda o: not o.ok)
        assert outcome.fault.category is FaultCategory.DECODE
        assert outcome.fault.reason == f"implausible reading: level is {shown}"
        unit.set("level", 2.5)
        back = await outcomes.next_where(lambda o: o.ok)
    assert values(back)["level"] == 2.5


async def test_unknown_unit_behind_a_gateway_is_a_fault(server):
    async with polling(server, 9) as outcomes:
        outcome = await outcomes.next_where(lambda o: not o.ok)
    assert "gateway no response" in outcome.fault.reason


async def test_reconnects_by_itself_when_the_server_comes_back():
    unit = SimulatedUnit(1, POINTS)
    unit.set("gas", 5.0)
    first = ModbusTcpSimulator([unit])
    await first.start()
    port = first.port
    async with polling(first, 1) as outcomes:
        await outcomes.next_where(lambda o: o.ok)
        await first.stop()
        lost = await outcomes.next_where(lambda o: not o.ok)
        assert lost.fault.category is FaultCategory.CONNECTION
        unit.set("gas", 7.0)
        async with ModbusTcpSimulator([unit], port=port):
            back = await outcomes.next_where(lambda o: o.ok)
    assert values(back)["gas"] == 7.0


async def test_retries_ask_again_before_a_poll_fails(server):
    server.unit(2).go_silent()
    devices = [ModbusDevice("dev2", 2, 5.0, tuple(plan_reads(POINTS)))]
    poller = tcp_poller(host="127.0.0.1", port=server.port, timeout=0.1, devices=devices, retries=2)
    async with running(poller) as outcomes:
        fault = await outcomes.next_where(lambda o: not o.ok)
        asked = server.unit(2).requests_served
    assert fault.fault.category is FaultCategory.TIMEOUT
    assert asked == 3  # the first read, and two retries of it; the next poll is 5 s away


ROUNDS = 40


async def test_a_bus_told_to_stop_stops_even_when_an_answer_arrives_at_that_instant(server):
    """A reload or a stop cancels each bus; the bus must end every time.

    Python 3.11's ``asyncio.wait_for``, which pymodbus awaits every answer with,
    returns the answer and drops a cancellation that lands in the same turn of
    the event loop as the answer (CPython gh-86296, fixed in 3.12; Raspberry
    Pi OS bookworm ships 3.11): the bus polled on, and the reload waiting for it
    never finished. Stopped here again and again at random instants of a bus
    polling flat out, every stop must end the bus.
    """
    devices = [ModbusDevice("dev1", 1, 0.0, tuple(plan_reads(POINTS)))]
    poller = tcp_poller(
        host="127.0.0.1", port=server.port, timeout=0.3, devices=devices, backoff=Backoff(0.05, 0.2)
    )
    chance = random.Random(86296)
    kept_polling = 0
    for _ in range(ROUNDS):
        outcomes = Outcomes()
        task = asyncio.create_task(poller.run(outcomes))
        await outcomes.next_where(lambda o: o.ok)
        await asyncio.sleep(chance.uniform(0, 0.005))
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2.0)
        if not done:
            kept_polling += 1
            while not task.done():  # end it for the next round
                task.cancel()
                await asyncio.wait([task], timeout=0.5)
    assert kept_polling == 0, f"{kept_polling} of {ROUNDS} stops left the bus polling"
