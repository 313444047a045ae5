"""Alarm grades, their order, and the district colour each one is shown in."""

from __future__ import annotations

from enum import StrEnum


class Grade(StrEnum):
    """How serious an alarm is, lowest first; the order is the response order."""

    FAULT = "fault"
    FIRST_STAGE = "first-stage"
    SECOND_STAGE = "second-stage"
    LIFE_SAFETY = "life-safety"

    @property
    def rank(self) -> int:
        """0 for ``fault`` up to 3 for ``life-safety``: compare grades by rank."""
        return _ORDER.index(self)


_ORDER = list(Grade)


class Colour(StrEnum):
    """China's four warning colours, IV (blue) to I (red)."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


DEFAULT_COLOURS: dict[Grade, Colour] = {
    Grade.FAULT: Colour.BLUE,
    Grade.FIRST_STAGE: Colour.YELLOW,
    Grade.SECOND_STAGE: Colour.ORANGE,
    Grade.LIFE_SAFETY: Colour.RED,
}
