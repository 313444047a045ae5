"""A broker that refuses a publish (MQTT 5 PUBACK with a failure reason) does not make it delivered.

Mosquitto, with an ACL that does not let the station write to its alarm topic,
answers the alarm's publish with PUBACK 0x87 "Not authorized" (MQTT 5.0 §3.4.2.1).
The broker has not taken the alarm: the station keeps it in its outbox, says why
in its log and in ``/healthz``, and delivers it once the operator mends the ACL
(Mosquitto re-reads its ACL file on SIGHUP). A station that counted the PUBACK
as delivery would delete an alarm no platform ever received.
"""

from __future__ import annotations

import signal

import pytest

from tests.support.peers import Mosquitto, Platform, alarm, running_station

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


def alarms_waiting(health: dict) -> bool:
    return health["outbox"]["backlog_alarms"] >= 1 and "refused" in (health["mqtt"]["last_error"] or "")


async def test_an_alarm_the_broker_refuses_stays_in_the_outbox_until_the_acl_lets_it_through(tmp_path):
    acl = tmp_path / "acl"
    acl.write_text(EVERY_TOPIC_BUT_ALARMS)
    acl.chmod(0o644)
    broker = Mosquitto(tmp_path / "mosquitto", options=(f"acl_file {acl}",))
    broker.start()
    platform = Platform(broker.url, "outpost/v1/cs-test/#")
    await platform.start()
    try:
        async with running_station(tmp_path, broker.url) as station:
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
    finally:
        await platform.stop()
        broker.stop()
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
