"""A stop during a network outage ends on its own and keeps the backlog for the next start.

The README promises: "SIGTERM/Ctrl-C stop it cleanly: up to 3 s to deliver the outbox,
then ``offline`` (reason ``stopped``) retained on ``{p}/status``". Upgrades and restarts
happen while the link is down, and systemd kills a stop that outlasts the unit's
``TimeoutStopSec`` (20 s): a kill mid-write is what the stop exists to avoid. So a stop
must end by itself, with status 0, whether the broker is gone (connections refused) or
frozen (a connection open that never acknowledges), and every alarm committed before it
must reach the platform once the broker and the gateway are back, each alarm's story
whole. The bound asserted is generous (the daemon's own is a few seconds): it catches a
stop that hangs, not one that is slow under load.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Callable

import pytest

from tests.support.outbox_file import committed_alarm_ids, wait_for_committed_alarms
from tests.support.peers import gas_detectors, running_station
from tests.support.story import read_story

pytestmark = pytest.mark.slow

DETECTORS = 4
STOP_BOUND = 10.0  # seconds; well inside the unit's TimeoutStopSec=20s


async def leak_everywhere(station, platform, outage: Callable[[], None]) -> set[str]:
    """Once every detector is polled and published, the ``outage`` begins and every detector sees
    gas; the ids of the alarms then committed to the outbox."""
    await platform.wait_for(lambda m: m.topic.endswith(f"/device/gas-{DETECTORS - 1:02d}/status"), 15)
    outage()
    for unit in station.units.values():
        unit.set("gas", 60.0)
    database = station.state_dir / "outbox.sqlite3"
    await wait_for_committed_alarms(database, DETECTORS)
    return await asyncio.to_thread(committed_alarm_ids, database)


async def stop_and_time(station) -> tuple[int, float, str]:
    """SIGTERM, as ``systemctl stop`` sends it: the exit status, the seconds it took, the log."""
    started = time.monotonic()
    code = await station.gateway.stop_async(signal.SIGTERM)
    return code, time.monotonic() - started, station.gateway.output()


async def restart_and_collect(station, platform, committed: set[str]) -> None:
    """The gateway started again on the same state directory (what systemd does), until every
    alarm ``committed`` before the stop has reached the platform."""
    station.gateway.start()
    await platform.wait_for(
        lambda _m: committed <= {m.payload.get("id") for m in platform.messages}, timeout=30
    )


def assert_stopped_cleanly(code: int, took: float, log: str, committed: set[str]) -> None:
    """Status 0 within the bound, no traceback, and the log says what waits for the next start."""
    assert code == 0, log[-3000:]
    assert took < STOP_BOUND, f"the stop took {took:.1f} s:\n{log[-3000:]}"
    assert "Traceback" not in log
    undelivered = re.search(r"stopping with (\d+) message\(s\) undelivered", log)
    assert undelivered is not None, log[-3000:]
    assert int(undelivered[1]) >= len(committed)


def assert_whole_stories(platform) -> None:
    story = read_story([m.payload for m in platform.messages])
    assert story.anomalies == [], "\n".join(map(str, story.anomalies))
    active = {key for key, picture in story.final.items() if picture.active}
    assert active == {f"cs-test.gas-{i:02d}.gas" for i in range(DETECTORS)}


async def test_a_stop_while_the_broker_is_down_ends_promptly_and_keeps_the_alarms(
    tmp_path, mosquitto, platform
):
    """No session to deliver on: the stop does not wait for one; the backlog stays on disk."""
    async with running_station(
        tmp_path, mosquitto.url, devices=gas_detectors(DETECTORS), poll_interval=0.2
    ) as station:
        committed = await leak_everywhere(station, platform, mosquitto.stop)
        code, took, log = await stop_and_time(station)

        assert_stopped_cleanly(code, took, log, committed)
        kept = await asyncio.to_thread(committed_alarm_ids, station.state_dir / "outbox.sqlite3")
        assert committed <= kept, "the stop dropped alarms the outbox held"

        mosquitto.start()
        await restart_and_collect(station, platform, committed)
    assert_whole_stories(platform)


async def test_a_stop_while_the_broker_is_frozen_ends_promptly_and_keeps_the_alarms(
    tmp_path, mosquitto, platform
):
    """Published, never acknowledged: 3 s to deliver, 2 s for the offline status, then the exit;
    what the broker never acknowledged goes out again after the next start."""
    broker = mosquitto.process
    async with running_station(
        tmp_path, mosquitto.url, devices=gas_detectors(DETECTORS), poll_interval=0.2
    ) as station:
        try:  # frozen: the connection stays open, nothing is acknowledged
            committed = await leak_everywhere(station, platform, lambda: broker.send_signal(signal.SIGSTOP))
            code, took, log = await stop_and_time(station)
        finally:
            broker.send_signal(signal.SIGCONT)

        assert_stopped_cleanly(code, took, log, committed)
        assert "the offline status was not acknowledged (timed out)" in log

        await restart_and_collect(station, platform, committed)
    assert_whole_stories(platform)
