"""Alarm semantics a platform can trust: detector tests, live vs historical, re-alarms, exact delays,
warm-up and suppression flags, nuisance windows across restarts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from gateway.alarms.detector_test import LastTest
from gateway.alarms.reports import detector_tests
from gateway.alarms.thresholds import ThresholdLadder
from gateway.contract.events import DeviceStatusEvent
from gateway.contract.levels import Grade
from gateway.uplink.freshness import Freshness
from tests.support.engine_harness import EPOCH, Harness, StateStore, alarms, brief, harness

SMOKE = "cs-0001.kitchen-smoke"
RIVER = "cs-0001.river.level"
GAS = "cs-0001.kitchen-gas.gas"


# -- 1. detector tests -------------------------------------------------------------------
def test_the_test_button_alone_is_a_test_event_and_a_failed_test_when_no_alarm_follows(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-smoke", 0)
    started = alarms(h.poll("kitchen-smoke", 1, test=True))
    assert [(e.alarm_key, e.transition.value, e.status.value, e.latched) for e in started] == [
        (f"{SMOKE}.test", "raised", "test", False)
    ]
    for t in range(2, 14):
        assert brief(h.poll("kitchen-smoke", t, test=True)) == []
    ended = h.poll("kitchen-smoke", 14)
    assert brief(ended) == [
        ("kitchen-smoke.test", "cleared", "fault"),
        ("kitchen-smoke.fault", "raised", "fault"),
    ]
    cleared, fault = alarms(ended)
    assert cleared.value is False
    assert "failed" in cleared.message
    assert fault.status.value == "actual"  # a detector that does not answer its test is a real fault
    assert [e.status.value for e in ended if isinstance(e, DeviceStatusEvent)] == ["fault"]
    # A test needs no acknowledgement: once it ends, only the fault is left.
    assert h.active() == {f"{SMOKE}.fault": "active_unack"}


def test_a_passed_test_is_never_a_fire_alarm_even_when_the_fire_bit_lingers(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-smoke", 0)
    events = h.poll("kitchen-smoke", 1, test=True)
    events += h.poll("kitchen-smoke", 2, test=True, fire_alarm=True)
    events += h.poll("kitchen-smoke", 3, fire_alarm=True)  # the detector resets a poll late
    events += h.poll("kitchen-smoke", 4)
    assert brief(events) == [
        ("kitchen-smoke.test", "raised", "fault"),
        ("kitchen-smoke.test", "cleared", "fault"),
    ]
    assert alarms(events)[-1].value is True
    assert h.active() == {}
    assert h.engine.detector_tests()["kitchen-smoke"].passed is True


def test_a_fire_bit_that_stays_after_the_test_is_a_real_alarm_after_the_grace(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-smoke", 0)
    h.poll("kitchen-smoke", 1, test=True, fire_alarm=True)
    events = []
    for t in range(2, 16):
        events += h.poll("kitchen-smoke", t, fire_alarm=True)
    fire = [e for e in alarms(events) if e.alarm_key == f"{SMOKE}.fire"]
    assert [(e.transition.value, e.status.value) for e in fire] == [("raised", "actual")]
    assert fire[0].observed_at - EPOCH <= timedelta(seconds=13)  # the 10 s grace after the test's end


def test_a_fire_alarm_active_before_a_test_stays_active_through_it(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-smoke", 0)
    assert brief(h.poll("kitchen-smoke", 1, fire_alarm=True)) == [
        ("kitchen-smoke.fire", "raised", "second-stage")
    ]
    h.engine.reset(f"{SMOKE}.fire", "duty officer")  # still present: stays active
    events = h.poll("kitchen-smoke", 2, test=True, fire_alarm=True) + h.poll(
        "kitchen-smoke", 3, fire_alarm=True
    )
    assert [e for e in brief(events) if e[0] == "kitchen-smoke.fire"] == []
    assert f"{SMOKE}.fire" in h.active()


def test_the_report_lists_detectors_tested_since_the_last_one_and_those_overdue():
    since = EPOCH + timedelta(days=40)
    results = {
        "hall-smoke": LastTest(EPOCH + timedelta(days=41), True),
        "kitchen-smoke": LastTest(EPOCH, True),
        "attic-smoke": None,
    }
    tested, untested = detector_tests(results, since, EPOCH + timedelta(days=42), 31 * 86400)
    assert [t.device for t in tested] == ["hall-smoke"]
    assert [(u.device, u.at) for u in untested] == [("attic-smoke", None), ("kitchen-smoke", EPOCH)]


def test_detector_tests_survive_a_restart(tmp_path):
    h = harness(tmp_path, store=True)
    h.poll("kitchen-smoke", 0)
    h.poll("kitchen-smoke", 1, test=True, fire_alarm=True)
    h.poll("kitchen-smoke", 2)
    h.store.commit(h.engine)
    again = Harness(h.config, h.store)
    assert again.engine.detector_tests()["kitchen-smoke"] == LastTest(EPOCH + timedelta(seconds=2), True)
    assert again.engine.detector_tests()["hall-smoke"] is None


# -- 2. historical means not live --------------------------------------------------------
class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def payload(seq: int) -> bytes:
    return json.dumps({"schema": "outpost.alarm/1", "seq": seq, "historical": False}).encode()


def test_a_message_made_in_this_boot_is_live_until_it_waited_longer_than_the_limit():
    clock = Monotonic()
    fresh = Freshness(30.0, clock)
    fresh.made(501)  # e.g. a fire bit raised before the MQTT session is up
    clock.now += 29.9
    assert json.loads(fresh.mark(payload(501)))["historical"] is False
    fresh.made(502)
    clock.now += 0.2  # 501 has now waited 30.1 s; 502 only 0.2 s
    assert json.loads(fresh.mark(payload(501)))["historical"] is True
    assert json.loads(fresh.mark(payload(502)))["historical"] is False


def test_a_message_of_an_earlier_boot_is_historical_however_recent():
    fresh = Freshness(30.0, Monotonic())
    assert fresh.historical(500)  # nothing made yet in this boot: all queued ones are older
    fresh.made(1001)
    assert fresh.historical(1000)
    assert not fresh.historical(1001)


def test_a_historical_message_says_so_and_is_otherwise_what_the_gateway_made():
    status = DeviceStatusEvent(
        id="01890a5d-ac96-7b1c-9b5a-6a2f0f0c8d11",
        station="cs-0001",
        seq=7,
        created_at=EPOCH,
        device="kitchen-gas",
        status="fault",
        reason="传感器故障",  # a station's language as written, byte for byte
        since=EPOCH,
    ).to_json()
    fresh = Freshness(30.0, Monotonic())
    fresh.made(8)
    marked = fresh.mark(status)
    assert json.loads(marked) == {**json.loads(status), "historical": True}
    assert "传感器故障".encode() in marked
    assert fresh.mark(marked) == marked  # said once


# -- 3. re-alarms ----------------------------------------------------------------------
def test_realarms_carry_the_present_value_a_count_and_a_message_that_never_nests(tmp_path):
    h = harness(tmp_path)
    h.poll("river", 0, level=3.6)
    raised = alarms(h.poll("river", 5, level=3.6))[0]
    events = []
    for minute in range(1, 24 * 60 + 1):
        t = 5 + minute * 60
        h.poll("river", t, level=3.6 + minute / 10_000)
        events += h.tick(t)
    realarms = [e for e in alarms(events) if e.transition.value == "realarmed"]
    assert len(realarms) == 24 * 4  # every 15 min for a day
    last = realarms[-1]
    assert last.realarm_count == len(realarms)
    assert last.value == pytest.approx(3.6 + 24 * 60 / 10_000)  # what the river reads now
    assert last.observed_at > raised.observed_at
    assert last.raised_at == raised.raised_at
    assert last.first_id == raised.id
    assert max(len(e.message) for e in realarms) <= 200
    assert last.message.count("unacknowledged") == 1
    assert last.message.startswith("river level: 3.744 m")


# -- 4. delays on observation time -----------------------------------------------------
def test_a_delay_gives_the_same_answer_whatever_the_sub_poll_timing():
    def raised_at(times: list[float]) -> float:
        ladder = ThresholdLadder.high([(Grade.FIRST_STAGE, 20)], on_delay=2, tolerance=0.5)
        return next(t for t in times if ladder.update(25, t) is not None)

    assert raised_at([0.0, 1.0, 2.0, 3.0]) == 2.0
    assert raised_at([0.0, 1.003, 1.997, 3.0]) == 1.997  # not the fourth poll
    assert raised_at([0.002, 0.999, 2.003, 3.0]) == 2.003


# -- 5. flags, suppression, restart-safe nuisance windows --------------------------------
def test_events_during_the_sensor_warm_up_say_so(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-co", 0)
    during = alarms(h.poll("kitchen-co", 10, high_alarm=True))  # the device's bit never waits
    assert [(e.transition.value, e.warming_up) for e in during] == [("raised", True)]
    after = alarms(h.poll("kitchen-co", 70, co=80.0))
    assert after == [] or not after[0].warming_up


def test_suppression_by_command_marks_the_alarms_and_always_expires(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-gas", 0)
    h.poll("kitchen-gas", 1, gas=30.0)
    marked = alarms(h.engine.suppress("kitchen-gas", "maintenance", 600, "technician"))
    assert [(e.alarm_key, e.transition.value, e.suppressed_by) for e in marked] == [
        (GAS, "suppressed", "maintenance")
    ]
    raised = alarms(h.poll("kitchen-gas", 2, gas=60.0))
    assert [(e.transition.value, e.suppressed) for e in raised] == [("level_changed", True)]
    assert alarms(h.tick(600)) == []
    expired = alarms(h.tick(601))
    assert [(e.transition.value, e.suppressed) for e in expired] == [("unsuppressed", False)]


def test_a_suppression_survives_a_restart_and_an_old_state_file_still_loads(tmp_path):
    h = harness(tmp_path, store=True)
    h.poll("kitchen-gas", 0)
    h.poll("kitchen-gas", 1, gas=30.0)
    h.engine.suppress("kitchen-gas", "out_of_service", 600, "technician")
    h.store.commit(h.engine)
    again = Harness(h.config, h.store)
    assert alarms(again.poll("kitchen-gas", 2, gas=60.0))[0].suppressed_by == "out_of_service"
    # A state stored by an earlier version holds only the alarms and the exercise marks.
    old = StateStore()
    old.entries = {k: v for k, v in h.store.entries.items() if k.startswith("alarm/") or k == "exercise"}
    assert Harness(h.config, old).active() == {GAS: "active_unack"}


def test_chatter_counted_before_a_restart_still_counts_after_it(tmp_path):
    h = harness(tmp_path, store=True)
    h.poll("kitchen-gas", 0)
    for t in (1, 5):
        h.poll("kitchen-gas", t, gas=25.0)
        h.poll("kitchen-gas", t + 1, gas=1.0)
        h.poll("kitchen-gas", t + 3, gas=1.0)
    h.store.commit(h.engine)
    again = Harness(h.config, h.store)
    again.poll("kitchen-gas", 20, gas=1.0)
    third = alarms(again.poll("kitchen-gas", 21, gas=25.0))
    assert [(e.transition.value, e.chattering) for e in third] == [("raised", True)]


def test_a_flood_in_progress_survives_a_restart(tmp_path):
    h = harness(tmp_path, store=True)
    devices = ["kitchen-gas", "kitchen-co", "river"]
    for d in devices:
        h.poll(d, 0)
    raises = 0
    t = 1.0
    while raises <= 10:  # alternate raises and clears until the flood starts
        raises += len(
            [e for e in alarms(h.poll("kitchen-gas", t, gas=30.0)) if e.transition.value == "raised"]
        )
        h.poll("kitchen-gas", t + 1, gas=1.0)
        h.poll("kitchen-gas", t + 3.5, gas=1.0)
        t += 50  # never chattering: 3 within 60 s would hold the clears back
    assert any(a.endswith("station.flood") for a in h.active())
    h.store.commit(h.engine)
    again = Harness(h.config, h.store)
    again.poll("kitchen-gas", t)
    # Still a flood after the restart: a first-stage raise is summarised, not published.
    assert [e for e in brief(again.poll("kitchen-gas", t + 1, gas=30.0)) if e[1] == "raised"] == []
