"""``outpost console`` against a real Mosquitto and a real gateway, typed at as a duty officer would."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.support.console_io import Typist
from tests.support.peers import REPO, alarm, outpost, running_station

KEY = "6f7574706f73742d746573742d6b6579"
DEVICES = {
    name: {"unit": unit, "profile": "gas-detector", "location": location}
    for unit, (name, location) in enumerate(
        [
            ("kitchen-gas", "Kitchen"),
            ("boiler-gas", "Boiler room"),
            ("pump-gas", "Pump pit"),
            ("store-gas", "Store"),
        ],
        start=1,
    )
}
RAISED = {"kitchen-gas": 60.0, "boiler-gas": 60.0, "pump-gas": 30.0, "store-gas": 30.0}
CLEARED = ("boiler-gas", "pump-gas", "store-gas")
NOISE = ("#?", "cmd/", "cmd_result", "unknown payload")


@pytest.fixture
async def station(tmp_path, mosquitto, platform):
    key_file = tmp_path / "command.key"
    key_file.write_text(KEY + "\n")
    extra = {"commands": {"key_file": str(key_file)}}
    async with running_station(
        tmp_path, mosquitto.url, devices=DEVICES, extra=extra, poll_interval=0.3
    ) as running:
        await platform.wait_for(lambda m: m.topic.endswith("/device/store-gas/status"), 15)
        yield running


async def _console(config_path, *options: str) -> Typist:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "gateway.cli", "console", "--config", str(config_path), *options),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=REPO,
    )
    return Typist(process)


async def _quit(console: Typist, *last_words: str) -> None:
    await console.type("quit")
    if last_words:
        await console.until(*last_words)
    async with asyncio.timeout(20):
        assert await console.process.wait() == 0


def _stop(console: Typist) -> None:
    if console.process.returncode is None:
        console.process.kill()


async def test_a_duty_officer_acknowledges_by_short_key_by_number_and_all_cleared(
    station, platform, mosquitto
):
    console = await _console(station.config_path, "--operator", "duty officer", "--for", "120")
    try:
        board = await console.until("watching cs-test")
        assert "station cs-test  ONLINE" in board
        assert "active alarms: none" in board

        for name, value in RAISED.items():
            station.units[name].set("gas", value)
        live = await console.until_each(*(("RAISED", f"{name}.gas") for name in DEVICES))
        [kitchen] = [line for line in live.splitlines() if "RAISED" in line and "kitchen-gas.gas" in line]
        assert "second stage (orange) kitchen-gas.gas, Kitchen: 60 %LEL, threshold 50 %LEL" in kitchen

        # The key within the station the console watches is enough.
        await console.type("ack kitchen-gas.gas")
        await console.until_each(
            ("<- cs-test: ack ok",), ("ACKNOWLEDGED", "kitchen-gas.gas", "by duty officer")
        )
        acked = await platform.wait_for(alarm("cs-test.kitchen-gas.gas", "acknowledged"))
        assert acked.payload["acknowledged_by"] == "duty officer"

        for name in CLEARED:
            station.units[name].set("gas", 2.0)
        await console.until_each(*(("CLEARED", f"{name}.gas") for name in CLEARED))

        # Active and cleared-but-unacknowledged apart, numbered; the value stays after the ack.
        await console.type("show")
        shown = await console.until("cleared, not yet acknowledged: 3")
        shown += await console.until("4  first stage")
        assert "active alarms: 1\n" in shown
        assert "   1  second stage (orange), active, acknowledged: kitchen-gas.gas, Kitchen: 60 %LEL" in shown
        assert "   2  second stage (orange), cleared, unacknowledged: boiler-gas.gas, Boiler room" in shown

        # A station that never answers holds nothing up: the board comes at once, the answer later.
        await console.type("ping @nowhere")
        await console.type("show")
        waiting = await console.until("active alarms: 1")
        assert "-> nowhere: ping" in waiting
        assert "no answer" not in waiting

        await console.type("ack 2")
        await console.until_each(
            ("-> cs-test: ack alarm_key=cs-test.boiler-gas.gas",), ("ACKNOWLEDGED", "boiler-gas.gas")
        )
        await console.type("ack all cleared")
        await console.until_each(*(("ACKNOWLEDGED", f"{name}.gas") for name in ("pump-gas", "store-gas")))
        for name in CLEARED:
            await platform.wait_for(alarm(f"cs-test.{name}.gas", "acknowledged"))
        await console.type("ack all cleared")
        await console.until("? no cleared alarm waits for acknowledgement")
        await _quit(console, "<- nowhere: ping: no answer within 10 s")
    finally:
        _stop(console)
    assert [line for line in console.seen if any(word in line for word in NOISE)] == []

    # A console started later learns the same from the retained snapshot alone, in Chinese if asked.
    once = await asyncio.to_thread(
        outpost, "console", "--config", str(station.config_path), "--once", "--lang", "zh-CN"
    )
    assert once.returncode == 0, once.stderr
    assert "站点 cs-test  在线" in once.stdout
    assert "活动报警：1 条" in once.stdout
    assert "二级报警（橙色），报警中，已确认：kitchen-gas.gas，Kitchen" in once.stdout
    every = await asyncio.to_thread(outpost, "console", "--broker", mosquitto.url, "--station", "+", "--once")
    assert "active, acknowledged: cs-test.kitchen-gas.gas" in every.stdout  # every station of the broker


async def test_the_protocol_lines_show_only_with_debug(station):
    console = await _console(station.config_path, "--debug", "--for", "60")
    try:
        await console.until("watching cs-test")
        await console.type("report")
        debug = await console.until_each(
            ("<- cs-test: report ok",), ("cmd/report",), ("answer to report: ok",)
        )
        assert "situation report" in debug
        await _quit(console)
    finally:
        _stop(console)
