"""The example station end to end: its RS-485 line and serial sensors simulated on ptys,
the gateway as ``outpost run`` builds it, a real Mosquitto, and what the platform receives."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import urllib.request
from contextlib import AsyncExitStack

import pytest

from gateway.config import load_config
from gateway.config.paths import example_station
from gateway.probe import probe, table
from gateway.service.runtime import Gateway
from simulators.station.buses import start_simulated_station, with_broker
from tests.support.peers import Platform, alarm, free_port, wait_for_health
from tests.support.peers import device_status as status

RTU_DEVICES = ("kitchen-gas", "boiler-gas", "corridor-smoke-1", "corridor-smoke-2", "pump-pit-gas")


@pytest.fixture
async def station(tmp_path, mosquitto):
    config = with_broker(load_config(example_station()), mosquitto.url, protocol="mqtt5", state_dir=tmp_path)
    platform = Platform(mosquitto.url, "outpost/v1/cs-0427/#")
    await platform.start()
    async with AsyncExitStack() as stack:
        simulated = await start_simulated_station(config, stack)
        simulated.unit("pump-pit-gas").set("o2", 20.9)
        simulated.unit("culvert-level").set("level", 1.0)
        gateway = asyncio.create_task(Gateway(simulated.config).run())
        try:
            for device in simulated.config.station.devices:
                await platform.wait_for(status(device, "ok"), timeout=15)
            yield simulated, platform
        finally:
            gateway.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gateway
            await platform.stop()


async def test_alarms_from_the_rs485_line_and_both_serial_sensors_reach_the_platform(station):
    simulated, platform = station
    simulated.unit("kitchen-gas").set("gas", 60.0)
    simulated.unit("vehicle-bay-co").set("co", 250)
    simulated.unit("gas-meter-methane").set("beam_blocked", True)
    kitchen = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"))
    assert (kitchen.payload["grade"], kitchen.payload["source"]["bus"]) == ("second-stage", "rs485")
    co = await platform.wait_for(alarm(".vehicle-bay-co.co", "raised"))
    assert (co.payload["grade"], co.payload["value"], co.payload["unit"]) == (
        "second-stage",
        250.0,
        "ppm",
    )
    await platform.wait_for(status("gas-meter-methane", "fault", "beam blocked"))


async def test_a_dead_unit_goes_offline_and_an_unplugged_line_is_a_bus_fault_until_replugged(
    station,
):
    simulated, platform = station
    simulated.unit("pump-pit-gas").go_silent()
    await platform.wait_for(status("pump-pit-gas", "offline", "no response"), timeout=10)
    simulated.unit("pump-pit-gas").answer_normally()
    line = simulated.servers["rs485"]
    await line.unplug()
    for device in RTU_DEVICES:
        await platform.wait_for(status(device, "offline", "bus fault"), timeout=10)
    await line.replug()
    for device in RTU_DEVICES:
        await platform.wait_for(status(device, "ok"), timeout=15)


async def test_rejected_frames_show_per_bus_and_device_in_metrics_and_healthz(tmp_path, mosquitto):
    config = with_broker(load_config(example_station()), mosquitto.url, protocol="mqtt5", state_dir=tmp_path)
    listen = f"127.0.0.1:{free_port()}"
    service = config.station.service.model_copy(update={"metrics_listen": listen})
    config = dataclasses.replace(config, station=config.station.model_copy(update={"service": service}))
    async with AsyncExitStack() as stack:
        simulated = await start_simulated_station(config, stack)
        gateway = asyncio.create_task(Gateway(simulated.config).run())
        try:
            simulated.unit("kitchen-gas").answer_with_bad_checksum()
            simulated.unit("gas-meter-methane").answer_with_bad_checksum()
            health = await wait_for_health(
                f"http://{listen}/healthz",
                lambda h: all(
                    "last_rejected" in h["devices"][d] for d in ("kitchen-gas", "gas-meter-methane")
                ),
            )
            metrics = await asyncio.to_thread(_read, f"http://{listen}/metrics")
        finally:
            gateway.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gateway
    kitchen = health["devices"]["kitchen-gas"]
    assert kitchen["rejected"]["bad CRC"] >= 1
    assert kitchen["last_rejected"]["reason"].startswith("answer with a bad CRC")
    assert kitchen["last_rejected"]["frame"].startswith("b'\\x01\\x03")  # escaped: unit 1, function 3
    assert "checksum" in health["devices"]["gas-meter-methane"]["last_rejected"]["reason"]
    assert 'outpost_bus_rejected_frames_total{bus="rs485",device="kitchen-gas",reason="bad CRC"}' in metrics
    assert 'outpost_bus_rejected_frames_total{bus="gas-meter-port",device="gas-meter-methane"' in metrics
    assert "boiler-gas" not in metrics  # only devices something was refused for


def _read(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def test_probe_reads_every_device_of_the_example_station_once(tmp_path):
    """The commissioning check covers the RS-485 line and both serial sensors, and names a dead one."""
    config = with_broker(
        load_config(example_station()), "mqtt://127.0.0.1:1", protocol="mqtt5", state_dir=tmp_path
    )
    async with AsyncExitStack() as stack:
        simulated = await start_simulated_station(config, stack)
        simulated.unit("gas-meter-methane").go_silent()
        report = await probe(simulated.config)
        outcomes = {o.device: o for o in report.outcomes}
    assert outcomes.keys() == set(config.station.devices)
    failed = {name for name, outcome in outcomes.items() if not outcome.ok}
    assert failed == {"gas-meter-methane"}
    assert {o.point for o in outcomes["vehicle-bay-co"].observations} == {"co"}
    assert "gas" in table(simulated.config, report)
