"""``outpost fleet``: 200 simulated stations through a real Mosquitto, as an operator runs it."""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from tests.support.peers import outpost

STATIONS = 200


async def retained_births(url: str, expected: int, timeout: float = 20.0) -> dict[str, dict]:
    """What a platform that connects now learns from the retained ``status`` topics alone."""
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    births: dict[str, dict] = {}
    async with aiomqtt.Client(host, int(port)) as client:
        await client.subscribe("outpost/v1/+/status", qos=1)
        async with asyncio.timeout(timeout):
            async for message in client.messages:
                body = json.loads(message.payload)
                if message.retain:
                    births[body["station"]] = body
                if len(births) == expected:
                    return births
    return births


async def test_two_hundred_stations_deliver_every_alarm(mosquitto, tmp_path):
    report_file = tmp_path / "fleet.json"
    result = await asyncio.to_thread(
        outpost,
        "fleet",
        "--broker",
        mosquitto.url,
        "--stations",
        str(STATIONS),
        "--duration",
        "6",
        "--telemetry-interval",
        "3",
        "--alarm-burst",
        "2",
        "--reconnect-storm",
        "0.1",
        "--connect-rate",
        "100",  # two seconds of births: a platform subscriber on a busy 2-core machine keeps up
        "--keep-retained",
        "--json",
        str(report_file),
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alarms 800/800" in result.stdout  # the printed summary a person reads
    report = json.loads(report_file.read_text())

    delivery, published = report["delivery"], report["published"]
    # Every station raised two alarms and cleared them: every one reached the platform.
    assert delivery["alarms_sent"] == STATIONS * 2 * 2
    assert delivery["alarms_received"] == delivery["alarms_sent"]
    # The figures add up: what the broker acknowledged is what the platform was owed.
    assert sum(published["by_kind"].values()) == published["acknowledged"] == delivery["sent"]
    assert delivery["received"] + delivery["lost"] == delivery["sent"]
    assert delivery["ratio"] == delivery["received"] / delivery["sent"]
    assert delivery["duplicates"] == 0
    assert delivery["latency"]["n"] + delivery["startup_latency"]["n"] == delivery["received"]
    # Telemetry of 8 devices every 3 s for 6 s: about 16 per station (each device's first at a random phase).
    assert 12 * STATIONS <= published["by_kind"]["telemetry"] <= 16 * STATIONS
    assert 0 < published["per_second"] < published["acknowledged"]
    latency = report["publish_latency"]
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"] < 10_000
    # The reconnect storm: 20 links died without a DISCONNECT, the broker told the platform, they came back.
    connections = report["connections"]
    assert connections["storm_drops"] == STATIONS // 10
    assert connections["wills_received"] == connections["storm_drops"]
    assert connections["connects"] == STATIONS + connections["storm_drops"]
    assert published["by_kind"]["status"] == connections["connects"]  # one birth per connect

    # Births are retained: a platform connecting afterwards sees every station online.
    assert report["retained_births"] == {"online": STATIONS, "stations": STATIONS}
    births = await retained_births(mosquitto.url, STATIONS)
    assert len(births) == STATIONS
    assert {body["state"] for body in births.values()} == {"online"}
    assert all(body["schema"] == "outpost.status/1" for body in births.values())
