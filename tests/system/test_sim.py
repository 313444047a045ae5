"""``outpost sim``: the example station simulated as a process of its own, the gateway file it
writes run unedited by ``outpost run``, and the station driven through the control commands."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from contextlib import AsyncExitStack

import yaml
from pymodbus.client import AsyncModbusTcpClient

from gateway.config import load_config
from gateway.config.paths import example_station
from simulators.radios.aprs_radio import AprsRadio
from simulators.scenarios.player import Player
from simulators.scenarios.scenario import Scenario
from simulators.station.buses import start_simulated_station, with_broker
from simulators.station.control_server import start_control_server, write_state_file
from simulators.station.controls import StationControls
from simulators.station.gateway_config import merged, relocatable
from simulators.station.radio_bridges import KissChannel
from simulators.station.web import start_web
from tests.support.peers import REPO, GatewayProcess, Platform, alarm, device_status
from tests.support.sim_process import sim, start_sim

RTU = ("kitchen-gas", "boiler-gas", "corridor-smoke-1", "corridor-smoke-2", "pump-pit-gas")


async def test_a_simulated_station_runs_the_gateway_unedited_and_obeys_the_control_commands(
    tmp_path, mosquitto
):
    out, state_file = tmp_path / "gateway.yaml", tmp_path / "sim.json"
    control = ("--state-file", str(state_file))
    process, lines = await start_sim(
        str(example_station()),
        "--write-config",
        str(out),
        "--broker",
        mosquitto.url,
        "--state-dir",
        str(tmp_path / "state"),
        *control,
    )
    platform = Platform(mosquitto.url, "outpost/v1/cs-0427/#")
    gateway = GatewayProcess(out, tmp_path / "gateway.log")
    async with AsyncExitStack() as stack:
        stack.callback(lambda: process.returncode is None and process.kill())
        assert any(line.startswith("simulated bus rs485: modbus-rtu on pty") for line in lines)
        assert any(line.startswith("simulated bus plc-gateway: modbus-tcp 127.0.0.1:") for line in lines)
        assert any(line.startswith("control: http://127.0.0.1:") for line in lines)
        written = yaml.safe_load(out.read_text())
        assert written["mqtt"]["brokers"] == [mosquitto.url]
        assert written["state_dir"] == str(tmp_path / "state")
        assert written["profiles_dir"] == str(REPO / "config" / "profiles")
        assert written["buses"]["rs485"]["baudrate"] == 9600  # the rest of the file is the station's

        await platform.start()
        stack.push_async_callback(platform.stop)
        gateway.start()
        stack.callback(gateway.stop)
        for device in load_config(out).station.devices:
            await platform.wait_for(device_status(device, "ok"), timeout=30)

        result = await sim("set", "kitchen-gas", "gas", "60", *control)
        assert (result.returncode, result.stdout.strip()) == (0, "kitchen-gas gas -> 60.0")
        raised = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"), timeout=15)
        assert raised.payload["grade"] == "second-stage"

        assert (await sim("fault", "pump-pit-gas", "silent", *control)).returncode == 0
        await platform.wait_for(device_status("pump-pit-gas", "offline", "no response"), timeout=15)
        status = json.loads((await sim("status", *control)).stdout)
        assert status["devices"]["pump-pit-gas"] == "silent"
        assert status["buses"]["rs485"].startswith("modbus-rtu on pty")
        assert (await sim("fault", "pump-pit-gas", "normal", *control)).returncode == 0
        await platform.wait_for(device_status("pump-pit-gas", "ok"), timeout=15, after=len(platform.messages))

        start = len(platform.messages)
        assert (await sim("unplug", "rs485", *control)).returncode == 0
        for device in RTU:
            await platform.wait_for(device_status(device, "offline", "bus fault"), timeout=15, after=start)
        assert (await sim("replug", "rs485", *control)).returncode == 0
        for device in RTU:
            await platform.wait_for(device_status(device, "ok"), timeout=20, after=start)

        wrong = await sim("set", "kitchen-gas", "gaz", "1", *control)
        assert wrong.returncode == 1
        assert "kitchen-gas has no point 'gaz'" in wrong.stderr
        impossible = await sim("fault", "culvert-level", "noise", *control)
        assert "noise cannot be simulated there" in impossible.stderr

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert not state_file.exists()
    gone = await sim("set", "kitchen-gas", "gas", "1", *control)
    assert gone.returncode == 3
    assert "no running simulation" in gone.stderr


GATEWAY, HANDHELD = "BH4XYZ-10", "BH4ABC-7"
WITH_SIREN_AND_RADIO = {
    "actuators": {
        "culvert-siren": {
            "device": "culvert-level",
            "register": "coil",
            "address": 0,
            "values": {"on": 1, "off": 0},
        }
    },
    "radios": {
        "callsign": GATEWAY,
        "bridges": {"vhf": {"type": "kiss-tcp"}},
        "registry": {HANDHELD: {"name": "Li Wei"}},
    },
}


async def test_status_and_page_show_the_siren_coil_and_what_the_handhelds_received(tmp_path):
    station_file = tmp_path / "station.yaml"
    example = relocatable(yaml.safe_load(example_station().read_text()), example_station())
    station_file.write_text(yaml.safe_dump(merged(example, WITH_SIREN_AND_RADIO)))
    state_file = tmp_path / "sim.json"
    async with AsyncExitStack() as stack:
        station = await start_simulated_station(load_config(station_file), stack)
        controls = StationControls(station)
        server = await start_control_server(controls, pages=await start_web(stack, controls, broker=None))
        stack.callback(server.close)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        write_state_file(state_file, url)
        assert json.loads((await sim("status", "--state-file", str(state_file))).stdout)["actuators"] == {
            "culvert-siren": "off"
        }

        # What the gateway does in a response: the siren coil written, a call-out on the air.
        siren = AsyncModbusTcpClient("127.0.0.1", port=station.servers["plc-gateway"].port)
        await siren.connect()
        stack.callback(siren.close)
        assert not (await siren.write_coil(0, True, device_id=5)).isError()
        channel = station.radios.channels["vhf"] if station.radios else None
        assert isinstance(channel, KissChannel)
        gateway = await stack.enter_async_context(AprsRadio(GATEWAY, channel.tnc.host, channel.tnc.port))
        await gateway.message(HANDHELD, "Fire in the kitchen", "1")
        assert station.radios is not None
        await station.radios.wait_heard(HANDHELD, "Fire in the kitchen", since=0, timeout=10)

        status = json.loads((await sim("status", "--state-file", str(state_file))).stdout)
        assert status["actuators"] == {"culvert-siren": "on"}
        assert [(m["from"], m["text"]) for m in status["handhelds"][HANDHELD]] == [
            (GATEWAY, "Fire in the kitchen")
        ]
        page = json.loads(await asyncio.to_thread(_read, f"{url}/devices"))
        assert (page["actuators"], page["handhelds"]) == (status["actuators"], status["handhelds"])


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


class _Recorded(StationControls):
    def __init__(self, station) -> None:
        super().__init__(station)
        self.values: list[float] = []

    def set(self, device: str, point: str, value: float | bool) -> None:
        super().set(device, point, value)
        self.values.append(float(value))


class _NoPeers:
    async def stop_broker(self) -> None: ...
    async def start_broker(self) -> None: ...
    async def kill_gateway(self) -> None: ...
    async def restart_gateway(self) -> None: ...


async def test_seeded_noise_plays_the_same_values_every_run(tmp_path):
    config = with_broker(
        load_config(example_station()), "mqtt://127.0.0.1:1", protocol="mqtt5", state_dir=tmp_path
    )
    noise = {
        "device": "culvert-level",
        "point": "level",
        "around": 1.5,
        "amplitude": 0.1,
        "over": 0.5,
        "every": 0.05,
    }

    async def play(seed: int) -> list[float]:
        scenario = Scenario.model_validate(
            {
                "name": "waves",
                "seed": seed,
                "steps": [{"at": 0, "noise": noise}],
                "expect": [{"alarm": "culvert-level.level", "transition": "raised", "within": 1}],
            }
        )
        async with AsyncExitStack() as stack:
            controls = _Recorded(await start_simulated_station(config, stack))
            await Player(scenario, controls, _NoPeers()).play()
        return controls.values

    first, again, other = await play(3), await play(3), await play(4)
    n = min(len(first), len(again), len(other)) - 1  # the last value is the return to `around`
    assert n >= 5
    assert first[:n] == again[:n]
    assert first[:n] != other[:n]
    assert all(1.4 <= v <= 1.6 for v in first)
    assert first[-1] == 1.5
