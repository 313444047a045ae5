"""Threshold ladders: deadband, on-delay, off-delay, escalation."""

from __future__ import annotations

from gateway.alarms.thresholds import ThresholdLadder
from gateway.contract.levels import Grade

YELLOW, ORANGE = Grade.FIRST_STAGE, Grade.SECOND_STAGE


def levels(ladder: ThresholdLadder, readings: list[tuple[float, float]]) -> list[str | None]:
    """The rung name after each (time, value) reading."""
    return [(c.name if (c := ladder.update(value, now)) else None) for now, value in readings]


def test_deadband_stops_chatter_around_the_set_point():
    ladder = ThresholdLadder.high([(YELLOW, 20)], deadband=2)
    readings = [(0, 19), (1, 20), (2, 19), (3, 18.5), (4, 17.9), (5, 20.5)]
    assert levels(ladder, readings) == [None, "HI", "HI", "HI", None, "HI"]


def test_on_delay_ignores_a_short_spike():
    ladder = ThresholdLadder.high([(YELLOW, 20)], on_delay=3)
    readings = [(0, 25), (1, 25), (2, 10), (3, 25), (5, 25), (6, 25)]
    assert levels(ladder, readings) == [None, None, None, None, None, "HI"]


def test_off_delay_holds_the_alarm_through_a_short_dip():
    ladder = ThresholdLadder.high([(YELLOW, 20)], off_delay=5)
    readings = [(0, 25), (1, 5), (3, 25), (4, 5), (8, 5), (9, 5)]
    assert levels(ladder, readings) == ["HI", "HI", "HI", "HI", "HI", None]


def test_ladder_reports_its_highest_rung_and_steps_down():
    ladder = ThresholdLadder.high([(YELLOW, 20), (ORANGE, 50)], deadband=2)
    readings = [(0, 10), (1, 60), (2, 49), (3, 47), (4, 19), (5, 2)]
    assert levels(ladder, readings) == [None, "HIHI", "HIHI", "HI", "HI", None]
    assert ladder.update(55, 6).level is ORANGE


def test_low_ladder_for_falling_values():
    ladder = ThresholdLadder.low([(YELLOW, 1.0), (ORANGE, 0.5)], deadband=0.1)
    readings = [(0, 2), (1, 0.9), (2, 0.4), (3, 0.55), (4, 0.65), (5, 1.05), (6, 1.2)]
    assert levels(ladder, readings) == [None, "LO", "LOLO", "LOLO", "LO", "LO", None]
