"""``outpost walktest`` with a real gateway and simulated devices: two of three triggered."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from tests.support.console_io import read_until
from tests.support.peers import REPO, running_station

DEVICES = {
    "kitchen-gas": {"unit": 1, "profile": "gas-detector", "location": "Kitchen"},
    "hall-smoke": {"unit": 2, "profile": "smoke-detector", "location": "Hall"},
    "boiler-gas": {"unit": 3, "profile": "gas-detector", "location": "Boiler room"},
}


async def test_walk_test_reports_the_device_that_never_reached_the_platform(tmp_path, mosquitto, platform):
    reports = tmp_path / "reports"
    async with running_station(tmp_path, mosquitto.url, devices=DEVICES, poll_interval=0.3) as station:
        await platform.wait_for(lambda m: m.topic.endswith("/device/boiler-gas/status"), 15)
        walk = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "gateway.cli", "walktest", "--config", str(station.config_path)),
            *("--report-dir", str(reports), "--for", "90"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=REPO,
        )
        assert walk.stdout is not None
        try:
            await read_until(walk.stdout, "trigger each sensor and button")
            station.units["kitchen-gas"].set("gas", 60.0)
            gas = await read_until(walk.stdout, "REACHED 1/3", "kitchen-gas")
            assert "gas raised (actual, orange)" in gas.splitlines()[-1]
            station.units["hall-smoke"].set("test", True)  # the technician presses the test button
            station.units["hall-smoke"].set("fire_alarm", True)
            smoke = await read_until(walk.stdout, "REACHED 2/3", "hall-smoke")
            assert "(test," in smoke.splitlines()[-1]

            walk.send_signal(signal.SIGINT)  # the technician is done: Ctrl-C
            ending = await read_until(walk.stdout, "report:", ".html")
            async with asyncio.timeout(20):
                assert await walk.wait() == 1  # not every device reached the platform
        finally:
            if walk.returncode is None:
                walk.kill()
                await walk.wait()

    assert "2 of 3 devices reached the platform" in ending
    assert "NOT REACHED  boiler-gas" in ending
    [json_file] = reports.glob("walktest-cs-test-*.json")
    report = json.loads(json_file.read_text())
    assert report["station"] == "cs-test"
    assert report["reached"] == ["kitchen-gas", "hall-smoke"]
    assert report["missing"] == ["boiler-gas"]
    assert not report["complete"]
    by_device = {device["device"]: device for device in report["devices"]}
    assert by_device["kitchen-gas"]["event"]["alarm_key"] == "cs-test.kitchen-gas.gas"
    assert by_device["hall-smoke"]["event"]["status"] == "test"
    assert by_device["kitchen-gas"]["reached_at"] is not None
    assert by_device["boiler-gas"]["reached_at"] is None
    html = json_file.with_suffix(".html").read_text()
    assert '<tr class="missing"><td>boiler-gas</td><td>Boiler room</td>' in html
    assert html.count('<tr class="ok">') == 2
