"""Alarm state across a gateway restart, and the periodic report, with the real process and Mosquitto."""

from __future__ import annotations

import jsonschema

from gateway.contract.events import json_schemas
from tests.support.peers import alarm, running_station


async def test_a_restarted_gateway_neither_forgets_nor_repeats_an_active_alarm(tmp_path, mosquitto, platform):
    async with running_station(tmp_path, mosquitto.url, poll_interval=0.3) as station:
        station.units["kitchen-gas"].set("gas", 60.0)
        raised = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"), 15)
        station.gateway.stop()
        restart = len(platform.messages)
        station.gateway.start()
        snapshot = await platform.wait_for(
            lambda m: m.topic.endswith("/alarms/active") and m.payload["alarms"], 15, after=restart
        )
        assert [a["first_id"] for a in snapshot.payload["alarms"]] == [raised.payload["id"]]
        # The first poll after the restart still sees 60 %LEL: that is the same alarm, not a new one.
        await platform.wait_for(lambda m: m.topic.endswith("/device/kitchen-gas/status"), 15, after=restart)
        station.units["kitchen-gas"].set("gas", 2.0)
        cleared = await platform.wait_for(alarm(".kitchen-gas.gas", "cleared"), 15, after=restart)
        assert cleared.payload["first_id"] == raised.payload["id"]
        # Delivery is at least once: the raise may arrive again, with its own id; never a new raise.
        after = [
            m.payload["transition"]
            for m in platform.messages[restart:]
            if m.topic.endswith("/alarm") and m.payload["id"] != raised.payload["id"]
        ]
        assert after == ["cleared"]


async def test_the_periodic_report_counts_what_happened_since_the_last_one(tmp_path, mosquitto, platform):
    extra = {"reports": {"interval": "2s", "daily_at": None}}
    async with running_station(tmp_path, mosquitto.url, poll_interval=0.3, extra=extra) as station:
        first = await platform.wait_for(lambda m: m.topic.endswith("/report"), 15)
        assert first.payload["period"] == "periodic"
        station.units["kitchen-gas"].set("gas", 30.0)
        await platform.wait_for(alarm(".kitchen-gas.gas", "raised"), 15)
        start = len(platform.messages)
        report = await platform.wait_for(
            lambda m: m.topic.endswith("/report") and not m.payload["all_clear"], 15, after=start
        )
        body = report.payload
        jsonschema.validate(body, json_schemas()["outpost.report/1"])
        assert body["buses"] == [{"bus": "lan", "status": "ok", "devices_ok": 2, "devices": 2}]
        assert [a["alarm_key"] for a in body["active_alarms"]] == ["cs-test.kitchen-gas.gas"]
        assert body["since"] is not None
        # Counted in exactly one periodic report: the one covering the moment it was raised.
        counted = [
            m.payload["counts"].get("raised.first-stage", 0)
            for m in platform.messages
            if m.topic.endswith("/report") and m.payload["period"] == "periodic"
        ]
        assert sum(counted) == 1


async def test_a_detector_test_button_alone_reaches_the_platform_as_a_test(tmp_path, mosquitto, platform):
    async with running_station(tmp_path, mosquitto.url, poll_interval=0.3) as station:
        await platform.wait_for(lambda m: m.topic.endswith("/device/hall-smoke/status"), 15)
        station.units["hall-smoke"].set("test", True)
        started = await platform.wait_for(alarm(".hall-smoke.test", "raised"), 15)
        assert started.payload["status"] == "test"
        assert started.payload["latched"] is False
        assert started.payload["historical"] is False
        station.units["hall-smoke"].set("test", False)
        ended = await platform.wait_for(alarm(".hall-smoke.test", "cleared"), 15)
        assert ended.payload["value"] is False  # the fire bit never followed: a failed test
        fault = await platform.wait_for(alarm(".hall-smoke.fault", "raised"), 15)
        assert fault.payload["status"] == "actual"
        assert not platform.matching(alarm(".hall-smoke.fire"))  # never a fire alarm


async def test_a_fire_bit_set_at_boot_arrives_live(tmp_path, mosquitto, platform):
    async with running_station(tmp_path, mosquitto.url, poll_interval=0.3) as station:
        await platform.wait_for(lambda m: m.topic.endswith("/device/hall-smoke/status"), 15)
        station.gateway.stop()
        station.units["hall-smoke"].set("fire_alarm", True)
        restart = len(platform.messages)
        station.gateway.start()
        raised = await platform.wait_for(alarm(".hall-smoke.fire", "raised"), 15, after=restart)
        assert raised.payload["historical"] is False
        assert raised.payload["status"] == "actual"
        # So is the first device status of the new boot.
        status = await platform.wait_for(
            lambda m: m.topic.endswith("/device/hall-smoke/status"), 15, after=restart
        )
        assert status.payload["historical"] is False
