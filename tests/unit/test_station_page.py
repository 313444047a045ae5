"""The station page, rendered from the real alarm engine: what a technician on site reads, in both
languages, and who may act on an alarm (only with the operator key, only as a signed command)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

from drivers.observation import Observation, PollOutcome
from gateway.commands.auth import Verifier
from gateway.i18n import Translator
from gateway.station_page.actions import MAX_WRONG, Operator
from gateway.station_page.render import page
from gateway.station_page.state import read_state
from gateway.station_page.trend import SAMPLES, Samples, Trends
from gateway.station_page.walk import WalkMode
from gateway.uplink.topics import message_for
from tests.support.engine_harness import EPOCH, Harness, alarms, harness

COMMAND_KEY = b"\x5f" * 32
OPERATOR_KEY = b"duty-4471"


def _parts(station: Harness) -> SimpleNamespace:
    """The gateway's parts the page reads: the real engine, an uplink and outbox as they stand."""
    return SimpleNamespace(
        config=station.config,
        engine=station.engine,
        outbox=SimpleNamespace(stats=lambda: SimpleNamespace(backlog=3)),
        uplink=SimpleNamespace(connected=False),
        radio_hub=None,
    )


def _gas_alarm_and_a_silent_detector(tmp_path) -> tuple[Harness, Trends]:
    station = harness(tmp_path)
    trends = Trends(hours=6)
    for t, gas in ((0, 2.0), (30, 12.0), (60, 60.0)):
        station.poll("kitchen-gas", t, gas=gas)
        observed = EPOCH + timedelta(seconds=t)
        gas_reading = Observation("kitchen-gas", "gas", gas, "%LEL", observed)
        trends.record(PollOutcome("kitchen-gas", observed, t, observations=(gas_reading,)))
    for t in (61, 62, 63, 64, 65):
        station.lost("hall-smoke", t)
    return station, trends


def _html(station: Harness, trends: Trends, locale="en", operate=False) -> str:
    state = read_state(_parts(station), trends)
    return page(state, Translator(locale), operate=operate, notices=[])


def test_the_page_shows_the_alarm_with_its_value_against_the_threshold_and_the_fault_apart(tmp_path):
    station, trends = _gas_alarm_and_a_silent_detector(tmp_path)
    html = _html(station, trends)
    row = re.search(r'<tr class="alarm level-orange grade-second-stage"[^>]*>(.*?)</tr>', html).group(1)
    assert "second stage" in row
    assert "60" in row
    assert "threshold 50" in row
    device = re.search(r'<tr data-device="hall-smoke" class="health-(\w+)">(.*?)</tr>', html)
    assert device.group(1) == "offline"
    assert "FAULT" in device.group(2)  # a device fault is a badge of its own, not an alarm colour
    gas = re.search(r'<div class="point" data-point="gas">.*?</svg>', html).group(0)
    assert sorted(re.findall(r'data-at="([\d.]+)"', gas)) == ["20.0", "50.0"]
    assert 'data-value="60.0"' in gas
    assert "disconnected, 3 message(s) waiting" in html
    assert "<script src" not in html
    assert "http://" not in html
    assert "https://" not in html
    assert 'id="read-only"' in html
    assert "<button" not in html


def test_the_page_in_chinese_keeps_names_and_locations_as_written(tmp_path):
    station, trends = _gas_alarm_and_a_silent_detector(tmp_path)
    html = _html(station, trends, locale="zh-CN", operate=True)
    assert '<html lang="zh-CN">' in html
    assert "二级报警" in html
    assert "离线" in html
    assert "确认" in html
    assert "kitchen-gas" in html  # the device's name as configured


def test_a_trend_stays_bounded_however_long_the_station_runs():
    trends = Trends(hours=1)
    for n in range(SAMPLES * 5):
        observed = EPOCH + timedelta(seconds=n)
        reading = Observation("river", "level", float(n % 7), "m", observed)
        trends.record(PollOutcome("river", observed, n, observations=(reading,)))
    assert len(trends.series[("river", "level")].samples) <= SAMPLES


def test_a_series_keeps_its_newest_samples_in_time_order_once_full():
    samples = Samples(size=SAMPLES)
    for n in range(SAMPLES * 5 + 3):
        samples.append((float(n), n / 10))
    assert len(samples) == SAMPLES
    assert [t for t, _ in samples] == [float(n) for n in range(SAMPLES * 4 + 3, SAMPLES * 5 + 3)]
    samples[-1] = (9e9, 1.5)  # a spike within the newest step takes the newest place
    assert samples[-1] == (9e9, 1.5)
    assert samples[-2] == (float(SAMPLES * 5 + 1), (SAMPLES * 5 + 1) / 10)


async def _acted(
    desk: Operator, walk: WalkMode | None = None, **form: str
) -> tuple[str, list[tuple[str, dict]]]:
    submitted: list[tuple[str, dict]] = []

    async def submit(name: str, payload: bytes):
        submitted.append((name, json.loads(payload)))
        return True, {}

    walk = walk or WalkMode(lambda: None)  # no config needed: these forms never start a walk test
    notice = await desk.act(urlencode(form).encode(), submit, walk, Translator("en"))
    return notice, submitted


def _operator(operator_key: bytes | None = OPERATOR_KEY) -> Operator:
    return Operator(operator_key=operator_key, command_key=COMMAND_KEY, station="cs-0001")


async def test_an_action_with_the_operator_key_is_a_command_the_gateway_verifier_accepts():
    notice, submitted = await _acted(
        _operator(), action="ack|cs-0001.kitchen-gas.gas", key="duty-4471", operator="Wang"
    )
    assert notice == "Acknowledge cs-0001.kitchen-gas.gas: done"
    [(name, command)] = submitted
    Verifier(COMMAND_KEY, "cs-0001").verify(name, command)  # raises if it were not authentic
    assert command["args"] == {"alarm_key": "cs-0001.kitchen-gas.gas", "by": "station page (Wang)"}


async def test_without_the_right_operator_key_nothing_is_sent_and_guessing_is_stopped():
    refused, submitted = await _acted(_operator(None), action="ack|a.b.c", key="anything")
    assert refused.startswith("Refused: Read-only")
    assert not submitted
    operator = _operator()
    for _ in range(MAX_WRONG):
        notice, submitted = await _acted(operator, action="ack|a.b.c", key="guess")
        assert notice == "Refused: wrong operator key"
        assert not submitted
    notice, submitted = await _acted(operator, action="ack|a.b.c", key="duty-4471")
    assert notice == "Refused: wrong operator key"
    assert not submitted


async def test_walk_test_mode_marks_a_device_tested_once_the_broker_has_its_alarm(tmp_path):
    station = harness(tmp_path)
    walk = WalkMode(lambda: station.config)
    refused, _ = await _acted(_operator(), walk, action="walktest|on", key="guess")
    assert refused == "Refused: wrong operator key"
    assert walk.test is None
    started, submitted = await _acted(_operator(), walk, action="walktest|on", key="duty-4471")
    assert started.startswith("Walk test started")
    assert not submitted  # the page's own mode: no command reaches the engine
    station.poll("kitchen-gas", 0)
    raised = alarms(station.poll("kitchen-gas", 1, gas=60.0))
    station.lost("hall-smoke", 2)
    faults = alarms([e for t in (3, 4, 5, 6) for e in station.lost("hall-smoke", t)])
    assert raised
    assert faults
    html = _html_walking(station, walk)
    assert re.findall(r'data-device="kitchen-gas" data-walk="(\w+)"', html) == ["waiting"]  # queued only
    for event in raised + faults:
        walk.delivered(message_for(event, "outpost/v1/cs-0001"))
    html = _html_walking(station, walk)
    assert re.findall(r'data-device="kitchen-gas" data-walk="(\w+)"', html) == ["tested"]
    assert re.findall(r'data-device="hall-smoke" data-walk="(\w+)"', html) == [
        "waiting"
    ]  # a fault is no test
    assert "1 of 5 devices tested" in html
    ended, _ = await _acted(_operator(), walk, action="walktest|off", key="duty-4471")
    assert ended == "Walk test ended"
    assert 'data-walk="' not in _html_walking(station, walk)


def _html_walking(station: Harness, walk: WalkMode) -> str:
    state = read_state(_parts(station), Trends(hours=6), walk.test)
    return page(state, Translator("en"), operate=True, notices=[])
