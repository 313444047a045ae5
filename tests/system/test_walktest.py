"""``outpost walktest`` with a real gateway and simulated devices: two of three triggered.

The station reads Chinese and keeps Kathmandu's time (UTC+05:45, unlike any
test machine's zone): the lines and the HTML report speak Chinese in the
station's local time; the JSON record stays language-neutral.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.support.console_io import read_until
from tests.support.peers import REPO, running_station

DEVICES = {
    "kitchen-gas": {"unit": 1, "profile": "gas-detector", "location": "Kitchen"},
    "hall-smoke": {"unit": 2, "profile": "smoke-detector", "location": "Hall"},
    "boiler-gas": {"unit": 3, "profile": "gas-detector", "location": "Boiler room"},
}
ZONE = "Asia/Kathmandu"
STATION = {"station": {"locale": "zh-CN"}, "reports": {"timezone": ZONE}}


async def test_walk_test_reports_the_device_that_never_reached_the_platform(tmp_path, mosquitto, platform):
    reports = tmp_path / "reports"
    async with running_station(
        tmp_path, mosquitto.url, devices=DEVICES, extra=STATION, poll_interval=0.3
    ) as station:
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
            await read_until(walk.stdout, "请逐一触发每个传感器和按钮")
            station.units["kitchen-gas"].set("gas", 60.0)
            gas = (await read_until(walk.stdout, "已收到 1/3", "kitchen-gas")).splitlines()[-1]
            assert "gas 报警（真实，橙色）：60 %LEL，阈值 50 %LEL，" in gas
            assert "秒到达平台" in gas
            station.units["hall-smoke"].set("test", True)  # the technician presses the test button
            station.units["hall-smoke"].set("fire_alarm", True)
            smoke = await read_until(walk.stdout, "已收到 2/3", "hall-smoke")
            assert "（测试，" in smoke.splitlines()[-1]

            walk.send_signal(signal.SIGINT)  # the technician is done: Ctrl-C
            ending = await read_until(walk.stdout, "报告：", ".html")
            async with asyncio.timeout(20):
                assert await walk.wait() == 1  # not every device reached the platform
        finally:
            if walk.returncode is None:
                walk.kill()
                await walk.wait()

    assert "3 台设备中 2 台已到达平台" in ending
    assert "未收到  boiler-gas" in ending
    [json_file] = reports.glob("walktest-cs-test-*.json")
    report = json.loads(json_file.read_text())
    assert report["station"] == "cs-test"
    assert report["timezone"] == ZONE
    assert report["reached"] == ["kitchen-gas", "hall-smoke"]
    assert report["missing"] == ["boiler-gas"]
    assert not report["complete"]
    by_device = {device["device"]: device for device in report["devices"]}
    assert by_device["kitchen-gas"]["event"]["alarm_key"] == "cs-test.kitchen-gas.gas"
    assert by_device["hall-smoke"]["event"]["status"] == "test"
    assert by_device["kitchen-gas"]["event"]["value"] == 60.0
    assert by_device["kitchen-gas"]["event"]["transition"] == "raised"  # the record: structured, neutral
    assert 0 <= by_device["kitchen-gas"]["latency_s"] < 10
    assert by_device["boiler-gas"]["reached_at"] is None
    html = json_file.with_suffix(".html").read_text()
    assert '<html lang="zh-CN">' in html
    assert '<tr class="missing"><td>boiler-gas</td><td>Boiler room</td>' in html
    assert html.count('<tr class="ok">') == 2
    reached = datetime.fromisoformat(by_device["kitchen-gas"]["reached_at"]).astimezone(ZoneInfo(ZONE))
    assert f"<td>已到达</td><td>{reached:%Y-%m-%d %H:%M:%S}</td>" in html  # the station's wall clock
    assert "<td>60 %LEL，阈值 50 %LEL</td>" in html
    assert f"（{ZONE}）" in html
