"""The ISA-18.2 state machine, transition by transition, and properties over random sequences."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.alarms.engine import CommandRefused
from tests.support.engine_harness import Harness, alarms, harness

GAS = "cs-0001.kitchen-gas.gas"
FIRE = "cs-0001.kitchen-smoke.fire"


class Gas:
    """One gas alarm walked through its states with simulated time."""

    def __init__(self, tmp_path) -> None:
        self.h = harness(tmp_path)
        self.t = 0.0
        self.h.poll("kitchen-gas", self.t)

    def reading(self, gas: float) -> list:
        self.t += 1
        return self.h.poll("kitchen-gas", self.t, gas=gas)

    def normal(self) -> list:
        return self.reading(0.0) + self.reading(0.0) + self.reading(0.0)  # past the 2 s off-delay

    def state(self) -> str:
        return self.h.active().get(GAS, "normal")


SETUP = {
    "normal": [],
    "active_unack": [("gas", 30.0)],
    "active_ack": [("gas", 30.0), ("ack",)],
    "cleared_unack": [("gas", 30.0), ("normal",)],
}


def act(gas: Gas, step: tuple) -> list:
    match step:
        case ("gas", value):
            return gas.reading(value)
        case ("normal",):
            return gas.normal()
        case ("ack",):
            return gas.h.engine.acknowledge(GAS, "duty officer")
        case ("shelve",):
            return gas.h.engine.shelve(GAS, 600, "duty officer")
    raise AssertionError(step)


# (state before, action, transition published or "refused" or None, state after)
TABLE = [
    ("normal", ("gas", 30.0), "raised", "active_unack"),
    ("normal", ("gas", 60.0), "raised", "active_unack"),
    ("normal", ("normal",), None, "normal"),
    ("normal", ("ack",), "refused", "normal"),
    ("normal", ("shelve",), "refused", "normal"),
    ("active_unack", ("gas", 30.0), None, "active_unack"),
    ("active_unack", ("gas", 60.0), "level_changed", "active_unack"),
    ("active_unack", ("normal",), "cleared", "cleared_unack"),
    ("active_unack", ("ack",), "acknowledged", "active_ack"),
    ("active_unack", ("shelve",), "shelved", "active_unack"),
    ("active_ack", ("gas", 30.0), None, "active_ack"),
    ("active_ack", ("gas", 60.0), "level_changed", "active_unack"),  # escalation: acknowledge again
    ("active_ack", ("normal",), "cleared", "normal"),
    ("active_ack", ("ack",), "refused", "active_ack"),
    ("active_ack", ("shelve",), "shelved", "active_ack"),
    ("cleared_unack", ("gas", 30.0), "raised", "active_unack"),
    ("cleared_unack", ("normal",), None, "cleared_unack"),
    ("cleared_unack", ("ack",), "acknowledged", "normal"),
    ("cleared_unack", ("shelve",), "shelved", "cleared_unack"),
]


@pytest.mark.parametrize(("before", "action", "transition", "after"), TABLE)
def test_transition(tmp_path, before, action, transition, after):
    gas = Gas(tmp_path)
    for step in SETUP[before]:
        act(gas, step)
    assert gas.state() == before
    try:
        published = [e.transition.value for e in alarms(act(gas, action))]
    except CommandRefused:
        published = ["refused"]
    assert published == ([transition] if transition else [])
    assert gas.state() == after


LATCHED = [
    # (fire bit now, action, transition, state after)
    (False, "poll", None, "active_unack"),  # the detector reset itself: the alarm stays
    (False, "reset", "reset", "cleared_unack"),
    (True, "reset", "reset", "active_unack"),  # still in alarm: a reset does not clear it
]


@pytest.mark.parametrize(("bit", "action", "transition", "after"), LATCHED)
def test_latched_alarm_needs_a_reset(tmp_path, bit, action, transition, after):
    h = harness(tmp_path)
    h.poll("kitchen-smoke", 0)
    assert [e.transition.value for e in alarms(h.poll("kitchen-smoke", 1, fire_alarm=True))] == ["raised"]
    events = h.poll("kitchen-smoke", 2, fire_alarm=bit)
    if action == "reset":
        events += h.engine.reset(FIRE, "duty officer")
    assert [e.transition.value for e in alarms(events)] == ([transition] if transition else [])
    assert h.active()[FIRE] == after


def test_reset_of_an_alarm_that_is_not_latched_is_refused(tmp_path):
    gas = Gas(tmp_path)
    gas.reading(30.0)
    with pytest.raises(CommandRefused, match="not a latched"):
        gas.h.engine.reset(GAS, "duty officer")


def test_every_transition_refers_to_the_event_that_raised_it(tmp_path):
    gas = Gas(tmp_path)
    events = gas.reading(30.0) + gas.reading(60.0) + act(gas, ("ack",)) + gas.normal()
    raised = alarms(events)[0]
    assert [e.transition.value for e in alarms(events)] == [
        "raised",
        "level_changed",
        "acknowledged",
        "cleared",
    ]
    assert {e.first_id for e in alarms(events)} == {raised.id}


# -- properties ---------------------------------------------------------------------
ACTIONS = st.one_of(
    st.tuples(st.just("gas"), st.sampled_from([0.0, 5.0, 19.0, 21.0, 30.0, 49.0, 55.0, 90.0, 150.0])),
    st.tuples(st.just("bit"), st.booleans()),
    st.tuples(st.just("lost")),
    st.tuples(st.just("ack")),
    st.tuples(st.just("shelve")),
    st.tuples(st.just("wait"), st.integers(1, 120)),
    st.tuples(st.just("restart")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(ACTIONS, min_size=1, max_size=40))
def test_no_sequence_loses_an_active_alarm_or_clears_what_was_never_raised(tmp_path, steps):
    h = harness(tmp_path, store=True)
    store = h.store
    t, gas, bit = 0.0, 0.0, False
    open_alarms: set[str] = set()  # keys raised and not yet cleared, as the platform sees them
    for step in steps:
        t += 1
        events = []
        match step:
            case ("gas", value):
                gas = value
                events = h.poll("kitchen-gas", t, gas=gas, high_alarm=bit)
            case ("bit", value):
                bit = value
                events = h.poll("kitchen-gas", t, gas=gas, high_alarm=bit)
            case ("lost",):
                events = h.lost("kitchen-gas", t)
            case ("ack",) | ("shelve",):
                try:
                    events = (
                        h.engine.acknowledge(GAS, "op")
                        if step[0] == "ack"
                        else h.engine.shelve(GAS, 60, "op")
                    )
                except CommandRefused:
                    events = []
            case ("wait", seconds):
                t += seconds
                events = h.tick(t)
            case ("restart",):
                h.store.commit(h.engine)
                h = Harness(h.config, store)
        for event in alarms(events):
            if event.transition.value == "raised":
                assert event.alarm_key not in open_alarms, "raised twice without a clear"
                open_alarms.add(event.alarm_key)
            elif event.transition.value == "cleared":
                assert event.alarm_key in open_alarms, "a clear without a raise"
                open_alarms.discard(event.alarm_key)
            elif event.transition.value in ("level_changed", "realarmed"):
                assert event.alarm_key in open_alarms, f"{event.transition} of an alarm that is not active"
        listed = {a.alarm_key for a in h.engine.active_alarms() if a.state.value.startswith("active")}
        assert open_alarms <= listed, "an alarm the platform saw raised is missing from the active list"
        if bit and step[0] in ("bit", "gas"):
            assert GAS in listed, "the device's own alarm bit is on but no alarm is active"


STATION_ACTIONS = st.tuples(
    st.sampled_from(["kitchen-gas", "kitchen-smoke", "hall-smoke", "kitchen-co"]),
    st.sampled_from(["normal", "first", "second", "lost"]),
    st.integers(1, 90),
)
READINGS = {
    "kitchen-gas": {"normal": {"gas": 1.0}, "first": {"gas": 30.0}, "second": {"gas": 70.0}},
    "kitchen-co": {"normal": {"co": 1.0}, "first": {"co": 30.0}, "second": {"co": 80.0}},
    "kitchen-smoke": {"normal": {}, "first": {"obscuration": 4.0}, "second": {"fire_alarm": True}},
    "hall-smoke": {"normal": {}, "first": {"obscuration": 4.0}, "second": {"fire_alarm": True}},
}
BUSY_STATION = """\
zones:
  kitchen: {devices: [kitchen-gas, kitchen-smoke]}
  hall: {devices: [kitchen-smoke, hall-smoke]}
alarm_policy:
  flood: {count: 1, window: 3m}
  chatter: {count: 2, window: 60s, off_delay: 30s}
"""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STATION_ACTIONS, min_size=1, max_size=50), restarts=st.sets(st.integers(0, 49)))
def test_through_floods_chatter_zones_and_restarts_the_platform_sees_a_consistent_story(
    tmp_path, steps, restarts
):
    h = harness(tmp_path, BUSY_STATION, store=True)
    t = 0.0
    opened: set[str] = set()  # raised and not cleared, as published
    for step, (device, reading, wait) in enumerate(steps):
        if step in restarts:  # a restart on the state stored with the last step's events
            h = Harness(h.config, h.store)
        t += wait
        lost = reading == "lost"
        events = h.lost(device, t) if lost else h.poll(device, t, **READINGS[device][reading])
        events += h.tick(t)
        h.store.commit(h.engine)
        for event in alarms(events):
            if event.transition.value == "raised":
                assert event.alarm_key not in opened, f"{event.alarm_key} raised twice without a clear"
                opened.add(event.alarm_key)
            elif event.transition.value == "cleared":
                assert event.alarm_key in opened, f"{event.alarm_key} cleared but never raised"
                opened.discard(event.alarm_key)
            elif event.transition.value in ("level_changed", "realarmed"):
                assert event.alarm_key in opened, f"{event.transition} of {event.alarm_key} never raised"
        active = {a.alarm_key for a in h.engine.active_alarms() if a.state.value.startswith("active")}
        assert opened <= active, "an alarm the platform saw raised is missing from the snapshot"
        if reading == "second" and device != "kitchen-co":  # the co cell may still be warming up
            key = f"cs-0001.{device}.{'fire' if 'smoke' in device else device.split('-')[1]}"
            assert key in active, f"{key}: the condition is present but no alarm is active"
