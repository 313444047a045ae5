"""CAP 1.2 fields of an alarm, so that a platform can issue an alert without guessing."""

from __future__ import annotations

from gateway.alarms.conditions import RATE_CONDITION
from gateway.contract.events import CapFields
from gateway.contract.levels import (
    CAP_CATEGORY_OF_KIND,
    CAP_SEVERITY,
    CapCategory,
    CapCertainty,
    CapUrgency,
    Grade,
)


def cap_fields(
    kind: str, category: CapCategory | None, grade: Grade, condition: str, active: bool
) -> CapFields:
    """Category from the rule or its kind, severity from the grade, urgency from its state.

    A rate of rise foretells rather than observes: its certainty is ``Likely``.
    """
    if not active:
        urgency = CapUrgency.PAST
    elif grade is Grade.FAULT:
        urgency = CapUrgency.EXPECTED
    else:
        urgency = CapUrgency.IMMEDIATE
    return CapFields(
        category=category or CAP_CATEGORY_OF_KIND.get(kind, CapCategory.OTHER),
        severity=CAP_SEVERITY[grade],
        urgency=urgency,
        certainty=CapCertainty.LIKELY if condition == RATE_CONDITION else CapCertainty.OBSERVED,
    )
