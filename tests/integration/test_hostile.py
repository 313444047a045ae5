"""Hostile input from the network, and the station's goodbye: a running gateway, a real Mosquitto.

Garbage on the command topics while alarms are raised, forged log lines in a
command id, an oversized HTTP request, a second gateway with the same station
id, and a clean stop that leaves ``offline`` retained.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import subprocess
import time
import urllib.request

import aiomqtt
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.commands.processor import MAX_COMMAND_BYTES
from tests.support.peers import (
    GatewayProcess,
    Mosquitto,
    alarm,
    free_port,
    gas_detectors,
    running_station,
    wait_for_log,
)

pytestmark = pytest.mark.slow

PREFIX = "outpost/v1/cs-test"
BROKER_MAX = 1024 * 1024  # the broker's own packet limit in these tests
ALARM_LATENCY = 3.0  # seconds from a reading over the threshold to the platform: well above normal
EXAMPLES = 12  # and the explicit ones
DETECTORS = EXAMPLES + 4


@pytest.fixture
def mosquitto(tmp_path):
    broker = Mosquitto(tmp_path / "mosquitto", options=(f"max_packet_size {BROKER_MAX}",))
    broker.start()
    yield broker
    broker.stop()


async def publish(url: str, topic: str, payload: bytes, **properties) -> None:
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    props = None
    if properties:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        for name, value in properties.items():
            setattr(props, name, value)
    async with aiomqtt.Client(host, int(port), protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.publish(topic, payload, qos=1, properties=props)


def listen_address(station) -> str:
    return yaml.safe_load(station.config_path.read_text())["service"]["metrics_listen"]


async def http_get(address: str, path: str) -> bytes:
    return await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://{address}{path}", timeout=5).read()
    )


def deep(depth: int) -> bytes:
    return b'{"id":' * depth + b"1" + b"}" * depth


hostile_payloads = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"[" * 100_000, deep(100_000), b'{"a":' * 100_000]),
    st.integers(201, 5000).map(deep),
    st.sampled_from([MAX_COMMAND_BYTES + 1, BROKER_MAX - 1024]).map(
        lambda size: b'{"id":"x","pad":"' + b"a" * (size - 20) + b'"}'
    ),
    st.binary(min_size=1, max_size=100).map(lambda junk: b'{"id":"\xff' + junk + b'"}'),
    st.text(max_size=100).map(lambda text: json.dumps({"id": text, "args": text}).encode()),
)


@pytest.fixture
async def alarming_station(tmp_path, mosquitto, platform):
    async with running_station(
        tmp_path, mosquitto.url, devices=gas_detectors(DETECTORS), poll_interval=0.3
    ) as station:
        await wait_for_log(station.gateway.output, "MQTT connected")
        await platform.wait_for(lambda m: m.topic.endswith("/device/gas-00/status"), 20)
        yield station


_examples = itertools.count()  # each example raises the alarm of a detector of its own


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@example(name="anything", payload=b"[" * 100_000)
@example(name="ping", payload=deep(100_000))
@example(name="ack", payload=b'{"id":"' + b"a" * (BROKER_MAX - 1024) + b'"}')
@example(name="reset", payload=b'{"id":"\xff\xfe"}')
@given(name=st.sampled_from(["ack", "ping", "reset", "anything"]), payload=hostile_payloads)
async def test_garbage_on_the_command_topics_delays_no_alarm_and_never_drops_the_uplink(
    alarming_station, platform, mosquitto, name, payload
):
    station = alarming_station
    device = f"gas-{next(_examples) % DETECTORS:02d}"
    start = len(platform.messages)
    for _ in range(3):
        await publish(mosquitto.url, f"{PREFIX}/cmd/{name}", payload)
    raised_at = time.time()
    station.units[device].set("gas", 60.0)

    raised = await platform.wait_for(alarm(f".{device}.gas", "raised"), timeout=15, after=start)
    assert raised.at - raised_at < ALARM_LATENCY
    answer = await platform.wait_for(
        lambda m: m.topic == f"{PREFIX}/cmd/result" and m.payload.get("schema"), after=start
    )
    assert answer.payload["ok"] is False
    log = station.gateway.output()
    assert log.count("MQTT connected") == 1, log[-3000:]
    assert "Traceback" not in log
    health = json.loads(await http_get(listen_address(station), "/healthz"))
    assert health["mqtt"]["connected"] is True
    assert health["tasks"] == {"down": {}, "failures": {}}
    station.units[device].set("gas", 2.0)


async def test_refusals_are_counted_by_input_and_reason(tmp_path, mosquitto, platform):
    async with running_station(tmp_path, mosquitto.url) as station:
        await wait_for_log(station.gateway.output, "MQTT connected")
        start = len(platform.messages)
        await publish(mosquitto.url, f"{PREFIX}/cmd/ping", deep(5_000))
        await publish(mosquitto.url, f"{PREFIX}/cmd/ping", b"\xff\xfe")
        await platform.wait_for(
            lambda _m: len([m for m in platform.messages[start:] if m.topic.endswith("/cmd/result")]) == 2
        )
        metrics = (await http_get(listen_address(station), "/metrics")).decode()
    assert 'outpost_input_rejected_total{input="mqtt command",reason="nested too deeply"} 1.0' in metrics
    assert 'outpost_input_rejected_total{input="mqtt command",reason="not UTF-8"} 1.0' in metrics


async def test_an_answer_goes_only_where_a_stranger_may_send_the_gateway(tmp_path, mosquitto, platform):
    async with running_station(tmp_path, mosquitto.url) as station:
        await wait_for_log(station.gateway.output, "MQTT connected")
        start = len(platform.messages)
        body = json.dumps({"id": "spoof", "args": {}}).encode()
        for topic in (f"{PREFIX}/alarm", "elsewhere/#"):
            await publish(mosquitto.url, f"{PREFIX}/cmd/ping", body, ResponseTopic=topic)
        await platform.wait_for(
            lambda _m: len(platform.matching(lambda m: m.payload.get("command_id") == "spoof")) == 2
        )
        log = station.gateway.output()
    spoofed = [m for m in platform.messages[start:] if m.payload.get("command_id") == "spoof"]
    assert {m.topic for m in spoofed} == {f"{PREFIX}/cmd/result"}
    assert log.count("MQTT connected") == 1


async def test_a_command_id_cannot_forge_a_log_line(tmp_path, mosquitto, platform):
    forged = "x\n2099-01-01 00:00:00,000 CRITICAL gateway.alarms.engine: cs-test.kitchen-gas.gas CLEARED"
    async with running_station(tmp_path, mosquitto.url) as station:
        await wait_for_log(station.gateway.output, "MQTT connected")
        start = len(platform.messages)
        for command_id in (forged, "y" * 60_000):
            body = json.dumps({"id": command_id, "args": {}}).encode()
            await publish(mosquitto.url, f"{PREFIX}/cmd/ping", body)
        await platform.wait_for(
            lambda _m: len([m for m in platform.messages[start:] if m.topic.endswith("/cmd/result")]) == 2
        )
        await wait_for_log(station.gateway.output, "rejected", 2)
        log = station.gateway.output()
    assert not any(line.startswith("2099-") for line in log.splitlines())
    assert r"\n2099-01-01" in log  # the id is there, escaped
    assert max(len(line) for line in log.splitlines()) < 1000


async def test_an_oversized_http_request_is_refused_and_nothing_else_notices(tmp_path, mosquitto, platform):
    async with running_station(tmp_path, mosquitto.url) as station:
        await wait_for_log(station.gateway.output, "MQTT connected")
        host, port = listen_address(station).rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /healthz HTTP/1.1\r\nX-Junk: " + b"a" * 100_000 + b"\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        writer.close()
        health = json.loads(await http_get(listen_address(station), "/healthz"))
        metrics = (await http_get(listen_address(station), "/metrics")).decode()
    assert status.startswith(b"HTTP/1.1 431")
    assert health["mqtt"]["connected"] is True
    assert 'outpost_input_rejected_total{input="http",reason="header too large"} 1.0' in metrics


async def test_sigterm_leaves_offline_retained_with_the_reason_stopped(tmp_path, mosquitto, platform):
    async with running_station(tmp_path, mosquitto.url) as station:
        await platform.wait_for(lambda m: m.topic == f"{PREFIX}/status" and m.payload["state"] == "online")
        code = await station.gateway.stop_async()
        log = station.gateway.output()
    assert code == 0
    retained = await asyncio.to_thread(
        subprocess.run,
        ["mosquitto_sub", "-p", str(mosquitto.port), "-t", f"{PREFIX}/status", "-C", "1", "-W", "5"],
        capture_output=True,
        check=True,
    )
    status = json.loads(retained.stdout)
    assert (status["state"], status["reason"]) == ("offline", "stopped")
    assert "station status offline (stopped) published" in log


@pytest.mark.parametrize("protocol", ["mqtt5", "mqtt311"])
async def test_two_gateways_with_one_station_id_are_named_in_one_line(tmp_path, mosquitto, protocol):
    extra = {"mqtt": {"protocol": protocol}}
    (tmp_path / "a").mkdir()
    async with running_station(tmp_path / "a", mosquitto.url, extra=extra) as first:
        await wait_for_log(first.gateway.output, "MQTT connected")
        twin = tmp_path / "b"
        shutil.copytree(tmp_path / "a", twin, ignore=shutil.ignore_patterns("state", "*.log", "mosquitto"))
        config = yaml.safe_load((twin / "station.yaml").read_text())
        config["state_dir"] = str(twin / "state")
        config["service"]["metrics_listen"] = f"127.0.0.1:{free_port()}"
        (twin / "station.yaml").write_text(yaml.safe_dump(config))
        second = GatewayProcess(twin / "station.yaml", twin / "gateway.log")
        second.start()
        try:
            named = "another client connects with this station's client id 'outpost-cs-test'"
            deadline = time.monotonic() + 30
            while named not in first.gateway.output() + second.output():
                assert time.monotonic() < deadline, first.gateway.output()[-2000:]
                await asyncio.sleep(0.1)
            logs = first.gateway.output() + second.output()
        finally:
            second.stop()
    line = next(line for line in logs.splitlines() if named in line)
    assert "station id 'cs-test'" in line
    assert len(re.findall(re.escape(named), first.gateway.output())) <= 1
