"""What the console sends for an alarm named as the duty officer sees it: short key, number, all cleared."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.contract.events import ActiveAlarm, ActiveAlarmsSnapshot
from gateway.operator.console.board import Board
from gateway.operator.console.commands import Refusal, Typed, parse, requests

AT = datetime(2026, 6, 1, tzinfo=UTC)


def _alarm(station: str, name: str, level: str, state: str) -> ActiveAlarm:
    grade = {"orange": "second-stage", "yellow": "first-stage"}[level]
    return ActiveAlarm.model_validate(
        {
            "alarm_key": f"{station}.{name}",
            "first_id": "x",
            "kind": "gas",
            "level": level,
            "grade": grade,
            "state": state,
            "status": "actual",
            "shelved": False,
            "raised_at": AT,
            "device": name.split(".", maxsplit=1)[0],
            "location": "Kitchen",
            "message": "",
        }
    )


def _board(**stations: list[ActiveAlarm]) -> Board:
    board = Board()
    for seq, (station, alarms) in enumerate(stations.items(), 1):
        snapshot = ActiveAlarmsSnapshot(id=str(seq), station=station, seq=seq, created_at=AT, alarms=alarms)
        board.apply(
            station, f"outpost/v1/{station}/alarms/active", snapshot.to_json(), f"outpost/v1/{station}", True
        )
    return board


BOARD = _board(
    **{
        "cs-1": [
            _alarm("cs-1", "boiler-gas.gas", "yellow", "cleared_unack"),
            _alarm("cs-1", "kitchen-gas.gas", "orange", "active_unack"),
            _alarm("cs-1", "store-gas.gas", "orange", "cleared_unack"),
        ],
        "cs-2": [_alarm("cs-2", "kitchen-gas.gas", "yellow", "active_ack")],
    }
)


def sent(line: str, station: str | None = "cs-1") -> list[tuple[str, str]]:
    typed = parse(line, default_station=station, operator="duty officer")
    assert isinstance(typed, Typed)
    return [(r.station, r.args["alarm_key"]) for r in requests(typed, shown=BOARD.listed(), board=BOARD)]


def test_the_board_lists_active_alarms_first_then_cleared_ones_most_severe_first():
    assert [(i.station, i.alarm.alarm_key) for i in BOARD.listed()] == [
        ("cs-1", "cs-1.kitchen-gas.gas"),
        ("cs-2", "cs-2.kitchen-gas.gas"),
        ("cs-1", "cs-1.store-gas.gas"),
        ("cs-1", "cs-1.boiler-gas.gas"),
    ]


def test_an_alarm_is_named_by_key_within_the_station_full_key_or_number():
    assert sent("ack kitchen-gas.gas") == [("cs-1", "cs-1.kitchen-gas.gas")]
    assert sent("ack kitchen-gas.gas @cs-2") == [("cs-2", "cs-2.kitchen-gas.gas")]
    assert sent("ack cs-2.kitchen-gas.gas") == [("cs-2", "cs-2.kitchen-gas.gas")]
    assert sent("ack 3") == [("cs-1", "cs-1.store-gas.gas")]
    assert sent("ack boiler-gas.gas", station=None) == [("cs-1", "cs-1.boiler-gas.gas")]  # one station has it


def test_ack_all_cleared_names_every_cleared_alarm_of_the_station():
    assert sent("ack all cleared") == [("cs-1", "cs-1.store-gas.gas"), ("cs-1", "cs-1.boiler-gas.gas")]
    with pytest.raises(Refusal) as refused:
        sent("ack all cleared @cs-2")
    assert refused.value.entry == "console.none_cleared"


@pytest.mark.parametrize(
    ("line", "station", "entry"),
    [
        ("ack 5", "cs-1", "console.no_number"),
        ("ack kitchen-gas.gas", None, "console.which_alarm"),  # both stations have one
        ("ack pump-gas.gas", None, "console.which_station"),
        ("report", None, "console.which_station"),
    ],
)
def test_what_cannot_be_sent_is_said_instead(line, station, entry):
    with pytest.raises(Refusal) as refused:
        sent(line, station)
    assert refused.value.entry == entry
