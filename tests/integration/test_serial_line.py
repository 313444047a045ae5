"""Serial sensors: the serial-line poller against simulated sensors on paced ptys.

The protocols come from the shipped profiles (a streaming NMEA-style methane
detector, a polled 9-byte binary CO module) and from a profile written for the
tests (a polled text module with delimited fields and a sum checksum), all in
``tests/support/line_protocols.py``.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import yaml

from drivers.backoff import Backoff
from drivers.observation import FaultCategory
from drivers.serial_line.poller import SerialLinePoller
from drivers.serial_line.protocol import LineProtocol
from drivers.serial_port import SerialSettings
from gateway.config.line_profiles import SerialLineProfile
from simulators.devices.serial_sensor import SerialSensorSimulator
from tests.support.line_protocols import CLIMATE, CO, METHANE
from tests.support.outcomes import running, values
from tests.support.peers import GatewayProcess, outpost, wait_for_health
from tests.support.serial_station import serial_station

# A polled level transmitter: "LV?" -> "LV" + a big-endian float (metres) + a sum byte.
LEVEL = SerialLineProfile.model_validate(
    {
        "description": "level transmitter",
        "protocol": "serial-line",
        "mode": "poll",
        "query": "LV?",
        "framing": {"header_hex": "4C 56", "length": 7},
        "checksum": {"algorithm": "sum"},
        "points": {"level": {"byte": 2, "type": "f32", "unit": "m"}},
    }
)


@pytest.mark.parametrize("profile", [CLIMATE, LEVEL], ids=["climate", "level"])
def test_the_profiles_written_here_are_consistent(profile):
    assert list(profile.problems()) == []


@contextlib.asynccontextmanager
async def sensor(tmp_path, protocol: LineProtocol, **values_to_set):
    simulator = SerialSensorSimulator(protocol, tmp_path, name="sensor", period=0.1)
    for name, value in values_to_set.items():
        simulator.set(name, value)
    poller = SerialLinePoller(
        settings=SerialSettings(simulator.port),
        device="sensor",
        protocol=protocol,
        poll_interval=0.1,
        timeout=0.3,
        backoff=Backoff(0.05, 0.2),
    )
    async with simulator, running(poller) as outcomes:
        yield simulator, poller, outcomes


async def test_a_streaming_ascii_sensor_gives_readings_with_units_and_flags(tmp_path):
    async with sensor(tmp_path, METHANE, gas=12.5, beam_blocked=True) as (_, _, outcomes):
        reading = await outcomes.next_where(lambda o: o.ok)
    assert values(reading) == {
        "gas": 12.5,
        "status": 8.0,
        "low_alarm": False,
        "high_alarm": False,
        "laser_fault": False,
        "beam_blocked": True,
    }
    assert {o.point: o.unit for o in reading.observations}["gas"] == "%LEL"


async def test_a_polled_binary_sensor_answers_its_query(tmp_path):
    async with sensor(tmp_path, CO, co=250) as (simulator, _, outcomes):
        assert values(await outcomes.next_where(lambda o: o.ok)) == {"co": 250.0}
        simulator.set("co", 3)
        await outcomes.next_where(lambda o: o.ok and values(o) == {"co": 3.0})


async def test_a_polled_text_sensor_with_delimited_fields_and_a_sum_checksum(tmp_path):
    protocol = CLIMATE.line_protocol()
    async with sensor(tmp_path, protocol, temperature=-4.5, humidity=61, probe_fault=True) as (
        _,
        _,
        outcomes,
    ):
        reading = await outcomes.next_where(lambda o: o.ok)
    assert values(reading) == {
        "temperature": -4.5,
        "humidity": 61.0,
        "status": 1.0,
        "probe_fault": True,
    }


@pytest.mark.parametrize("protocol", [METHANE, CO], ids=["ascii-stream", "binary-poll"])
@pytest.mark.parametrize(
    ("misbehave", "category", "reason"),
    [
        ("answer_with_bad_checksum", FaultCategory.DECODE, "no valid frame: bad checksum"),
        ("answer_with_noise", FaultCategory.DECODE, "no valid frame: "),
        ("go_silent", FaultCategory.TIMEOUT, ""),
    ],
)
async def test_a_misbehaving_sensor_is_a_fault_with_its_reason_until_it_recovers(
    tmp_path, protocol, misbehave, category, reason
):
    async with sensor(tmp_path, protocol) as (simulator, poller, outcomes):
        await outcomes.next_where(lambda o: o.ok)
        getattr(simulator, misbehave)()
        fault = await outcomes.next_where(lambda o: not o.ok)
        assert fault.fault.category is category
        assert fault.fault.reason.startswith(reason), fault.fault.reason
        if category is FaultCategory.DECODE:
            assert sum(poller.rejections.of("sensor").values()) > 0  # counted, not just dropped
            assert poller.rejections.last["sensor"].reason
        simulator.answer_normally()
        await outcomes.next_where(lambda o: o.ok)


@pytest.mark.parametrize(("value", "shown"), [(float("nan"), "NaN"), (float("inf"), "+inf")])
async def test_a_float_field_holding_nan_or_infinity_is_a_device_fault(tmp_path, value, shown):
    async with sensor(tmp_path, LEVEL.line_protocol(), level=1.25) as (simulator, _, outcomes):
        assert values(await outcomes.next_where(lambda o: o.ok)) == {"level": 1.25}
        simulator.set("level", value)
        fault = await outcomes.next_where(lambda o: not o.ok)
        assert fault.fault.category is FaultCategory.DECODE
        assert fault.fault.reason == f"implausible reading: level is {shown}"
        simulator.set("level", 0.5)
        await outcomes.next_where(lambda o: o.ok and values(o) == {"level": 0.5})


@pytest.mark.parametrize("protocol", [METHANE, CO], ids=["ascii-stream", "binary-poll"])
async def test_an_unplugged_port_is_a_bus_fault_until_it_comes_back(tmp_path, protocol):
    async with sensor(tmp_path, protocol) as (simulator, _, outcomes):
        await outcomes.next_where(lambda o: o.ok)
        await simulator.unplug()
        gone = await outcomes.next_where(lambda o: "does not exist" in str(o.fault))
        assert gone.fault.category is FaultCategory.CONNECTION
        assert gone.fault.reason.startswith("bus fault: serial port ")
        await simulator.replug()
        await outcomes.next_where(lambda o: o.ok)


async def test_the_gateways_port_is_refused_to_a_second_process_and_probe_asks_the_service(
    tmp_path, mosquitto
):
    simulator = SerialSensorSimulator(METHANE, tmp_path, name="meter", period=0.1)
    simulator.set("gas", 3.5)
    path = serial_station(tmp_path, mosquitto.url, simulator.port)
    gateway = GatewayProcess(path, tmp_path / "gateway.log")
    async with simulator:
        gateway.start()
        try:
            listen = yaml.safe_load(path.read_text())["service"]["metrics_listen"]
            await wait_for_health(
                f"http://{listen}/healthz", lambda h: h["devices"]["meter"]["status"] == "ok"
            )
            assert gateway.process is not None
            in_use = f"serial port {simulator.port} is in use by process {gateway.process.pid}"
            # A second process on the same port is refused, and told by whom.
            second = SerialLinePoller(
                settings=SerialSettings(simulator.port),
                device="meter",
                protocol=METHANE,
                poll_interval=0.2,
                timeout=1.0,
                backoff=Backoff(0.05, 0.2),
            )
            async with running(second) as outcomes:
                refused = await outcomes.next_where(lambda o: True)
            assert refused.fault is not None
            assert refused.fault.reason.startswith(f"bus fault: {in_use} (python3 -m gateway.cli run ")
            # The commissioning check does not open it either: it reads the service's latest values.
            probed = await asyncio.to_thread(outpost, "probe", str(path))
        finally:
            await gateway.stop_async()
    assert probed.returncode == 0, probed.stdout + probed.stderr
    assert in_use in probed.stdout
    assert "values are the service's latest" in probed.stdout
    [gas] = [line for line in probed.stdout.splitlines() if line.split()[1:2] == ["gas"]]
    assert gas.split()[2] == "3.5"
    assert "in use" not in gateway.output()  # the service kept its port all along
