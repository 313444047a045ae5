"""Telemetry: readings reach a real time-series server over the InfluxDB write API, and MQTT."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from drivers.observation import Observation
from gateway.uplink.telemetry import ReportOnChange
from tests.support.peers import PROFILES, VictoriaMetrics, running_station

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


# The gas detector with a routine point: "gas" (deadband 1 %LEL) is read every poll for its
# alarm, "temperature" in reads of its own, every telemetry interval of the device.
GAS_WITH_TEMPERATURE = (
    (PROFILES / "gas-detector.yaml")
    .read_text()
    .replace(
        "points:\n",
        "points:\n  temperature: {register: holding, address: 2, type: s16, scale: 0.1, unit: degC}\n",
        1,
    )
)


async def test_a_still_station_sends_telemetry_at_its_interval_with_every_point_and_its_age(
    tmp_path, mosquitto, platform
):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "gas-with-temperature.yaml").write_text(GAS_WITH_TEMPERATURE)
    devices = {"kitchen-gas": {"unit": 1, "profile": "gas-with-temperature", "telemetry_interval": "300ms"}}
    extra = {"telemetry_interval": "2s", "profiles_dir": str(profiles)}
    topic = "outpost/v1/cs-test/telemetry/kitchen-gas"
    async with running_station(
        tmp_path, mosquitto.url, devices=devices, extra=extra, poll_interval=0.1
    ) as station:
        station.units["kitchen-gas"].set("temperature", 21.5)
        first = await platform.wait_for(lambda m: m.topic == topic, timeout=15)
        await asyncio.sleep(6.0)  # a still station: nothing moves beyond a deadband
        later = [m for m in platform.matching(lambda m: m.topic == topic) if m is not first]
    # Urgent and routine reads alternate many times a second; only the interval sends.
    assert 2 <= len(later) <= 4, [m.payload["created_at"] for m in later]
    for message in [first, *later]:
        readings = message.payload["readings"]
        assert set(readings) == {"gas", "status", "low_alarm", "high_alarm", "sensor_fault", "temperature"}
        assert readings["temperature"]["value"] == 21.5
        assert all(0 <= r["age_s"] < 1.0 for r in readings.values())


def observed(values: dict[str, float | bool], at: float = 0.0) -> list[Observation]:
    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=at)
    return [Observation("gas", point, value, None, when) for point, value in values.items()]


def test_report_on_change_uses_deadbands_and_a_maximum_interval():
    reports = ReportOnChange({"gas": {"gas": 1.0, "high_alarm": 0.0}}, max_interval=60)
    assert not reports.due("gas", observed({"gas": 5.0, "high_alarm": False}), now=0)  # the baseline
    assert not reports.due("gas", observed({"gas": 5.8, "high_alarm": False}), now=1)  # within the band
    assert reports.due("gas", observed({"gas": 6.2, "high_alarm": False}), now=2)  # moved 1.2 since sent
    assert reports.due("gas", observed({"gas": 6.2, "high_alarm": True}), now=3)  # a flag changed
    assert not reports.due("gas", observed({"gas": 6.3, "high_alarm": True}), now=30)
    assert reports.due("gas", observed({"gas": 6.3, "high_alarm": True}), now=63)  # a minute since sent
    assert not reports.due("other", observed({"x": 1.0}), now=0)
    assert reports.due("other", observed({"x": 99.0}), now=61)  # no deadbands: only the maximum interval


def test_report_on_change_compares_point_by_point_whatever_each_poll_read():
    reports = ReportOnChange({"gas": {"gas": 1.0}}, max_interval=10)
    sent = []
    for tick in range(300):  # 30 s of urgent and routine reads taking turns every 0.1 s
        values = {"gas": 5.0} if tick % 2 else {"temperature": 21.0}
        if reports.due("gas", observed(values, tick / 10), now=tick / 10):
            sent.append(tick / 10)
    assert sent == [10.0, 20.0]
    assert reports.due("gas", observed({"gas": 6.5}, 30.1), now=30.1)  # a real change still goes at once
    latest = reports.latest("gas")
    assert {point: r.value for point, r in latest.items()} == {"gas": 6.5, "temperature": 21.0}
    assert (latest["gas"].observed_at - latest["temperature"].observed_at).total_seconds() > 0
