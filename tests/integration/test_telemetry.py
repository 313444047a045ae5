"""Telemetry: readings reach a real time-series server over the InfluxDB write API, and MQTT."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.peers import VictoriaMetrics, running_station

pytestmark = pytest.mark.slow


@pytest.fixture
def victoria(tmp_path):
    server = VictoriaMetrics(tmp_path / "vm")
    server.start()
    yield server
    server.stop()


async def series_of(victoria: VictoriaMetrics, device: str, point: str, timeout: float = 20.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            for series in await asyncio.to_thread(victoria.export, "outpost_reading_value"):
                labels = series["metric"]
                if labels.get("device") == device and labels.get("point") == point:
                    return series
            await asyncio.sleep(0.2)


async def test_readings_are_written_through_influxdb_client_and_read_back(tmp_path, mosquitto, victoria):
    extra = {"influx": {"url": victoria.url, "bucket": "station", "flush_interval": "200ms"}}
    async with running_station(tmp_path, mosquitto.url, extra=extra, poll_interval=0.2) as station:
        station.units["kitchen-gas"].set("gas", 12.5)
        series = await series_of(victoria, "kitchen-gas", "gas")
    assert series["metric"]["station"] == "cs-test"
    assert series["metric"]["unit"] == "%LEL"
    assert 12.5 in series["values"]


async def test_a_dead_time_series_server_never_delays_an_alarm(tmp_path, mosquitto, platform, victoria):
    url = victoria.url
    victoria.stop()  # nothing listens there now
    extra = {"influx": {"url": url, "bucket": "station", "flush_interval": "200ms", "buffer": 100}}
    async with running_station(tmp_path, mosquitto.url, extra=extra, poll_interval=0.2) as station:
        station.units["kitchen-gas"].set("gas", 60.0)
        raised = await platform.wait_for(
            lambda m: m.topic.endswith("/alarm") and m.payload.get("transition") == "raised", timeout=10
        )
        assert raised.payload["level"] == "orange"


async def test_telemetry_on_mqtt_carries_the_latest_readings(tmp_path, mosquitto, platform):
    async with running_station(tmp_path, mosquitto.url, extra={"telemetry_interval": "500ms"}) as station:
        station.units["kitchen-gas"].set("gas", 7.5)
        message = await platform.wait_for(
            lambda m: (
                m.topic == "outpost/v1/cs-test/telemetry/kitchen-gas"
                and m.payload["readings"]["gas"]["value"] == 7.5
            ),
            timeout=15,
        )
    assert message.payload["schema"] == "outpost.telemetry/1"
    assert message.payload["readings"]["gas"]["unit"] == "%LEL"


def test_report_on_change_uses_deadbands_and_a_maximum_interval():
    from gateway.uplink.telemetry import ReportOnChange

    reports = ReportOnChange({"gas": {"gas": 1.0, "high_alarm": 0.0}}, max_interval=60)
    assert not reports.due("gas", {"gas": 5.0, "high_alarm": False}, now=0)  # first reading: the baseline
    assert not reports.due("gas", {"gas": 5.8, "high_alarm": False}, now=1)  # within the deadband
    assert reports.due("gas", {"gas": 6.2, "high_alarm": False}, now=2)  # moved 1.2 since last sent
    assert reports.due("gas", {"gas": 6.2, "high_alarm": True}, now=3)  # a flag changed
    assert not reports.due("gas", {"gas": 6.3, "high_alarm": True}, now=30)
    assert reports.due("gas", {"gas": 6.3, "high_alarm": True}, now=63)  # a minute since the last report
    assert not reports.due("other", {"x": 1.0}, now=0)
    assert reports.due("other", {"x": 99.0}, now=61)  # no deadbands: only the maximum interval
