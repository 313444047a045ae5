"""A stuck uplink: the broker holds the connection open and acknowledges nothing.

The station must not look healthy while an alarm cannot leave it: systemd's
keep-alive stops (naming the MQTT uplink), ``/healthz`` answers 503 and
``outpost status`` says the station is not healthy. Once the broker answers
again the alarm reaches the platform and all three say so.

A frozen broker (SIGSTOP) is the stuck peer: the kernel keeps its TCP connection
open and takes what the gateway writes, but nothing is ever acknowledged. The
uplink gives such a session up by itself when a publish has waited 10 s (and
then reconnects); the stall shows from ``stall_after`` (2 s here) until then,
which is when this test looks.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
import yaml

from tests.support.notify import NotifySocket
from tests.support.peers import alarm, outpost, read_health, running_station, wait_for_log

pytestmark = pytest.mark.slow

ALARM = alarm("kitchen-gas.gas", "raised")


def delivered(health: dict) -> bool:
    """Healthy again, connected, and nothing left waiting in the outbox (a ``/healthz`` predicate)."""
    return health["healthy"] and health["mqtt"]["connected"] and health["outbox"]["backlog"] == 0


async def test_a_stuck_uplink_stops_the_keep_alive_until_the_broker_acknowledges(
    tmp_path, mosquitto, platform
):
    notify = NotifySocket(tmp_path / "notify.sock")
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"}  # a ping every 0.5 s
    extra = {"service": {"stall_after": "2s"}}
    try:
        async with running_station(
            tmp_path, mosquitto.url, extra=extra, env=env, poll_interval=0.2
        ) as station:
            listen = yaml.safe_load(station.config_path.read_text())["service"]["metrics_listen"]
            await platform.wait_for(lambda m: m.topic.endswith("/device/kitchen-gas/status"), 20)
            await notify.wait_for("mqtt up", timeout=20)

            os.kill(mosquitto.process.pid, signal.SIGSTOP)
            try:
                station.units["kitchen-gas"].set("gas", 30.0)
                stalled = await notify.wait_for("STALLED", timeout=15)
                assert "mqtt uplink" in stalled
                # Keep reading systemd's socket while a person looks: every message until the
                # broker answers again must withhold the keep-alive.
                since_stall = len(notify.messages)
                keep_alive = asyncio.create_task(notify.wait_for("WATCHDOG=1", timeout=60))
                health, status = await asyncio.gather(
                    asyncio.to_thread(read_health, f"http://{listen}/healthz"),
                    asyncio.to_thread(outpost, "status", str(station.config_path)),
                )
                assert not platform.matching(ALARM)  # nothing has left the station
            finally:
                os.kill(mosquitto.process.pid, signal.SIGCONT)

            assert health["healthy"] is False, health  # read_health takes a 503 as well as a 200
            assert "mqtt uplink" in health["stalled"]
            assert health["alarms_active"] == ["cs-test.kitchen-gas.gas"]
            assert status.returncode == 1, status.stdout + status.stderr
            assert "NOT HEALTHY: mqtt uplink" in status.stdout
            assert "(1 alarms)" in status.stdout  # the alarm waits in the outbox
            await wait_for_log(station.gateway.output, "no progress from mqtt uplink")

            # The broker answers: the alarm goes out and the keep-alive comes back.
            await platform.wait_for(ALARM, 30)
            resumed = await keep_alive
            withheld = notify.messages[since_stall - 1 : -1]
            assert withheld, withheld
            assert all("STALLED: " in m for m in withheld), withheld
            assert "WATCHDOG=1" in resumed
            await notify.wait_for("backlog 0, mqtt up", timeout=20)
            await station.health_where(delivered, timeout=20)
            await wait_for_log(station.gateway.output, "watchdog keep-alive resumes")
            status = await asyncio.to_thread(outpost, "status", str(station.config_path))
            assert status.returncode == 0, status.stdout + status.stderr
            assert "HEALTHY" in status.stdout
    finally:
        notify.close()
