"""A still station is quiet: in a minute when nothing moves, a device speaks only at its maximum interval.

The case a platform operator pays for: 20 gas detectors whose gas point has
deadband 0 (any change reports at once) and a routine temperature point read in
reads of its own, alarm reads every 0.2 s and routine reads every second, so
the two kinds of read take turns many times a second. Nothing changes, so
each device sends only when its maximum interval (``telemetry_interval``)
comes round: no message from comparing one read's values against another
read's, no status republished, and no log line per poll or per message.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict

import pytest

from tests.support.peers import PROFILES, mqtt_connected, running_station

pytestmark = pytest.mark.slow

DEVICES = 20
MAXIMUM_INTERVAL = 20.0
STILL_MINUTE = 60.0

STILL_PROFILE = (
    (PROFILES / "gas-detector.yaml")
    .read_text()
    .replace("deadband: 1.0 ", "deadband: 0   ", 1)
    .replace(
        "points:\n",
        "points:\n  temperature: {register: holding, address: 2, type: s16, scale: 0.1, unit: degC,"
        " deadband: 0}\n",
        1,
    )
)


async def test_a_still_minute_sends_each_device_only_at_its_maximum_interval(tmp_path, mosquitto, platform):
    assert "deadband: 0   " in STILL_PROFILE  # the profile's gas deadband really is 0 here
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "gas-still.yaml").write_text(STILL_PROFILE)
    names = [f"gas-{i:02d}" for i in range(DEVICES)]
    devices = {
        name: {"unit": i + 1, "profile": "gas-still", "telemetry_interval": "1s"}
        for i, name in enumerate(names)
    }
    extra = {"telemetry_interval": f"{MAXIMUM_INTERVAL:g}s", "profiles_dir": str(profiles)}
    async with running_station(
        tmp_path, mosquitto.url, devices=devices, extra=extra, poll_interval=0.2, bus_timeout="2s"
    ) as station:
        for unit in station.units.values():
            unit.set("temperature", 21.5)
        await station.health_where(mqtt_connected)
        # The minute starts once the station has said everything a start says: each device's status.
        for name in names:
            await platform.wait_for(
                lambda m, name=name: m.topic.endswith(f"/device/{name}/status"), timeout=30
            )
        began = time.time()
        log_lines_before = len(station.gateway.output().splitlines())
        await asyncio.sleep(STILL_MINUTE)  # the still minute itself is what is measured
        log_lines = station.gateway.output().splitlines()[log_lines_before:]
        health = await station.health_where(lambda h: True)

    during = [m for m in platform.messages if began <= m.at <= began + STILL_MINUTE]
    telemetry: dict[str, list[float]] = defaultdict(list)
    for message in during:
        if "/telemetry/" in message.topic:
            telemetry[message.topic.rsplit("/", 1)[1]].append(message.at)
    others = [(m.topic, m.payload) for m in during if "/telemetry/" not in m.topic]

    # Every device was heard at its interval, and only then: 3 per device in a minute at 20 s.
    assert set(telemetry) == set(names), sorted(telemetry)
    for device, arrivals in telemetry.items():
        assert 2 <= len(arrivals) <= 3, (device, [round(a - began, 1) for a in arrivals])
        gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
        assert all(MAXIMUM_INTERVAL - 1.0 <= gap <= MAXIMUM_INTERVAL + 2.0 for gap in gaps), (device, gaps)
        assert arrivals[0] - began <= MAXIMUM_INTERVAL + 2.0, (device, arrivals[0] - began)
    assert sum(map(len, telemetry.values())) <= DEVICES * 3
    # Nothing else was said: no status republished, no alarm, no fault.
    assert others == []
    assert health["healthy"] is True
    # About 6 000 polls and 60 messages in the minute, and not one log line for them.
    assert len(log_lines) <= 2, log_lines
