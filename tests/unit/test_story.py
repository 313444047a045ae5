"""The platform story checker the durability tests judge the gateway with, on hand-written stories."""

from __future__ import annotations

import itertools

import pytest

from tests.support.story import AnomalyKind, final_differences, read_story

KEY = "cs-test.gas-01.gas"
STATES = {
    "raised": "active_unack",
    "level_changed": "active_unack",
    "cleared": "cleared_unack",
    "acknowledged": "active_ack",
}


class Teller:
    """Makes alarm events as the gateway would: a fresh id and the next seq each."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._first: dict[str, str] = {}

    def event(self, transition: str, level: str = "orange", key: str = KEY, **fields) -> dict:
        seq = next(self._seq)
        event_id = f"id-{seq}"
        if transition == "raised":
            self._first[key] = event_id
        return {
            "schema": "outpost.alarm/1",
            "id": event_id,
            "seq": seq,
            "alarm_key": key,
            "first_id": self._first.get(key, event_id),
            "transition": transition,
            "state": STATES.get(transition, "active_unack"),
            "level": level,
        } | fields


def kinds(events) -> list[AnomalyKind]:
    return [a.kind for a in read_story(events).anomalies]


def test_a_good_story_with_redelivery_and_shuffled_arrival_has_no_anomaly():
    t = Teller()
    events = [
        t.event("raised", "yellow"),
        t.event("level_changed", "orange"),
        t.event("acknowledged", "orange"),
        t.event("cleared", "orange", state="cleared"),
        t.event("raised", "yellow"),
        t.event("cleared", "yellow"),
        t.event("acknowledged", "yellow", state="cleared"),
        t.event("raised", "orange"),
        t.event("raised", "yellow", key="cs-test.gas-02.gas"),
        {"schema": "outpost.telemetry/1", "id": "t-1", "seq": 99},
    ]
    arrived = [*events[5:], *events[:5], events[2], events[8]]  # late, out of order, twice
    story = read_story(arrived)
    assert story.anomalies == []
    assert [e["seq"] for e in story.events] == list(range(1, 10))
    assert final_differences(story, {KEY: "orange", "cs-test.gas-02.gas": "yellow"}) == []


def test_a_clear_after_a_clear_is_caught():
    t = Teller()
    assert kinds([t.event("raised"), t.event("cleared"), t.event("cleared")]) == [
        AnomalyKind.CLEAR_WITHOUT_RAISE
    ]


def test_a_clear_of_an_alarm_never_raised_is_caught():
    assert kinds([Teller().event("cleared")]) == [AnomalyKind.CLEAR_WITHOUT_RAISE]


def test_a_level_change_with_no_raise_is_caught():
    t = Teller()
    assert kinds([t.event("raised"), t.event("cleared"), t.event("level_changed", "yellow")]) == [
        AnomalyKind.LEVEL_CHANGE_WITHOUT_RAISE
    ]


def test_an_acknowledgement_with_no_raise_is_caught():
    assert kinds([Teller().event("acknowledged")]) == [AnomalyKind.ACTION_WITHOUT_RAISE]


def test_an_acknowledgement_after_the_occurrence_ended_is_caught():
    t = Teller()
    events = [t.event("raised"), t.event("acknowledged"), t.event("cleared", state="cleared")]
    assert kinds([*events, t.event("acknowledged", state="cleared")]) == [AnomalyKind.ACTION_WITHOUT_RAISE]


def test_two_raises_without_a_clear_between_are_caught():
    t = Teller()
    assert kinds([t.event("raised"), t.event("raised")]) == [AnomalyKind.RAISED_TWICE]


def test_a_seq_carried_by_two_different_events_is_caught():
    t = Teller()
    raised = t.event("raised")
    other = t.event("raised", key="cs-test.gas-02.gas") | {"seq": raised["seq"]}
    assert kinds([raised, other]) == [AnomalyKind.SEQ_REUSED]


def test_a_transition_of_another_occurrence_is_caught():
    t = Teller()
    events = [t.event("raised"), t.event("level_changed", "yellow") | {"first_id": "id-elsewhere"}]
    assert kinds(events) == [AnomalyKind.FOREIGN_FIRST_ID]


@pytest.mark.parametrize(
    ("expected", "difference"),
    [
        ({KEY: None}, f"{KEY}: platform has orange, truth is not active"),
        ({KEY: "yellow"}, f"{KEY}: platform has orange, truth is yellow"),
        ({}, f"{KEY}: platform has orange, truth is not active"),
        ({KEY: "orange", "cs-test.gas-02.gas": "red"}, "cs-test.gas-02.gas: platform has not active"),
    ],
)
def test_a_final_picture_unlike_the_truth_is_reported(expected, difference):
    story = read_story([Teller().event("raised", "orange")])
    differences = final_differences(story, expected)
    assert len(differences) == 1
    assert differences[0].startswith(difference)


def test_a_cleared_alarm_awaiting_acknowledgement_is_not_active():
    t = Teller()
    story = read_story([t.event("raised"), t.event("cleared")])
    assert final_differences(story, {KEY: None}) == []


def snapshot(t: Teller, *alarms: tuple[str, str]) -> dict:
    """A retained ``alarms/active`` snapshot with the next seq, listing ``(alarm_key, state)``."""
    seq = next(t._seq)
    listed = [{"alarm_key": key, "state": state} for key, state in alarms]
    return {"schema": "outpost.alarms_active/1", "id": f"id-{seq}", "seq": seq, "alarms": listed}


def test_snapshots_that_agree_with_the_events_before_them_pass_in_any_order_of_arrival():
    t = Teller()
    raised = t.event("raised")
    before_clear = snapshot(t, (KEY, "active_unack"))
    cleared = t.event("cleared")
    after_clear = snapshot(t, (KEY, "cleared_unack"))
    acked = t.event("acknowledged", state="cleared")
    after_ack = snapshot(t)
    arrived = [raised, cleared, after_ack, before_clear, acked, after_clear]  # snapshots travel apart
    assert kinds(arrived) == []


def test_a_snapshot_that_lists_a_cleared_alarm_or_leaves_out_a_raised_one_is_caught():
    t = Teller()
    events = [t.event("raised"), t.event("cleared", state="cleared")]
    assert kinds([*events, snapshot(t, (KEY, "active_unack"))]) == [AnomalyKind.SNAPSHOT_CONTRADICTS]
    t = Teller()
    assert kinds([t.event("raised"), snapshot(t)]) == [AnomalyKind.SNAPSHOT_CONTRADICTS]


def test_during_a_flood_a_snapshot_may_list_held_alarms_but_never_drop_a_told_one():
    t = Teller()
    flood = "cs-test.station.flood"
    events = [t.event("raised"), t.event("raised", "yellow", key=flood, kind="alarm_flood")]
    held = ("cs-test.gas-02.gas", "active_unack")
    assert kinds([*events, snapshot(t, (KEY, "active_unack"), (flood, "active_unack"), held)]) == []
    assert kinds([*events, snapshot(t, (flood, "active_unack"), held)]) == [AnomalyKind.SNAPSHOT_CONTRADICTS]
    over = [*events, t.event("cleared", "yellow", key=flood, kind="alarm_flood")]
    assert kinds([*over, snapshot(t, (KEY, "active_unack"), (flood, "cleared_unack"), held)]) == [
        AnomalyKind.SNAPSHOT_CONTRADICTS
    ]
