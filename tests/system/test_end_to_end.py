"""The gateway as systemd runs it, a real Mosquitto, and pymodbus simulators on loopback."""

from __future__ import annotations

import json
import time

import jsonschema
import pytest

from gateway.contract.events import json_schemas
from tests.support.peers import alarm, running_station

POLL = 0.5


@pytest.fixture
async def station(tmp_path, mosquitto, platform):
    """Simulated devices, and the gateway process polling them every ``POLL`` seconds."""
    async with running_station(tmp_path, mosquitto.url, poll_interval=POLL) as running:
        await platform.wait_for(lambda m: m.topic.endswith("/device/kitchen-gas/status"), 15)
        yield running.units, running.gateway


def _alarm_messages(platform):
    return platform.matching(lambda m: m.topic.endswith("/alarm") and m.payload["kind"] == "gas")


async def test_gas_leak_raises_one_alarm_with_the_right_fields_then_clears(station, platform):
    units, _ = station
    start = len(platform.messages)
    changed_at = time.time()
    units["kitchen-gas"].set("gas", 60.0)
    raised = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"), timeout=10, after=start)
    # Within two poll intervals, with generous room for a loaded CI machine.
    assert raised.at - changed_at < 2 * POLL + 1.0

    body = raised.payload
    jsonschema.validate(body, json_schemas()["outpost.alarm/1"])
    assert body["schema"] == "outpost.alarm/1"
    assert body["station"] == "cs-test"
    assert body["alarm_key"] == "cs-test.kitchen-gas.gas"
    assert body["kind"] == "gas"
    assert body["level"] == "orange"
    assert body["grade"] == "second-stage"
    assert body["condition"] == "HIHI"
    assert body["state"] == "active_unack"
    assert body["value"] == 60.0
    assert body["unit"] == "%LEL"
    assert body["threshold"] == 50.0
    assert body["source"] == {
        "device": "kitchen-gas",
        "point": "gas",
        "bus": "lan",
        "unit": 1,
        "profile": "gas-detector",
        "location": "Kitchen",
    }
    assert body["first_id"] == body["id"]
    assert body["time_quality"] in ("synchronized", "unsynchronized")
    assert body["observed_at"].endswith("Z")
    assert len(body["observed_at"]) == len("2026-01-01T00:00:00.000Z")
    assert not raised.retain

    units["kitchen-gas"].set("gas", 2.0)
    cleared = await platform.wait_for(alarm(".kitchen-gas.gas", "cleared"), timeout=10, after=start)
    assert cleared.payload["first_id"] == body["id"]
    assert cleared.payload["seq"] > body["seq"]
    # Exactly one raise, no level changes in between: one alarm for one leak.
    assert [m.payload["transition"] for m in _alarm_messages(platform)] == ["raised", "cleared"]


async def test_device_that_stops_answering_is_a_fault_until_it_returns(station, platform):
    units, _ = station
    start = len(platform.messages)
    units["hall-smoke"].go_silent()
    status = await platform.wait_for(
        lambda m: m.topic.endswith("/device/hall-smoke/status") and m.payload["status"] == "offline",
        timeout=10,
        after=start,
    )
    assert "no response" in status.payload["reason"]
    raised = await platform.wait_for(alarm(".hall-smoke.fault", "raised"), after=start)
    assert raised.payload["kind"] == "device_fault"
    assert raised.payload["level"] == "blue"
    # The other device keeps being polled: its status never went bad.
    assert not platform.matching(
        lambda m: m.topic.endswith("/device/kitchen-gas/status") and m.payload["status"] != "ok"
    )

    units["hall-smoke"].answer_normally()
    await platform.wait_for(
        lambda m: m.topic.endswith("/device/hall-smoke/status") and m.payload["status"] == "ok",
        after=start,
    )
    cleared = await platform.wait_for(alarm(".hall-smoke.fault", "cleared"), after=start)
    assert cleared.payload["first_id"] == raised.payload["id"]


async def test_exception_response_is_a_device_fault_with_its_reason(station, platform):
    units, _ = station
    start = len(platform.messages)
    units["kitchen-gas"].answer_with_exception()
    status = await platform.wait_for(
        lambda m: m.topic.endswith("/device/kitchen-gas/status") and m.payload["status"] == "fault",
        after=start,
    )
    assert "exception 4 (device failure)" in status.payload["reason"]


async def test_broker_restart_gateway_reconnects_and_publishes_birth_again(station, platform, mosquitto):
    units, gateway = station
    first_birth = await platform.wait_for(lambda m: m.topic.endswith("/status") and "state" in m.payload)
    assert first_birth.payload["state"] == "online"
    assert first_birth.retain or first_birth.payload["seq"] >= 1

    mosquitto.stop()
    mosquitto.start()
    start = len(platform.messages)
    birth = await platform.wait_for(
        lambda m: (
            m.topic == "outpost/v1/cs-test/status"
            and m.payload["state"] == "online"
            and m.payload["seq"] > first_birth.payload["seq"]
        ),
        timeout=20,
        after=start,
    )
    assert birth.payload["boot_id"] == first_birth.payload["boot_id"]  # same process, new session
    assert [d["id"] for d in birth.payload["devices"]] == ["kitchen-gas", "hall-smoke"]

    # And alarms flow again over the new session.
    units["kitchen-gas"].set("gas", 30.0)
    raised = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"), after=start)
    assert raised.payload["level"] == "yellow"
    assert "MQTT connected" in gateway.output()


async def test_killed_gateway_leaves_retained_offline_will(station, platform, mosquitto):
    import signal

    _, gateway = station
    start = len(platform.messages)
    gateway.stop(signal.SIGKILL)
    will = await platform.wait_for(
        lambda m: m.topic == "outpost/v1/cs-test/status" and m.payload.get("state") == "offline",
        timeout=mosquitto_keepalive_bound(),
        after=start,
    )
    assert will.payload["schema"] == "outpost.status/1"
    json.dumps(will.payload)


def mosquitto_keepalive_bound() -> float:
    # A killed process's socket is closed by the kernel, so the broker sends the will at once.
    return 10.0
