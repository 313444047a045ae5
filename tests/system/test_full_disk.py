"""A full disk under the gateway: polling goes on, alarms arrive, and the fault is said out loud.

The state directory is a real 1 MiB tmpfs, filled with a filler file until
the kernel answers ENOSPC, either while the gateway runs or before it starts.
Whatever the disk refuses, the gateway keeps polling and evaluating, delivers
the alarms from memory, reports itself unhealthy on ``/healthz`` and raises a
``storage`` fault alarm; once the filler is removed the fault clears and
alarms keep flowing.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from simulators.radios.line_radio import LineRadioPeer
from tests.support.health import until_health
from tests.support.peers import Platform, StationUnderTest, alarm, gas_detectors, running_station
from tests.support.radio_station import radio_alarm, radio_gateway

pytestmark = pytest.mark.slow

DEVICES = 3
PROMPT = 2.0  # seconds: ten polls, for a change to reach the platform
OFF_DELAY = 2.0  # the gas profile's: a clear waits for two seconds of clean air
# Chatter control out of the way: gas-01 is toggled four times, and the default policy
# (three activations a minute) would rightly hold its third clear back for a minute.
QUIET_POLICY = {"alarm_policy": {"chatter": {"count": 100, "window": "1s"}}}


@pytest.fixture
def state_disk(tmp_path):
    """``tmp_path/state`` as a 1 MiB tmpfs of its own (mounting needs root)."""
    directory = tmp_path / "state"
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(directory)],
        check=False,
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for the state directory: {mounted.stderr.strip()}")
    yield directory
    if subprocess.run(["umount", str(directory)], check=False, capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(directory)], check=True)  # something still holds a file


def fill(directory: Path) -> Path:
    """Write a filler file into ``directory`` until the filesystem refuses (ENOSPC); return it."""
    filler = directory / "filler"
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    chunk = b"\0" * 4096
    try:
        while True:
            os.write(handle, chunk)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(handle)
    return filler


def storage_alarm(transition: str):
    """The gateway's own alarm about its storage (any alarm whose key names ``storage``)."""
    return lambda m: (
        m.topic.endswith("/alarm")
        and "storage" in m.payload.get("alarm_key", "")
        and (m.payload.get("transition") == transition)
    )


def health_url(station: StationUnderTest) -> str:
    listen = yaml.safe_load(station.config_path.read_text())["service"]["metrics_listen"]
    return f"http://{listen}/healthz"


async def polling(station: StationUnderTest, platform: Platform) -> None:
    """Until every device has been polled (its status is out); a clear failure if the gateway died."""
    try:
        await platform.wait_for(lambda m: m.topic.endswith(f"/device/gas-{DEVICES - 1:02d}/status"), 15)
    except TimeoutError:
        pytest.fail(
            f"the gateway never polled every device; its log ends:\n{station.gateway.output()[-2000:]}"
        )


async def rides_out_the_full_disk(
    station: StationUnderTest, platform: Platform, filler: Path, filled_at: int
) -> None:
    """What must hold while the state directory is full (from message ``filled_at`` on), and after."""
    units, start = station.units, len(platform.messages)
    units["gas-00"].set("gas", 60.0)
    await platform.wait_for(alarm(".gas-00.gas", "raised"), timeout=10, after=start)
    for _ in range(4):  # polling goes on: each change is seen within a few polls, not after a restart
        before = len(platform.messages)
        units["gas-01"].set("gas", 60.0)
        await platform.wait_for(alarm(".gas-01.gas", "raised"), timeout=PROMPT, after=before)
        units["gas-01"].set("gas", 2.0)
        await platform.wait_for(alarm(".gas-01.gas", "cleared"), timeout=OFF_DELAY + PROMPT, after=before)

    health = await until_health(health_url(station), lambda h: not h["healthy"], timeout=10)
    assert health["alarms_active"]  # the report still knows the alarms
    await platform.wait_for(storage_alarm("raised"), timeout=10, after=filled_at)

    await asyncio.to_thread(filler.unlink)
    await platform.wait_for(storage_alarm("cleared"), timeout=15, after=start)
    await until_health(health_url(station), lambda h: h["healthy"], timeout=15)
    units["gas-02"].set("gas", 60.0)
    await platform.wait_for(alarm(".gas-02.gas", "raised"), timeout=10, after=start)
    assert "Traceback" not in station.gateway.output()


async def test_a_disk_that_fills_while_running_is_a_storage_fault_and_alarms_still_arrive(
    tmp_path, mosquitto, platform, state_disk
):
    async with running_station(
        tmp_path, mosquitto.url, devices=gas_detectors(DEVICES), poll_interval=0.2, extra=QUIET_POLICY
    ) as station:
        await polling(station, platform)
        filled_at = len(platform.messages)
        filler = fill(state_disk)
        await rides_out_the_full_disk(station, platform, filler, filled_at)


async def test_a_gateway_started_on_a_full_disk_runs_and_says_so(tmp_path, mosquitto, platform, state_disk):
    filler = fill(state_disk)
    async with running_station(
        tmp_path, mosquitto.url, devices=gas_detectors(DEVICES), poll_interval=0.2, extra=QUIET_POLICY
    ) as station:
        await polling(station, platform)
        await rides_out_the_full_disk(station, platform, filler, filled_at=0)  # full from the start


async def test_a_press_on_a_full_disk_is_delivered_but_acknowledged_only_once_stored(
    tmp_path, mosquitto, platform, state_disk
):
    """A control station's press while the disk is full: the alarm goes out from memory, the
    station gets no ACK and repeats it; once the disk takes writes, the repeat is acknowledged."""
    async with LineRadioPeer(end=b"\r\n", ack=b"ACK,") as peer:
        port = await peer.serve_tcp()
        protocol = {"end": "\r\n", "rules": [{"event": "emergency", "match": r"^EMG,(?P<radio>\d+)$"}],
                    "ack": "ACK,{radio}\r\n"}  # fmt: skip
        radios = {"bridges": {"control": {"type": "line-radio", "protocol": protocol,
                                          "tcp": {"host": "127.0.0.1", "port": port}}}}  # fmt: skip
        async with radio_gateway(tmp_path, mosquitto.url, radios, platform) as gateway:
            await peer.connected()
            filled_at = len(platform.messages)
            filler = fill(state_disk)
            with pytest.raises(TimeoutError):
                await peer.send_until_acked("EMG,2041", resend_after=1.0, attempts=3)
            await platform.wait_for(radio_alarm("2041", "raised"), timeout=10, after=filled_at)
            await platform.wait_for(storage_alarm("raised"), timeout=10, after=filled_at)
            assert b"ACK,2041" not in peer.received

            await asyncio.to_thread(filler.unlink)
            await peer.send_until_acked("EMG,2041", resend_after=2.0, attempts=10)
            await platform.wait_for(storage_alarm("cleared"), timeout=15, after=filled_at)
            log = gateway.output()
            assert "'2041' not acknowledged: not stored" in log
            assert "Traceback" not in log
