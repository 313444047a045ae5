"""What the alarm engine judges beyond thresholds: restarts, rates, plausibility, drills, zones, nuisance."""

from __future__ import annotations

import json

import pytest

from gateway.alarms.store import read_legacy_state
from gateway.config import load_config
from gateway.contract.events import DeviceStatusEvent
from tests.support.engine_harness import STATION, Harness, alarms, brief, harness
from tests.support.station_text import problems, write

GAS = "cs-0001.kitchen-gas.gas"


# -- restart safety ---------------------------------------------------------------------
def test_a_restored_alarm_is_not_raised_again_and_still_clears(tmp_path):
    h = harness(tmp_path, store=True)
    h.poll("kitchen-gas", 0)
    raised = alarms(h.poll("kitchen-gas", 1, gas=30.0))[0]
    h.engine.acknowledge(GAS, "duty officer")
    h.store.commit(h.engine)

    again = Harness(h.config, h.store)
    assert again.active() == {GAS: "active_ack"}
    assert brief(again.poll("kitchen-gas", 100, gas=30.0)) == []  # still there: no second raise
    cleared = again.poll("kitchen-gas", 101, gas=0.0) + again.poll("kitchen-gas", 104, gas=0.0)
    assert [(e.transition.value, e.first_id) for e in alarms(cleared)] == [("cleared", raised.id)]
    assert again.active() == {}


def test_a_restored_alarm_waits_out_its_delays_instead_of_clearing_on_the_first_poll(tmp_path):
    h = harness(tmp_path, store=True)
    h.poll("river", 0, level=3.2)
    assert brief(h.poll("river", 5, level=3.2)) == [("river.level", "raised", "first-stage")]
    h.store.commit(h.engine)
    again = Harness(h.config, h.store)
    # The 5 s on-delay would have hidden the level after a restart; the restored rung is on.
    assert brief(again.poll("river", 1000, level=3.2)) == []


def test_a_restored_device_fault_clears_when_the_device_answers(tmp_path):
    h = harness(tmp_path, store=True)
    h.poll("kitchen-gas", 0)
    h.lost("kitchen-gas", 1)
    assert brief(h.lost("kitchen-gas", 2)) == [("kitchen-gas.fault", "raised", "fault")]
    h.store.commit(h.engine)
    again = Harness(h.config, h.store)
    events = again.poll("kitchen-gas", 10)
    assert [e.status.value for e in events if isinstance(e, DeviceStatusEvent)] == ["ok"]
    assert brief(events) == [("kitchen-gas.fault", "cleared", "fault")]


def test_exercise_mode_survives_a_restart(tmp_path):
    h = harness(tmp_path, store=True)
    h.engine.set_exercise(True, "kitchen-gas")
    h.store.commit(h.engine)
    again = Harness(h.config, h.store)
    again.poll("kitchen-gas", 0)
    assert alarms(again.poll("kitchen-gas", 1, gas=30.0))[0].status.value == "exercise"


# -- conditions ------------------------------------------------------------------------
def test_rising_water_raises_a_rate_alarm_only_above_its_minimum(tmp_path):
    h = harness(tmp_path)
    events = []
    # 0.6 m in 30 min, but below 1.5 m: a culvert filling a little is not an alarm.
    for minute in range(0, 40):
        events += h.poll("river", minute * 60, level=0.2 + 0.02 * minute)
    assert brief(events) == []
    for minute in range(40, 60):
        events += h.poll("river", minute * 60, level=1.0 + 0.03 * (minute - 40))
    rate = [e for e in alarms(events) if e.alarm_key.endswith(".rising")]
    assert [(e.transition.value, e.condition, e.cap.certainty.value) for e in rate] == [
        ("raised", "RATE", "Likely")
    ]
    assert rate[0].value >= 1.5


def test_an_out_of_range_reading_is_a_fault_and_never_an_alarm(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-gas", 0)
    events = h.poll("kitchen-gas", 1, gas=6553.5)
    assert [(e.status.value, e.reason) for e in events if isinstance(e, DeviceStatusEvent)] == [
        ("fault", "gas out of range: 6553.5")
    ]
    assert [(e.alarm_key, e.condition) for e in alarms(events)] == [
        ("cs-0001.kitchen-gas.fault", "IMPLAUSIBLE")
    ]


def test_a_one_poll_jump_is_dropped_and_a_confirmed_one_believed(tmp_path):
    h = harness(tmp_path)
    h.poll("river", 0, level=1.0)
    assert brief(h.poll("river", 5, level=3.4)) == []  # 2.4 m in 5 s: wait for the next poll
    assert brief(h.poll("river", 10, level=1.0)) == []  # it was a spike
    assert brief(h.poll("river", 15, level=3.4)) == []
    h.poll("river", 20, level=3.4)  # confirmed: from now on the on-delay runs
    assert brief(h.poll("river", 25, level=3.4)) == [("river.level", "raised", "first-stage")]


def test_warm_up_holds_the_gateways_thresholds_but_never_the_devices_own_alarm(tmp_path):
    h = harness(tmp_path)
    assert brief(h.poll("kitchen-co", 0, co=80.0)) == []
    assert brief(h.poll("kitchen-co", 30, co=80.0)) == []  # the cell is still warming up
    assert brief(h.poll("kitchen-co", 31, co=80.0, high_alarm=True)) == [
        ("kitchen-co.co", "raised", "second-stage")
    ]
    h2 = harness(tmp_path)
    h2.poll("kitchen-co", 0, co=2.0)
    assert brief(h2.poll("kitchen-co", 61, co=30.0)) == [("kitchen-co.co", "raised", "first-stage")]


def test_cap_fields_and_the_districts_colours(tmp_path):
    h = harness(tmp_path, "alarm_policy:\n  colours: {second-stage: red}\n")
    h.poll("kitchen-smoke", 0)
    fire = alarms(h.poll("kitchen-smoke", 1, fire_alarm=True))[0]
    assert (fire.level.value, fire.grade.value) == ("red", "second-stage")
    assert fire.cap.model_dump(mode="json") == {
        "category": "Fire",
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
    }
    h.poll("kitchen-gas", 0)
    gas = alarms(h.poll("kitchen-gas", 1, gas=30.0))[0]
    assert (gas.level.value, gas.cap.category.value, gas.cap.severity.value) == (
        "yellow",
        "Safety",
        "Moderate",
    )


# -- drills, tests and suppression ------------------------------------------------------
def test_the_test_button_marks_the_detectors_events_as_a_test(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-smoke", 0)
    fire = alarms(h.poll("kitchen-smoke", 1, fire_alarm=True, test=True))[0]
    assert (fire.transition.value, fire.status.value) == ("raised", "test")
    h.poll("hall-smoke", 0)
    assert alarms(h.poll("hall-smoke", 1, fire_alarm=True))[0].status.value == "actual"


def test_exercise_and_suppression_from_the_station_file(tmp_path):
    h = harness(tmp_path, "exercise: true\n")
    h.poll("kitchen-gas", 0)
    assert alarms(h.poll("kitchen-gas", 1, gas=30.0))[0].status.value == "exercise"
    text = STATION.replace("profile: gas-detector}", "profile: gas-detector, suppressed: maintenance}")
    h = Harness(load_config(write(tmp_path, text)))
    h.poll("kitchen-gas", 0)
    event = alarms(h.poll("kitchen-gas", 1, gas=30.0))[0]
    assert (event.suppressed, event.suppressed_by, event.status.value) == (True, "maintenance", "actual")
    assert h.engine.active_alarms()[0].suppressed


# -- confirmation ------------------------------------------------------------------------
ZONES = """\
zones:
  kitchen:
    devices: [kitchen-gas, kitchen-smoke]
  corridor:
    devices: [kitchen-smoke, hall-smoke]
"""


def test_two_detectors_in_one_zone_raise_a_confirmed_life_safety_alarm(tmp_path):
    h = harness(tmp_path, ZONES)
    for device in ("kitchen-smoke", "hall-smoke", "kitchen-gas"):
        h.poll(device, 0)
    assert brief(h.poll("kitchen-smoke", 1, fire_alarm=True)) == [
        ("kitchen-smoke.fire", "raised", "second-stage")
    ]
    events = h.poll("hall-smoke", 2, fire_alarm=True)
    assert brief(events) == [
        ("hall-smoke.fire", "raised", "second-stage"),
        ("zone-corridor.confirmed", "raised", "life-safety"),
    ]
    confirmed = alarms(events)[1]
    assert (confirmed.level.value, confirmed.condition, confirmed.cap.severity.value) == (
        "red",
        "CONFIRMED",
        "Extreme",
    )
    # Gas plus smoke in the kitchen confirms the kitchen too.
    assert ("zone-kitchen.confirmed", "raised", "life-safety") in brief(h.poll("kitchen-gas", 3, gas=30.0))


def test_config_zone_errors_name_file_line_and_key(tmp_path):
    path = write(
        tmp_path, STATION + "zones:\n  hall:\n    devices: [kitchen-gas, hal-smoke]\n    confirm: 3\n"
    )
    assert problems(path) == [
        "station.yaml:21: zones.hall.devices: no device 'hal-smoke' (devices: kitchen-gas, kitchen-smoke, "
        "hall-smoke, kitchen-co, river)",
        "station.yaml:22: zones.hall.confirm: needs 3 detectors but the zone has 2",
    ]


# -- nuisance control --------------------------------------------------------------------
def test_a_chattering_alarm_is_flagged_and_held_longer_never_dropped(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-gas", 0)
    events, t = [], 0
    for _ in range(3):
        events += h.poll("kitchen-gas", t := t + 1, gas=25.0)
        for _ in range(3):
            events += h.poll("kitchen-gas", t := t + 1, gas=10.0)
    assert [e.transition.value for e in alarms(events)] == [
        "raised",
        "cleared",
        "raised",
        "cleared",
        "raised",
    ]
    assert alarms(events)[-1].chattering
    assert h.active() == {GAS: "active_unack"}  # held: it must stay normal for 60 s
    later = []
    for _ in range(70):
        later += h.poll("kitchen-gas", t := t + 1, gas=10.0)
    assert [e.transition.value for e in alarms(later)] == ["cleared"]


def test_a_flood_summarises_the_lower_grades_while_higher_ones_go_out_at_once(tmp_path):
    h = harness(tmp_path, "alarm_policy:\n  flood: {count: 3, window: 10m}\n")
    for device in h.config.station.devices:
        h.poll(device, 0)
    events = h.poll("kitchen-gas", 1, gas=30.0) + h.poll("kitchen-co", 61, co=30.0)
    events += h.poll("kitchen-smoke", 62, obscuration=4.0) + h.poll("kitchen-smoke", 64, obscuration=4.0)
    assert len(alarms(events)) == 3
    flood = h.poll("hall-smoke", 65, obscuration=4.0) + h.poll("hall-smoke", 67, obscuration=4.0)
    assert brief(flood) == [("station.flood", "raised", "first-stage")]  # the fourth is summarised
    assert "cs-0001.hall-smoke.smoke" in h.active()  # ...and still listed as active
    fire = h.poll("hall-smoke", 68, obscuration=4.0, fire_alarm=True)
    assert brief(fire) == [("hall-smoke.fire", "raised", "second-stage")]
    over = h.tick(68 + 601)
    # The held raise of an alarm still active goes out late, before anything can follow it.
    assert brief(over) == [
        ("hall-smoke.smoke", "raised", "first-stage"),
        ("station.flood", "cleared", "first-stage"),
    ]
    assert alarms(over)[0].historical
    assert "1 lower-grade event(s) were summarised" in alarms(over)[1].message


def test_a_held_raise_goes_out_before_the_escalation_that_follows_it(tmp_path):
    h = harness(tmp_path, "alarm_policy:\n  flood: {count: 1, window: 10m}\n")
    for device in h.config.station.devices:
        h.poll(device, 0)
    h.poll("kitchen-co", 61, co=30.0)
    held = h.poll("kitchen-gas", 62, gas=30.0)
    assert brief(held) == [("station.flood", "raised", "first-stage")]
    escalated = h.poll("kitchen-gas", 63, gas=60.0)
    assert brief(escalated) == [
        ("kitchen-gas.gas", "raised", "first-stage"),
        ("kitchen-gas.gas", "level_changed", "second-stage"),
    ]
    assert len({e.first_id for e in alarms(escalated)}) == 1


def test_a_raise_held_in_a_flood_still_goes_out_before_its_clear_after_a_restart(tmp_path):
    h = harness(tmp_path, "alarm_policy:\n  flood: {count: 1, window: 10m}\n", store=True)
    for device in h.config.station.devices:
        h.poll(device, 0)
    h.poll("kitchen-co", 61, co=30.0)
    assert brief(h.poll("kitchen-gas", 62, gas=30.0)) == [("station.flood", "raised", "first-stage")]
    h.store.commit(h.engine)

    again = Harness(h.config, h.store)  # the platform never got the gas raise
    story = again.poll("kitchen-gas", 63, gas=0.0) + again.poll("kitchen-gas", 70, gas=0.0)
    gas = [transition for key, transition, _ in brief(story) if key == "kitchen-gas.gas"]
    assert gas in ([], ["raised", "cleared"])


def test_an_unacknowledged_second_stage_alarm_alarms_again(tmp_path):
    h = harness(tmp_path, "alarm_policy:\n  realarm_after: 5m\n")
    h.poll("kitchen-gas", 0)
    h.poll("kitchen-gas", 1, gas=60.0)
    h.poll("kitchen-co", 0)
    h.poll("kitchen-co", 61, co=30.0)  # first stage: never re-alarms
    assert brief(h.tick(200)) == []
    assert brief(h.tick(301)) == [("kitchen-gas.gas", "realarmed", "second-stage")]
    assert brief(h.tick(400)) == []
    assert brief(h.tick(602)) == [("kitchen-gas.gas", "realarmed", "second-stage")]
    h.engine.acknowledge(GAS, "duty officer")
    assert brief(h.tick(2000)) == []


def test_shelving_always_expires(tmp_path):
    h = harness(tmp_path)
    h.poll("kitchen-gas", 0)
    h.poll("kitchen-gas", 1, gas=30.0)
    h.engine.shelve(GAS, 60, "duty officer")
    assert h.engine.active_alarms()[0].shelved
    assert alarms(h.tick(60)) == []
    assert [e.transition.value for e in alarms(h.tick(61))] == ["unshelved"]
    assert not h.engine.active_alarms()[0].shelved


@pytest.mark.parametrize("transition", ["raised", "cleared"])
def test_counts_for_the_reports(tmp_path, transition):
    h = harness(tmp_path)
    h.poll("kitchen-gas", 0)
    h.poll("kitchen-gas", 1, gas=30.0)
    h.poll("kitchen-gas", 2, gas=0.0)
    h.poll("kitchen-gas", 5, gas=0.0)
    assert h.engine.counts[transition] == 1
    assert h.engine.counts["raised.first-stage"] == 1


def test_new_station_keys_are_checked_with_file_and_line(tmp_path):
    extra = (
        "alarm_policy:\n  chatter: {count: 1}\n  realarm_form: second-stage\nreports:\n  daily_at: '8 am'\n"
    )
    lines = problems(write(tmp_path, STATION + extra))
    assert lines[0].startswith("station.yaml:20: alarm_policy.chatter.count: must be 2..100, got 1")
    assert lines[1].startswith(
        "station.yaml:21: alarm_policy.realarm_form: unknown key; did you mean 'realarm_from'?"
    )
    assert lines[2] == "station.yaml:23: reports.daily_at: must be a local time HH:MM, got '8 am'"


def test_an_unreadable_alarm_state_file_is_reported_and_the_engine_starts_from_normal(tmp_path, caplog):
    (tmp_path / "alarms.json").write_text("{not json")
    h = harness(tmp_path, store=True)
    h.store.entries = read_legacy_state(tmp_path / "alarms.json")
    assert Harness(h.config, h.store).active() == {}
    assert "alarm state" in caplog.text


def test_an_alarm_state_file_of_an_earlier_version_is_taken_over(tmp_path):
    h = harness(tmp_path, store=True)
    h.poll("kitchen-gas", 0)
    h.poll("kitchen-gas", 1, gas=30.0)
    h.engine.set_exercise(True, "kitchen-gas")
    alarm = h.engine.state()[f"alarm/{GAS}"]
    earlier = {
        "version": 1,
        "alarms": {GAS: alarm},
        "exercise": {"station": False, "devices": ["kitchen-gas"]},
    }
    (tmp_path / "alarms.json").write_text(json.dumps(earlier))
    h.store.entries = read_legacy_state(tmp_path / "alarms.json")
    again = Harness(h.config, h.store)
    assert again.active() == {GAS: "active_unack"}
    assert again.engine.exercise
