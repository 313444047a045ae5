"""The daemon as systemd runs it: notify and watchdog, health and metrics, probe, logging."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import time
import urllib.request

import pytest
import yaml

from tests.support.abuse_files import billion_laughs, gbk
from tests.support.notify import NotifySocket
from tests.support.peers import alarm, mqtt_connected, outpost, running_station, wait_for_log

pytestmark = pytest.mark.slow


async def test_ready_then_watchdog_pings_that_stop_when_a_poller_hangs(tmp_path, mosquitto, platform):
    notify = NotifySocket(tmp_path / "notify.sock")
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"}  # a ping every 0.5 s
    extra = {"service": {"stall_after": "2s", "metrics_listen": None}}
    try:
        async with running_station(
            tmp_path, mosquitto.url, extra=extra, env=env, bus_timeout="1h", poll_interval=0.2
        ) as station:
            ready = await notify.wait_for("READY=1")
            assert "STATUS=" in ready
            ping = await notify.wait_for("WATCHDOG=1")
            assert "devices ok" in ping

            # A unit that never answers, on a bus whose timeout is an hour: the poller hangs.
            station.units["hall-smoke"].go_silent()
            stalled = await notify.wait_for("STALLED", timeout=15)
            assert "bus lan" in stalled
            # From now on no keep-alive: systemd would restart the service.
            after = [await notify.receive() for _ in range(4)]
            assert not any("WATCHDOG=1" in message for message in after)
            await wait_for_log(station.gateway.output, "withholding the watchdog keep-alive")
    finally:
        notify.close()


async def test_health_metrics_and_status_of_a_running_gateway(tmp_path, mosquitto, platform):
    async with running_station(tmp_path, mosquitto.url, poll_interval=0.2) as station:
        await platform.wait_for(lambda m: m.topic.endswith("/device/hall-smoke/status"), 15)
        station.units["kitchen-gas"].set("gas", 30.0)
        await platform.wait_for(lambda m: m.topic.endswith("/alarm"))
        listen = yaml.safe_load(station.config_path.read_text())["service"]["metrics_listen"]

        metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://{listen}/metrics").read())
        text = metrics.decode()
        assert 'outpost_polls_total{device="kitchen-gas",result="ok"}' in text
        assert 'outpost_alarm_events_total{level="yellow",transition="raised"} 1.0' in text
        assert "outpost_mqtt_connected 1.0" in text
        assert 'outpost_bus_busy_seconds_total{bus="lan"}' in text

        health = json.loads(
            await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://{listen}/healthz").read())
        )
        assert health["healthy"] is True
        assert health["devices"]["kitchen-gas"]["status"] == "ok"
        assert health["alarms_active"] == ["cs-test.kitchen-gas.gas"]

        status = await asyncio.to_thread(outpost, "status", str(station.config_path))
        assert status.returncode == 0, status.stderr
        assert "HEALTHY" in status.stdout
        assert "alarms active: cs-test.kitchen-gas.gas" in status.stdout
        assert "mqtt: connected" in status.stdout


async def test_probe_prints_what_answered_and_what_did_not(tmp_path, mosquitto):
    async with running_station(tmp_path, mosquitto.url) as station:
        station.units["kitchen-gas"].set("gas", 12.5)
        station.units["hall-smoke"].answer_with_exception()
        result = await asyncio.to_thread(outpost, "probe", str(station.config_path))
    assert result.returncode == 1  # something failed
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["kitchen-gas", "gas", "12.5"] for line in lines)
    assert any(line.startswith("hall-smoke") and "FAILED" in line and "exception 4" in line for line in lines)
    assert lines[-1] == "1 of 2 device(s) answered"


async def test_logs_fit_journald_and_json_and_never_carry_secrets(tmp_path, mosquitto, platform):
    key = tmp_path / "command.key"
    key.write_text("c0ffee-secret-key\n")
    extra = {"commands": {"key_file": str(key)}}
    async with running_station(
        tmp_path, mosquitto.url, extra=extra, env={"JOURNAL_STREAM": "8:1234"}
    ) as station:
        await station.health_where(mqtt_connected)
        journal = station.gateway.output()
    lines = [line for line in journal.splitlines() if line.strip()]
    assert all(line[:3] in {"<2>", "<3>", "<4>", "<6>", "<7>"} for line in lines), lines[:3]
    assert not any(line[3:7].isdigit() for line in lines)  # journald stamps the time itself
    assert "c0ffee" not in journal

    json_dir = tmp_path / "json"
    json_dir.mkdir()
    async with running_station(
        json_dir, mosquitto.url, extra=extra, options=("--log-format", "json")
    ) as station:
        await station.health_where(mqtt_connected)
        await wait_for_log(station.gateway.output, "MQTT connected")
        entries = [json.loads(line) for line in station.gateway.output().splitlines() if line.strip()]
    assert {"ts", "level", "logger", "message"} <= set(entries[0])
    assert any(e["logger"] == "gateway.uplink.mqtt" and "MQTT connected" in e["message"] for e in entries)


async def test_sighup_applies_a_valid_config_and_keeps_the_session_and_refuses_a_broken_one(
    tmp_path, mosquitto, platform
):
    async with running_station(tmp_path, mosquitto.url, poll_interval=0.2) as station:
        await station.health_where(mqtt_connected)
        config = yaml.safe_load(station.config_path.read_text())

        # A broken file: refused with its reason (what the operator reads), the running one stays.
        station.config_path.write_text(station.config_path.read_text().replace("unit: 1", "unit: 999"))
        station.gateway.process.send_signal(signal.SIGHUP)
        log = await wait_for_log(station.gateway.output, "reload refused")
        assert "devices.kitchen-gas.unit: must be 1..247, got 999" in log

        # A valid change: the kitchen detector alarms from 5 %LEL on this site. 8 %LEL is
        # no alarm under the old thresholds, so the alarm says the new file is in force.
        config["devices"]["kitchen-gas"]["alarms"] = {"gas": {"high": [{"level": "first-stage", "at": 5}]}}
        station.config_path.write_text(yaml.safe_dump(config))
        station.gateway.process.send_signal(signal.SIGHUP)
        station.units["kitchen-gas"].set("gas", 8.0)
        raised = await platform.wait_for(
            lambda m: m.topic.endswith("/alarm") and m.payload.get("transition") == "raised", timeout=10
        )
        assert raised.payload["threshold"] == 5.0
        # The status says so again (retained) on the same session: the district sees the new file.
        new = hashlib.sha256(station.config_path.read_bytes()).hexdigest()
        await platform.wait_for(
            lambda m: m.topic == "outpost/v1/cs-test/status" and m.payload["config"]["sha256"] == new
        )
        assert station.gateway.output().count("MQTT connected") == 1  # the session was not dropped


@pytest.mark.parametrize("make", [billion_laughs, gbk], ids=["bomb", "gbk"])
async def test_sighup_with_a_hostile_file_is_refused_at_once_and_alarms_still_arrive(
    tmp_path, mosquitto, platform, make
):
    async with running_station(tmp_path, mosquitto.url, poll_interval=0.2) as station:
        await platform.wait_for(lambda m: m.topic.endswith("/device/kitchen-gas/status"), 15)
        make(station.config_path.with_name("hostile.yaml")).replace(station.config_path)

        started = time.monotonic()
        station.gateway.process.send_signal(signal.SIGHUP)
        log = await wait_for_log(station.gateway.output, "reload refused")
        assert time.monotonic() - started < 1.0
        assert "station.yaml:" in log
        assert "Traceback" not in log

        station.units["kitchen-gas"].set("gas", 30.0)
        raised = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"), timeout=5)
        assert raised.payload["historical"] is False
        assert station.gateway.process.poll() is None  # still running
