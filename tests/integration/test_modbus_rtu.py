"""The Modbus RTU poller against pymodbus' serial server on a pty line paced at 9600 baud.

Faults with reasons, recovery, a dead unit that must not stall the line,
urgent reads ahead of telemetry, the inter-request gap, and an unplugged
adapter that comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest

from drivers.backoff import Backoff
from drivers.modbus.plan import plan_reads
from drivers.modbus.poller import ModbusDevice
from drivers.modbus.registers import DataType, ReadPriority, RegisterPoint, RegisterType, WordOrder
from drivers.modbus.rtu import rtu_poller
from drivers.observation import FaultCategory
from drivers.serial_port import SerialSettings
from simulators.devices.modbus_rtu import ModbusRtuSimulator
from simulators.devices.modbus_unit import SimulatedUnit
from tests.support.outcomes import running, values

POINTS = [
    RegisterPoint("gas", RegisterType.HOLDING, 0, scale=0.1, unit="%LEL"),
    RegisterPoint("high_alarm", RegisterType.HOLDING, 1, bit=1),
    RegisterPoint("level", RegisterType.INPUT, 4, DataType.F32, WordOrder.LITTLE, unit="m"),
    RegisterPoint("relay", RegisterType.COIL, 17),
    RegisterPoint("door", RegisterType.DISCRETE_INPUT, 2),
]


def device(unit: int, interval: float = 0.1, points=POINTS, routine=None) -> ModbusDevice:
    return ModbusDevice(f"dev{unit}", unit, interval, tuple(plan_reads(points)), routine)


@contextlib.asynccontextmanager
async def polling(line: ModbusRtuSimulator, devices, **options):
    settings = {
        "timeout": 0.15,
        "retries": 1,
        "silent_backoff_max": 0.4,
        "backoff": Backoff(0.05, 0.2),
    } | options
    poller = rtu_poller(settings=SerialSettings(line.port), devices=devices, **settings)
    async with running(poller) as outcomes:
        yield outcomes


@pytest.fixture
async def line(tmp_path):
    units = [SimulatedUnit(unit, POINTS) for unit in (1, 2, 3, 4, 5)]
    async with ModbusRtuSimulator(units, tmp_path) as simulator:
        yield simulator


async def test_units_multi_dropped_on_one_line_answer_every_register_kind(line):
    for unit_id in (1, 2):
        unit = line.unit(unit_id)
        unit.set("gas", 10.0 * unit_id)
        unit.set("high_alarm", unit_id == 2)
        unit.set("level", 1.25 * unit_id)
        unit.set("relay", True)
        unit.set("door", unit_id == 1)
    async with polling(line, [device(1), device(2)]) as outcomes:
        first = await outcomes.next_where(lambda o: o.device == "dev1" and o.ok)
        second = await outcomes.next_where(lambda o: o.device == "dev2" and o.ok)
    assert values(first) == {
        "gas": 10.0,
        "high_alarm": False,
        "level": 1.25,
        "relay": True,
        "door": True,
    }
    assert values(second) == {
        "gas": 20.0,
        "high_alarm": True,
        "level": 2.5,
        "relay": True,
        "door": False,
    }


@pytest.mark.parametrize(
    ("misbehave", "category", "reason"),
    [
        ("go_silent", FaultCategory.TIMEOUT, "no response (timeout)"),
        ("answer_with_bad_checksum", FaultCategory.DECODE, "answer with a bad CRC"),
        ("answer_with_noise", FaultCategory.DECODE, "noise on the line instead of an answer"),
        ("answer_with_wrong_length", FaultCategory.DECODE, "wrong-length answer"),
        ("answer_with_exception", FaultCategory.EXCEPTION, "exception 4 (device failure)"),
    ],
)
async def test_a_misbehaving_unit_is_a_fault_with_its_reason_until_it_recovers(
    line, misbehave, category, reason
):
    getattr(line.unit(2), misbehave)()
    async with polling(line, [device(1), device(2)]) as outcomes:
        fault = await outcomes.next_where(lambda o: o.device == "dev2" and not o.ok)
        assert fault.fault.category is category
        assert fault.fault.reason.startswith(reason), fault.fault.reason
        await outcomes.next_where(lambda o: o.device == "dev1" and o.ok)
        line.unit(2).answer_normally()
        await outcomes.next_where(lambda o: o.device == "dev2" and o.ok)


async def test_one_dead_unit_of_five_leaves_the_others_at_least_90_percent_of_their_rate(line):
    """Without backoff the dead unit's retried timeouts (0.45 s) would halve everyone's rate."""
    interval, warm_up, window = 0.25, 1.5, 4.0
    line.unit(3).go_silent()
    gas = POINTS[:2]  # one read per poll: four live units use a third of the line's time
    devices = [device(unit, interval, gas) for unit in (1, 2, 3, 4, 5)]
    async with polling(line, devices, timeout=0.15, retries=2, silent_backoff_max=2.0) as outcomes:
        start = _loop_time() + warm_up
        await outcomes.wait_until(start + window)
    in_window = [o for o in outcomes.items if start <= o.received_monotonic < start + window]
    expected = window / interval
    for name in ("dev1", "dev2", "dev4", "dev5"):
        answered = sum(1 for o in in_window if o.device == name and o.ok)
        assert answered >= 0.9 * expected, (name, answered, expected)
    # The dead unit was retried as configured once, then probed once per backoff delay.
    dead = [at for at, unit in line.requests if unit == 3]
    assert len(dead) >= 3
    assert sum(1 for o in in_window if o.device == "dev3") <= window / 2.0 + 1


async def test_urgent_reads_go_ahead_of_telemetry_on_a_busy_line(tmp_path):
    """Four devices' 120-register telemetry blocks take over a second at 9600 baud."""
    alarm = [RegisterPoint("gas", RegisterType.HOLDING, 0)]
    telemetry = [
        RegisterPoint(f"t{i}", RegisterType.INPUT, i, priority=ReadPriority.ROUTINE) for i in range(120)
    ]
    units = [SimulatedUnit(1, alarm)] + [SimulatedUnit(u, telemetry) for u in (2, 3, 4, 5)]
    devices = [device(1, 0.2, alarm)] + [device(unit, 0.2, telemetry, routine=1.2) for unit in (2, 3, 4, 5)]
    async with (
        ModbusRtuSimulator(units, tmp_path) as line,
        polling(line, devices, timeout=1.0) as outcomes,
    ):
        await outcomes.wait_until(_loop_time() + 3.0)
    urgent = [o.received_monotonic for o in outcomes.items if o.device == "dev1" and o.ok]
    gaps = [later - earlier for earlier, later in itertools.pairwise(urgent)]
    # At most one telemetry read (0.27 s on the wire) delays an urgent one; first come,
    # first served would make it wait for all four (over 1 s).
    assert max(gaps) < 0.2 + 0.27 + 0.15, gaps
    for unit in (2, 3, 4, 5):
        assert any(o.device == f"dev{unit}" and o.ok for o in outcomes.items)


async def test_the_gap_between_transactions_is_kept(line):
    async with polling(line, [device(1, 0.01), device(2, 0.01)], gap=0.05) as outcomes:
        await outcomes.next_where(lambda o: o.device == "dev2" and o.ok)
        await outcomes.next_where(lambda o: o.device == "dev2" and o.ok)
    arrivals = [at for at, _unit in line.requests]
    assert len(arrivals) >= 4
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.05


async def test_an_unplugged_adapter_is_a_bus_fault_until_it_is_plugged_back(line):
    async with polling(line, [device(1), device(2)]) as outcomes:
        await outcomes.next_where(lambda o: o.device == "dev2" and o.ok)
        await line.unplug()
        for name in ("dev1", "dev2"):
            lost = await outcomes.next_where(
                lambda o, name=name: o.device == name and "does not exist" in str(o.fault)
            )
            assert lost.fault.category is FaultCategory.CONNECTION
            assert lost.fault.reason.startswith("bus fault: serial port ")
        await line.replug()
        await outcomes.next_where(lambda o: o.device == "dev1" and o.ok)
        await outcomes.next_where(lambda o: o.device == "dev2" and o.ok)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


async def test_a_late_answer_is_never_taken_for_the_answer_to_the_next_request(tmp_path):
    """RTU answers carry no request id: a slow slave's answer arriving after the timeout would
    otherwise be read as the answer to the next read of that unit, and one point's value
    would be published under another's name (a false alarm, or a hidden one)."""
    apart = [
        RegisterPoint("gas", RegisterType.HOLDING, 0, scale=0.1, unit="%LEL"),
        RegisterPoint("co", RegisterType.HOLDING, 40, unit="ppm"),
    ]
    unit = SimulatedUnit(1, apart)
    unit.set("gas", 11.1)
    unit.set("co", 222)
    unit.answer_late(0.11)  # just after the 0.1 s timeout
    slow = ModbusDevice("dev1", 1, 0.1, tuple(plan_reads(apart, coalesce=False)))
    async with (
        ModbusRtuSimulator([unit], tmp_path) as line,
        polling(line, [slow], timeout=0.1, silent_backoff_max=None) as outcomes,
    ):
        for _ in range(20):
            await outcomes.next_where(lambda o: True)
        unit.answer_normally()
        await outcomes.next_where(lambda o: o.ok)
    answered = [values(o) for o in outcomes.items if o.ok]
    assert answered
    assert all(v == {"gas": 11.1, "co": 222} for v in answered), answered
