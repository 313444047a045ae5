"""Fleet configuration: ``outpost config push`` through Mosquitto to ``outpost run``, and back if it fails."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest
import yaml

from tests.support.peers import alarm, free_port, mqtt_connected, outpost, running_station

pytestmark = pytest.mark.slow

KEY = "6f7574706f73742d746573742d6b6579"  # hex
STATUS = "outpost/v1/cs-test/status"


@pytest.fixture
async def station(tmp_path, mosquitto, platform):
    key_file = tmp_path / "command.key"
    key_file.write_text(KEY + "\n")
    extra = {"commands": {"key_file": str(key_file), "config_confirm_within": "3s"}}
    async with running_station(tmp_path, mosquitto.url, extra=extra, poll_interval=0.2) as running:
        await running.health_where(mqtt_connected)
        yield running


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def online_with(sha: str, outcome: str | None = None):
    """A birth (or status again) naming the station file ``sha`` and, if given, the last push's outcome."""

    def predicate(message) -> bool:
        body = message.payload
        config = body.get("config") or {}
        push = config.get("push") or {}
        return (
            message.topic == STATUS
            and body.get("state") == "online"
            and config.get("sha256") == sha
            and (outcome is None or push.get("outcome") == outcome)
        )

    return predicate


async def push(station, text: str, *options: str) -> tuple[int, dict]:
    """``outpost config push FILE``, as a district operator types it; its exit status and answer."""
    pushed = station.config_path.with_name("pushed.yaml")
    pushed.write_text(text)
    result = await asyncio.to_thread(outpost, "config", "push", str(pushed), *options)
    assert result.stdout, result.stderr
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


async def test_a_pushed_file_is_applied_and_the_station_says_which_file_it_runs(station, platform):
    original = station.config_path.read_text()
    await platform.wait_for(online_with(sha256(original)))

    # The kitchen detector alarms from 5 %LEL on this site: 8 %LEL raises only under the new file.
    config = yaml.safe_load(original)
    config["devices"]["kitchen-gas"]["alarms"] = {"gas": {"high": [{"level": "first-stage", "at": 5}]}}
    new = yaml.safe_dump(config, sort_keys=False)
    status, answer = await push(station, new)

    assert status == 0, answer
    assert answer["ok"] is True
    assert answer["result"] == {
        "sha256": sha256(new),
        "previous_sha256": sha256(original),
        "confirm_within_s": 3.0,
    }
    await platform.wait_for(online_with(sha256(new), "applied"))
    station.units["kitchen-gas"].set("gas", 8.0)
    raised = await platform.wait_for(alarm(".kitchen-gas.gas", "raised"))
    assert raised.payload["threshold"] == 5.0
    assert station.config_path.read_text() == new
    assert station.config_path.with_name("station.yaml.previous").read_text() == original
    health = await station.health_where(lambda h: h["config"]["sha256"] == sha256(new))
    assert health["config"]["push"]["outcome"] == "applied"


async def test_a_pushed_file_that_cannot_reach_the_broker_is_rolled_back(station, platform):
    original = station.config_path.read_text()
    config = yaml.safe_load(original)
    config["mqtt"]["brokers"] = [f"mqtt://127.0.0.1:{free_port()}"]  # nobody listens there
    broken = yaml.safe_dump(config, sort_keys=False)

    # Sent through the broker the station runs on now, named by its current file.
    status, answer = await push(station, broken, "--config", str(station.config_path))
    assert status == 0, answer

    # The confirmation window, a reconnect with backoff, a new session: generous on a loaded machine.
    back = await platform.wait_for(online_with(sha256(original), "rolled back"), timeout=45)
    pushed = back.payload["config"]["push"]
    assert pushed["sha256"] == sha256(broken)
    assert pushed["reason"].startswith("no broker connection within 3 s")
    assert station.config_path.read_text() == original
    health = await station.health_where(mqtt_connected)
    assert health["config"]["sha256"] == sha256(original)
    assert "rolled back" in station.gateway.output()


async def test_an_invalid_file_is_refused_with_the_loaders_reason(station, platform):
    original = station.config_path.read_text()
    invalid = original.replace("unit: 1", "unit: 999")

    status, answer = await push(station, invalid, "--config", str(station.config_path))

    assert status == 1
    assert answer["ok"] is False
    [reason] = answer["error"].splitlines()
    assert reason.startswith("station.yaml:")
    assert reason.endswith("devices.kitchen-gas.unit: must be 1..247, got 999")
    assert station.config_path.read_text() == original
    assert not station.config_path.with_name("station.yaml.previous").exists()
