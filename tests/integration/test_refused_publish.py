"""A broker that refuses a publish (MQTT 5 PUBACK with a failure reason) does not make it delivered.

Mosquitto, with an ACL that does not let the station write to its alarm topic,
answers the alarm's publish with PUBACK 0x87 "Not authorized" (MQTT 5.0 §3.4.2.1).
The broker has not taken the alarm: the station keeps it in its outbox, says why
in its log and in ``/healthz``, and delivers it once the operator mends the ACL
(Mosquitto re-reads its ACL file on SIGHUP). A station that counted the PUBACK
as delivery would delete an alarm no platform ever received.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.peers import Mosquitto, Platform, alarm, outpost, running_station

pytestmark = pytest.mark.slow

EVERY_TOPIC_BUT_ALARMS = """\
topic read outpost/#
topic write outpost/v1/cs-test/status
topic write outpost/v1/cs-test/alarms/active
topic write outpost/v1/cs-test/device/#
topic write outpost/v1/cs-test/telemetry/#
topic write outpost/v1/cs-test/report
topic write outpost/v1/cs-test/cmd/#
"""
MENDED = "topic readwrite outpost/#\n"


def write_acl(acl: Path, rules: str) -> Path:
    acl.write_text(rules)
    acl.chmod(0o644)  # Mosquitto reads it as its own user
    return acl


@contextlib.asynccontextmanager
async def broker_with_acl(acl: Path) -> AsyncIterator[tuple[Mosquitto, Platform]]:
    """A Mosquitto that applies the ACL file ``acl`` (re-read on SIGHUP), and a platform on it."""
    broker = Mosquitto(acl.parent / "mosquitto", options=(f"acl_file {acl}",))
    broker.start()
    platform = Platform(broker.url, "outpost/v1/cs-test/#")
    await platform.start()
    try:
        yield broker, platform
    finally:
        await platform.stop()
        broker.stop()


def alarms_waiting(health: dict) -> bool:
    return health["outbox"]["backlog_alarms"] >= 1 and "refused" in (health["mqtt"]["last_error"] or "")


async def test_an_alarm_the_broker_refuses_stays_in_the_outbox_until_the_acl_lets_it_through(tmp_path):
    acl = write_acl(tmp_path / "acl", EVERY_TOPIC_BUT_ALARMS)
    async with (
        broker_with_acl(acl) as (broker, platform),
        running_station(tmp_path, broker.url) as station,
    ):
        await platform.wait_for(lambda m: m.topic.endswith("/device/kitchen-gas/status"), 15)
        station.units["kitchen-gas"].set("gas", 60.0)
        health = await station.health_where(alarms_waiting)
        assert "Not authorized (0x87)" in health["mqtt"]["last_error"]
        assert not platform.matching(alarm(".kitchen-gas.gas"))

        acl.write_text(MENDED)
        assert broker.process is not None
        broker.process.send_signal(signal.SIGHUP)
        raised = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"), 40)
        health = await station.health_where(lambda h: h["outbox"]["backlog_alarms"] == 0)
        log = station.gateway.output()
    assert raised.payload["level"] != "normal"
    assert health["mqtt"]["last_error"] is None
    refusals = [line for line in log.splitlines() if "refused the publish" in line]
    assert refusals, log[-3000:]
    assert (
        "'outpost/v1/cs-test/alarm': Not authorized (0x87); its ACL must let this station publish"
        in refusals[0]
    )
    assert len(refusals) == 1  # said once, not at every try
    assert "another client connects with this station's client id" not in log
    assert "Traceback" not in log


EVERY_TOPIC_BUT_TELEMETRY = """\
topic read outpost/#
topic write outpost/v1/cs-test/status
topic write outpost/v1/cs-test/alarm
topic write outpost/v1/cs-test/alarms/active
topic write outpost/v1/cs-test/device/#
topic write outpost/v1/cs-test/report
topic write outpost/v1/cs-test/cmd/#
"""


async def test_refused_telemetry_is_let_go_and_holds_up_no_alarm(tmp_path):
    """Telemetry the broker refuses is what the outbox would evict for space: it is let go,
    counted and said once, and the session goes on, so the alarms behind it are not held up
    by a reconnect after every refusal."""
    async with (
        broker_with_acl(write_acl(tmp_path / "acl", EVERY_TOPIC_BUT_TELEMETRY)) as (broker, platform),
        running_station(tmp_path, broker.url, extra={"telemetry_interval": "0.5s"}) as station,
    ):
        await station.health_where(lambda h: h["mqtt"]["refused"] >= 4)
        station.units["kitchen-gas"].set("gas", 60.0)
        await platform.wait_for(alarm(".kitchen-gas.gas", "raised"), 15)
        health = await station.health_where(lambda h: h["mqtt"]["refused"] >= 8)
        status = outpost("status", str(station.config_path))
        log = station.gateway.output()
    assert health["outbox"]["backlog_alarms"] == 0
    assert health["mqtt"]["last_error"] is None  # the session never ended
    assert log.count("MQTT connected to") == 1
    assert "REFUSED by the broker" in status.stdout
    refusals = [line for line in log.splitlines() if "refused the publish" in line]
    assert refusals, log[-3000:]
    assert all("/telemetry/" in line and "such messages are let go" in line for line in refusals)
    assert len(refusals) <= 2  # once per device's telemetry topic, not per message
    assert not platform.matching(lambda m: "/telemetry/" in m.topic)
    assert "Traceback" not in log
