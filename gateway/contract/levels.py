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


class CapCategory(StrEnum):
    """CAP 1.2 ``category`` values an alarm of this gateway can have."""

    FIRE = "Fire"
    SAFETY = "Safety"
    HEALTH = "Health"
    MET = "Met"
    GEO = "Geo"
    RESCUE = "Rescue"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class CapSeverity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"


class CapUrgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    PAST = "Past"


class CapCertainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"


CAP_SEVERITY: dict[Grade, CapSeverity] = {
    Grade.FAULT: CapSeverity.MINOR,
    Grade.FIRST_STAGE: CapSeverity.MODERATE,
    Grade.SECOND_STAGE: CapSeverity.SEVERE,
    Grade.LIFE_SAFETY: CapSeverity.EXTREME,
}

# What each kind of alarm is in CAP terms, unless a rule names its own ``category``.
CAP_CATEGORY_OF_KIND: dict[str, CapCategory] = {
    "smoke": CapCategory.FIRE,
    "fire_confirmed": CapCategory.FIRE,
    "gas": CapCategory.SAFETY,
    "co": CapCategory.HEALTH,
    "water_level": CapCategory.MET,
    "radio_sos": CapCategory.RESCUE,
    "device_fault": CapCategory.INFRA,
    "alarm_flood": CapCategory.INFRA,
}
