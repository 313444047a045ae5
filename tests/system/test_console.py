"""``outpost console`` against a real Mosquitto and a real gateway: see a gas alarm, acknowledge it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.support.console_io import read_until, read_until_each
from tests.support.peers import REPO, alarm, outpost, running_station

KEY = "6f7574706f73742d746573742d6b6579"
ALARM_KEY = "cs-test.kitchen-gas.gas"


@pytest.fixture
async def station(tmp_path, mosquitto, platform):
    key_file = tmp_path / "command.key"
    key_file.write_text(KEY + "\n")
    extra = {"commands": {"key_file": str(key_file)}}
    async with running_station(tmp_path, mosquitto.url, extra=extra, poll_interval=0.3) as running:
        await platform.wait_for(lambda m: m.topic.endswith("/device/kitchen-gas/status"), 15)
        yield running


async def test_console_shows_a_gas_alarm_and_acknowledges_it(station, platform, mosquitto):
    console = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "gateway.cli", "console", "--config", str(station.config_path)),
        *("--operator", "duty officer", "--for", "90"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=REPO,
    )
    assert console.stdin is not None
    assert console.stdout is not None
    try:
        board = await read_until(console.stdout, "watching cs-test")
        assert "station cs-test  ONLINE" in board
        assert "active alarms: none" in board

        station.units["kitchen-gas"].set("gas", 60.0)
        live = await read_until(console.stdout, "ALARM RAISED", ALARM_KEY)
        assert "orange" in live.splitlines()[-1]

        console.stdin.write(f"ack {ALARM_KEY}\n".encode())
        await console.stdin.drain()
        # The gateway's answer, and its acknowledged event in the live log (in either order).
        await read_until_each(console.stdout, ("<- cs-test: ack ok",), ("ALARM ACKNOWLEDGED", ALARM_KEY))
        acked = await platform.wait_for(alarm(".kitchen-gas.gas", "acknowledged"))
        assert acked.payload["acknowledged_by"] == "duty officer"

        console.stdin.write(b"show\n")
        await console.stdin.drain()
        shown = await read_until(console.stdout, ALARM_KEY, "active_ack")
        assert "active alarms: 1" in shown

        # Exercise mode and a broadcast go out signed too; this station has no radio bridge to broadcast on.
        console.stdin.write(b"exercise on\nbroadcast Evacuate the east wing\n")
        await console.stdin.drain()
        await read_until(console.stdout, "<- cs-test: exercise ok")
        refused = await read_until(console.stdout, "<- cs-test: broadcast REFUSED")
        assert "-> cs-test: broadcast text=Evacuate the east wing" in refused

        console.stdin.write(b"quit\n")
        await console.stdin.drain()
        async with asyncio.timeout(20):
            assert await console.wait() == 0
    finally:
        if console.returncode is None:
            console.kill()
            await console.wait()

    # A console started later learns the same from the retained snapshot alone.
    once = await asyncio.to_thread(outpost, "console", "--config", str(station.config_path), "--once")
    assert once.returncode == 0, once.stderr
    assert f"ORANGE active_ack    {ALARM_KEY}" in once.stdout
    assert "station cs-test  ONLINE" in once.stdout
    every = await asyncio.to_thread(outpost, "console", "--broker", mosquitto.url, "--station", "+", "--once")
    assert f"ORANGE active_ack    {ALARM_KEY}" in every.stdout  # watching every station of the broker
