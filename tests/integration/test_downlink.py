"""Downlink commands end to end: signed with ``outpost cmd``, through Mosquitto, into the gateway."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.commands.auth import sign
from tests.support.peers import alarm, outpost, running_station

pytestmark = pytest.mark.slow

KEY = "6f7574706f73742d746573742d6b6579"  # hex
PREFIX = "outpost/v1/cs-test"


@pytest.fixture
async def station(tmp_path, mosquitto, platform):
    key_file = tmp_path / "command.key"
    key_file.write_text(KEY + "\n")
    extra = {
        "commands": {"key_file": str(key_file)},
        "actuators": {
            "siren": {
                "device": "kitchen-gas",
                "register": "coil",
                "address": 5,
                "values": {"on": 1, "off": 0},
            }
        },
    }
    async with running_station(tmp_path, mosquitto.url, extra=extra, poll_interval=0.3) as running:
        await platform.wait_for(lambda m: m.topic.endswith("/device/kitchen-gas/status"), 15)
        yield running


async def command(station, name: str, *args: str) -> dict:
    """``outpost cmd --config ...``, as an operator types it."""
    result = await asyncio.to_thread(outpost, "cmd", "--config", str(station.config_path), name, *args)
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


async def publish_raw(url: str, topic: str, payload: bytes) -> None:
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    async with aiomqtt.Client(host, int(port)) as client:
        await client.publish(topic, payload, qos=1)


async def test_acknowledge_an_alarm_from_the_platform(station, platform):
    station.units["kitchen-gas"].set("gas", 60.0)
    raised = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"))

    result = await command(station, "ack", "alarm_key=cs-test.kitchen-gas.gas", "by=duty officer")
    assert result["ok"], result
    assert result["schema"] == "outpost.cmd_result/1"

    acked = await platform.wait_for(alarm(".kitchen-gas.gas", "acknowledged"))
    assert acked.payload["state"] == "active_ack"
    assert acked.payload["acknowledged_by"] == "duty officer"
    assert acked.payload["first_id"] == raised.payload["id"]
    snapshot = await platform.wait_for(
        lambda m: (
            m.topic == f"{PREFIX}/alarms/active"
            and any(a["state"] == "active_ack" for a in m.payload["alarms"])
        )
    )
    assert [a["alarm_key"] for a in snapshot.payload["alarms"]] == ["cs-test.kitchen-gas.gas"]

    station.units["kitchen-gas"].set("gas", 2.0)
    cleared = await platform.wait_for(alarm(".kitchen-gas.gas", "cleared"), timeout=15)
    assert cleared.payload["state"] == "cleared"  # acknowledged and back to normal: done

    again = await command(station, "ack", "alarm_key=cs-test.kitchen-gas.gas")
    assert not again["ok"]
    assert "not in alarm" in again["error"]


async def test_unsigned_replayed_and_foreign_commands_are_refused_with_a_reason(station, platform, mosquitto):
    start = len(platform.messages)
    unsigned = {"id": "u1", "args": {}}
    await publish_raw(mosquitto.url, f"{PREFIX}/cmd/ping", json.dumps(unsigned).encode())
    signed = sign(bytes.fromhex(KEY), "cs-test", "ping", {}, "r1")
    for _ in range(2):
        await publish_raw(mosquitto.url, f"{PREFIX}/cmd/ping", json.dumps(signed).encode())
    foreign = sign(b"someone else's key", "cs-test", "ping", {}, "f1")
    await publish_raw(mosquitto.url, f"{PREFIX}/cmd/ping", json.dumps(foreign).encode())

    def answer(command_id):
        return lambda m: m.topic == f"{PREFIX}/cmd/result" and m.payload.get("command_id") == command_id

    assert (await platform.wait_for(answer("u1"), after=start)).payload["error"] == "unsigned command"
    answers = []
    await platform.wait_for(lambda _m: len(platform.matching(answer("r1"))) == 2, after=start)
    answers = [m.payload for m in platform.matching(answer("r1"))]
    assert answers[0]["ok"]
    assert answers[0]["result"]["pong"] is True
    assert answers[1]["error"] == "replayed command (nonce already used)"
    assert (await platform.wait_for(answer("f1"), after=start)).payload["error"] == "bad signature"


async def test_actuate_switches_a_declared_actuator_only(station):
    result = await command(station, "actuate", "actuator=siren", "value=on")
    assert result["ok"], result
    assert station.units["kitchen-gas"].get("siren") is True
    refused = await command(station, "actuate", "actuator=siren", "value=max")
    assert not refused["ok"]
    assert refused["error"] == "siren accepts only on, off"
    unknown = await command(station, "actuate", "actuator=sprinkler", "value=on")
    assert "no actuator 'sprinkler'" in unknown["error"]


async def test_exercise_mode_marks_alarms_as_a_drill(station, platform):
    assert (await command(station, "exercise", "on=true"))["ok"]
    station.units["kitchen-gas"].set("gas", 30.0)
    drill = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"))
    assert drill.payload["status"] == "exercise"
    report = await command(station, "report")
    assert report["ok"]
    published = await platform.wait_for(lambda m: m.topic == f"{PREFIX}/report")
    assert published.payload["exercise"] is True
    assert published.payload["all_clear"] is False


async def test_broadcast_without_a_radio_bridge_says_so(station):
    result = await command(station, "broadcast", "text=Flood warning: move to high ground")
    assert not result["ok"]
    assert result["error"] == "no radio bridge is configured at this station"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["ack", "ping", "reset", "x"]), payload=st.binary(max_size=200))
async def test_garbage_on_command_topics_changes_nothing(station, platform, mosquitto, name, payload):
    start = len(platform.messages)
    await publish_raw(mosquitto.url, f"{PREFIX}/cmd/{name}", payload)
    rejected = await platform.wait_for(
        lambda m: m.topic == f"{PREFIX}/cmd/result" and m.payload.get("schema"), after=start
    )
    assert rejected.payload["ok"] is False
    assert station.gateway.process is not None
    assert station.gateway.process.poll() is None
