"""The console's board against the orders a broker really delivers: events and snapshots apart.

An alarm event waits its turn in the outbox (behind a full window, or until a
reconnect sends it again); the retained snapshot goes out at once. So a
snapshot taken before a clear can arrive after the clear's event, and an
event can arrive after a snapshot that already holds its outcome. The board
must show the newest state by ``seq`` either way: a duty officer who sees a
cleared gas alarm as active again acts on a false alarm.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.contract.events import (
    ActiveAlarm,
    ActiveAlarmsSnapshot,
    AlarmEvent,
    AlarmSource,
    AlarmState,
    CapFields,
    StationStatusEvent,
    Transition,
)
from gateway.contract.levels import CapCategory, CapCertainty, CapSeverity, CapUrgency, Colour, Grade
from gateway.operator.console.board import Board

AT = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
STATION, PREFIX = "cs-0427", "outpost/v1/cs-0427"
KEY = f"{STATION}.store-gas.gas"


def _stamp(seq: int) -> dict:
    return {"id": f"0190f5c2-0000-7000-8000-{seq:012d}", "station": STATION, "seq": seq, "created_at": AT}


def _event(seq: int, transition: Transition, state: AlarmState, value: float) -> AlarmEvent:
    return AlarmEvent(
        **_stamp(seq),
        alarm_key=KEY,
        first_id="0190f5c2-0000-7000-8000-000000000010",
        transition=transition,
        kind="gas",
        level=Colour.YELLOW,
        grade=Grade.FIRST_STAGE,
        condition="HI",
        state=state,
        source=AlarmSource(
            device="store-gas", point="gas", bus="rs485", unit=4, profile="gas-detector", location="Store"
        ),
        value=value,
        unit="%LEL",
        threshold=25.0,
        observed_at=AT,
        raised_at=AT,
        message="Gas in the store",
        cap=CapFields(
            category=CapCategory.SAFETY,
            severity=CapSeverity.MODERATE,
            urgency=CapUrgency.IMMEDIATE,
            certainty=CapCertainty.OBSERVED,
        ),
    )


RAISED = _event(10, Transition.RAISED, AlarmState.ACTIVE_UNACK, 30.0)
CLEARED = _event(20, Transition.CLEARED, AlarmState.CLEARED_UNACK, 2.0)


def _snapshot(seq: int, *events: AlarmEvent) -> ActiveAlarmsSnapshot:
    return ActiveAlarmsSnapshot(**_stamp(seq), alarms=[ActiveAlarm.from_event(e) for e in events])


def _status(seq: int, boot_id: str) -> StationStatusEvent:
    return StationStatusEvent(
        **_stamp(seq),
        state="online",
        version="1",
        boot_id=boot_id,
        boot_count=1,
        started_at=AT,
        name="Station",
        district="",
        devices=[],
    )


def _board(*payloads: AlarmEvent | ActiveAlarmsSnapshot | StationStatusEvent) -> Board:
    board = Board()
    for payload in payloads:
        topic = "alarm" if isinstance(payload, AlarmEvent) else "alarms/active"
        board.apply(STATION, f"{PREFIX}/{topic}", payload.to_json(), PREFIX, retained=False)
    return board


def _shown(board: Board) -> list[tuple[str, str, float | bool | None]]:
    return [
        (item.alarm.alarm_key, item.alarm.state.value, item.value and item.value.value)
        for item in board.listed()
    ]


def test_a_snapshot_taken_before_the_clear_and_arriving_after_it_does_not_raise_the_alarm_again():
    board = _board(RAISED, CLEARED, _snapshot(11, RAISED))
    assert _shown(board) == [(KEY, "cleared_unack", 2.0)]


def test_an_event_arriving_after_a_snapshot_that_already_holds_its_outcome_changes_nothing():
    board = _board(_snapshot(21, CLEARED), RAISED)
    assert _shown(board) == [(KEY, "cleared_unack", None)]
    board = _board(_snapshot(21), RAISED)  # cleared and acknowledged by then: off the board
    assert _shown(board) == []


def test_an_event_sent_again_after_a_reconnect_does_not_undo_what_came_after_it():
    board = _board(RAISED, CLEARED, RAISED)
    assert _shown(board) == [(KEY, "cleared_unack", 2.0)]


def test_a_newer_snapshot_is_the_truth_and_an_older_one_never_replaces_it():
    board = _board(RAISED, _snapshot(30), _snapshot(25, RAISED))
    assert _shown(board) == []
    newer_event_kept = _board(_snapshot(5), RAISED, _snapshot(8))  # the event is newer than the snapshot
    assert _shown(newer_event_kept) == [(KEY, "active_unack", 30.0)]


def test_a_new_run_of_the_gateway_is_believed_even_when_its_numbers_start_lower():
    """A station whose state directory was replaced numbers from 1 again; its birth says so."""
    board = _board(_status(100, "boot-a"), RAISED, _snapshot(120, RAISED), _status(1, "boot-b"), _snapshot(2))
    assert _shown(board) == []


def test_an_event_delivered_twice_is_logged_once():
    board = Board()
    lines = [
        board.apply(STATION, f"{PREFIX}/alarm", event.to_json(), PREFIX, retained=False)
        for event in (RAISED, RAISED, CLEARED)
    ]
    assert [line and line.payload for line in lines] == [RAISED, None, CLEARED]
