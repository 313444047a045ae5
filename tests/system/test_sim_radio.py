"""``outpost sim`` with radios: the radio example station simulated as a process of its own, the
gateway file it writes run unedited, and presses and texts made through the control endpoint."""

from __future__ import annotations

import asyncio
import json
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import yaml

from simulators.scenarios.readiness import get_json
from tests.support.peers import REPO, GatewayProcess, free_port
from tests.support.radio_station import KEY, PREFIX, bridges_connected, radio_alarm
from tests.support.sim_process import sim, start_sim


def radio_station(directory: Path) -> tuple[Path, str]:
    """The bundled radio example as a lab would run it: its own key, health on a free port."""
    data = yaml.safe_load((REPO / "config" / "station.radio.example.yaml").read_text())
    (directory / "command.key").write_text(KEY + "\n")
    listen = f"127.0.0.1:{free_port()}"
    data["station"]["id"] = "cs-test"
    data["commands"] = {"key_file": str(directory / "command.key")}
    data["service"] = {"metrics_listen": listen}
    data["radios"]["bridges"]["pendants"]["heartbeat_timeout"] = "3s"  # a heartbeat every second
    path = directory / "station.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path, listen


async def test_presses_and_texts_through_the_control_endpoint_reach_the_platform(
    tmp_path, mosquitto, platform
):
    station, listen = radio_station(tmp_path)
    out, state_file = tmp_path / "gateway.yaml", tmp_path / "sim.json"
    control = ("--state-file", str(state_file))
    process, lines = await start_sim(
        str(station),
        "--write-config",
        str(out),
        "--broker",
        mosquitto.url,
        "--state-dir",
        str(tmp_path / "state"),
        *control,
    )
    async with AsyncExitStack() as stack:
        stack.callback(lambda: process.returncode is None and process.kill())
        assert any(
            line.startswith("simulated radio bridge vhf: KISS TNC emulator on 127.0.0.1:") for line in lines
        )
        assert any(
            line.startswith("simulated radio bridge handheld-tnc: KISS TNC emulator on pty") for line in lines
        )
        assert any(
            line.startswith("simulated radio bridge pendants: line-radio receiver on pty") for line in lines
        )
        bridges = yaml.safe_load(out.read_text())["radios"]["bridges"]
        assert bridges["vhf"]["port"] != 8001
        assert bridges["pendants"]["serial"]["port"] != "/dev/ttyUSB2"
        assert bridges["pendants"]["profile"] == "surgard-contact-id"  # the rest is the station's
        assert yaml.safe_load(out.read_text())["state_dir"] == str(tmp_path / "state")

        gateway = GatewayProcess(out, tmp_path / "gateway.log")
        gateway.start()
        stack.callback(gateway.stop)
        await bridges_connected(listen, timeout=30)
        # The simulated receiver sends its link test, so a station at rest has no link fault.
        await until_health(listen, lambda h: h["radios"]["pendants"]["frames"].get("heartbeat", 0) >= 2)

        pressed = await sim("press", "BH4ABC-7", *control)
        assert pressed.returncode == 0, pressed.stderr
        assert "message 1 'SOS' to BH4XYZ-10" in pressed.stdout
        raised = await platform.wait_for(radio_alarm("BH4ABC-7", "raised"), timeout=20)
        body = raised.payload
        assert (body["kind"], body["grade"], body["latched"]) == ("radio_sos", "life-safety", True)
        assert body["radio"]["member"] == "Li Wei"
        assert body["radio"]["text"] == "SOS simulated press"

        assert (await sim("press", "BH4DEF-9", "--mic-e", *control)).returncode == 0
        mic_e = await platform.wait_for(radio_alarm("BH4DEF-9", "raised"), timeout=20)
        assert mic_e.payload["radio"]["position"]["lat"] == pytest.approx(31.2304, abs=1e-3)

        assert (await sim("press", "1234", *control)).returncode == 0
        pendant = await platform.wait_for(radio_alarm("1234", "raised"), timeout=20)
        assert pendant.payload["radio"]["bridge"] == "pendants"
        assert pendant.payload["radio"]["code"] == "120"

        texted = await sim("message", "BH4GHI-5", "shelter full, need blankets", *control)
        assert texted.returncode == 0, texted.stderr
        text = await platform.wait_for(
            lambda m: m.topic == f"{PREFIX}/radio" and m.payload.get("event") == "message", timeout=20
        )
        assert text.payload["text"] == "shelter full, need blankets"
        assert text.payload["radio"]["member"] == "Wang Fang"

        unknown = await sim("press", "N0BODY-1", *control)
        assert unknown.returncode == 1
        assert "no simulated radio 'N0BODY-1'" in unknown.stderr
        pendant_text = await sim("message", "1234", "hello", *control)
        assert "no handheld that sends texts" in pendant_text.stderr
        status = json.loads((await sim("status", *control)).stdout)
        assert status["radios"]["vhf"].startswith("KISS TNC emulator on 127.0.0.1:")

        assert not platform.matching(lambda m: "radio-bridge-" in m.payload.get("alarm_key", ""))

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def until_health(listen: str, predicate, timeout: float = 15.0) -> dict:
    """Until the gateway's ``/healthz`` satisfies ``predicate`` (it has no push to wait on)."""
    async with asyncio.timeout(timeout):
        while True:
            health = await asyncio.to_thread(get_json, f"http://{listen}/healthz")
            if predicate(health):
                return health
            await asyncio.sleep(0.1)
