"""The ISA-18.2 transitions of one alarm on its own: every state against every operation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from gateway.alarms.lifecycle import Alarm
from gateway.contract.levels import Grade

T0 = datetime(2026, 6, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)
REALARM_AFTER = 15 * 60  # seconds
SHELVED_FOR = 10 * MIN


def raised(**facets) -> Alarm:
    return Alarm.raised(Grade.SECOND_STAGE, T0, **facets)


def acknowledged() -> Alarm:
    alarm = raised()
    alarm.acknowledge("duty officer")
    return alarm


def cleared_unacknowledged() -> Alarm:
    alarm = raised()
    alarm.clear()
    return alarm


def cleared() -> Alarm:
    alarm = acknowledged()
    alarm.clear()
    return alarm


def shelved() -> Alarm:
    alarm = raised()
    alarm.shelve(T0 + SHELVED_FOR)
    return alarm


STATES: dict[str, Callable[[], Alarm]] = {
    "active_unack": raised,
    "active_ack": acknowledged,
    "cleared_unack": cleared_unacknowledged,
    "cleared": cleared,
    "shelved": shelved,
    "suppressed": lambda: raised(suppressed_by="maintenance"),
    "latched": lambda: raised(latched=True),
}

OPERATIONS: dict[str, Callable[[Alarm], object]] = {
    "present, same grade": lambda a: a.activate(Grade.SECOND_STAGE, T0 + 20 * MIN),
    "present, higher grade": lambda a: a.activate(Grade.LIFE_SAFETY, T0 + 20 * MIN),
    "present, lower grade": lambda a: a.activate(Grade.FIRST_STAGE, T0 + 20 * MIN),
    "normal": lambda a: a.clear(),
    "source asks again": lambda a: a.realarm(T0 + 20 * MIN),
    "acknowledge": lambda a: a.acknowledge("shift lead"),
    "shelve": lambda a: a.shelve(T0 + 30 * MIN),
    "unshelve": lambda a: a.unshelve(),
    "reset, condition gone": lambda a: a.reset(still_present=False),
    "reset, condition present": lambda a: a.reset(still_present=True),
    "shelving end not reached": lambda a: a.expire_shelving(T0 + 5 * MIN),
    "shelving end reached": lambda a: a.expire_shelving(T0 + SHELVED_FOR),
    "re-alarm not yet due": lambda a: a.realarm_due(T0 + 14 * MIN, REALARM_AFTER, Grade.SECOND_STAGE),
    "re-alarm due": lambda a: a.realarm_due(T0 + 15 * MIN, REALARM_AFTER, Grade.SECOND_STAGE),
}

# The alarm after each state's setup, described as ``describe`` does.
BEFORE = {
    "active_unack": "active_unack second-stage",
    "active_ack": "active_ack second-stage",
    "cleared_unack": "cleared_unack second-stage",
    "cleared": "cleared second-stage",
    "shelved": "active_unack second-stage shelved",
    "suppressed": "active_unack second-stage suppressed",
    "latched": "active_unack second-stage latched",
}
UNCHANGED = None  # (None, BEFORE[state]): refused, or nothing to announce

# operation -> state -> (transition announced or None, the alarm afterwards)
TABLE: dict[str, dict[str, tuple[str | None, str] | None]] = {
    "present, same grade": {
        "active_unack": UNCHANGED,
        "active_ack": UNCHANGED,
        "cleared_unack": ("raised", "active_unack second-stage"),  # a new occurrence
        "cleared": ("raised", "active_unack second-stage"),
        "shelved": UNCHANGED,
        "suppressed": UNCHANGED,
        "latched": UNCHANGED,
    },
    "present, higher grade": {
        "active_unack": ("level_changed", "active_unack life-safety"),
        "active_ack": ("level_changed", "active_unack life-safety"),  # acknowledge again
        "cleared_unack": ("raised", "active_unack life-safety"),
        "cleared": ("raised", "active_unack life-safety"),
        "shelved": ("level_changed", "active_unack life-safety shelved"),
        "suppressed": ("level_changed", "active_unack life-safety suppressed"),
        "latched": ("level_changed", "active_unack life-safety latched"),
    },
    "present, lower grade": {
        "active_unack": ("level_changed", "active_unack first-stage"),
        "active_ack": ("level_changed", "active_ack first-stage"),  # better news keeps the acknowledgement
        "cleared_unack": ("raised", "active_unack first-stage"),
        "cleared": ("raised", "active_unack first-stage"),
        "shelved": ("level_changed", "active_unack first-stage shelved"),
        "suppressed": ("level_changed", "active_unack first-stage suppressed"),
        "latched": UNCHANGED,  # a latched alarm never goes down a grade by itself
    },
    "normal": {
        "active_unack": ("cleared", "cleared_unack second-stage"),
        "active_ack": ("cleared", "cleared second-stage"),
        "cleared_unack": UNCHANGED,
        "cleared": UNCHANGED,
        "shelved": ("cleared", "cleared_unack second-stage shelved"),
        "suppressed": ("cleared", "cleared_unack second-stage suppressed"),
        "latched": UNCHANGED,  # until a reset
    },
    "source asks again": {
        "active_unack": ("realarmed", "active_unack second-stage"),
        "active_ack": ("realarmed", "active_unack second-stage"),  # the person is still waiting
        "cleared_unack": UNCHANGED,
        "cleared": UNCHANGED,
        "shelved": ("realarmed", "active_unack second-stage shelved"),
        "suppressed": ("realarmed", "active_unack second-stage suppressed"),
        "latched": ("realarmed", "active_unack second-stage latched"),
    },
    "acknowledge": {
        "active_unack": ("acknowledged", "active_ack second-stage"),
        "active_ack": UNCHANGED,  # refused: already acknowledged
        "cleared_unack": ("acknowledged", "cleared second-stage"),  # back to normal
        "cleared": UNCHANGED,
        "shelved": ("acknowledged", "active_ack second-stage shelved"),
        "suppressed": ("acknowledged", "active_ack second-stage suppressed"),
        "latched": ("acknowledged", "active_ack second-stage latched"),
    },
    "shelve": {
        "active_unack": ("shelved", "active_unack second-stage shelved"),
        "active_ack": ("shelved", "active_ack second-stage shelved"),
        "cleared_unack": ("shelved", "cleared_unack second-stage shelved"),
        "cleared": ("shelved", "cleared second-stage shelved"),
        "shelved": ("shelved", "active_unack second-stage shelved"),  # for longer
        "suppressed": ("shelved", "active_unack second-stage shelved suppressed"),
        "latched": ("shelved", "active_unack second-stage shelved latched"),
    },
    "unshelve": {
        "active_unack": UNCHANGED,  # refused: not shelved
        "active_ack": UNCHANGED,
        "cleared_unack": UNCHANGED,
        "cleared": UNCHANGED,
        "shelved": ("unshelved", "active_unack second-stage"),
        "suppressed": UNCHANGED,
        "latched": UNCHANGED,
    },
    "reset, condition gone": {
        "active_unack": UNCHANGED,  # refused: not latched
        "active_ack": UNCHANGED,
        "cleared_unack": UNCHANGED,
        "cleared": UNCHANGED,
        "shelved": UNCHANGED,
        "suppressed": UNCHANGED,
        "latched": ("reset", "cleared_unack second-stage latched"),
    },
    "reset, condition present": {
        "active_unack": UNCHANGED,
        "active_ack": UNCHANGED,
        "cleared_unack": UNCHANGED,
        "cleared": UNCHANGED,
        "shelved": UNCHANGED,
        "suppressed": UNCHANGED,
        "latched": ("reset", "active_unack second-stage latched"),  # released, still in alarm
    },
    "shelving end not reached": dict.fromkeys(STATES, UNCHANGED),
    "shelving end reached": {
        "active_unack": UNCHANGED,
        "active_ack": UNCHANGED,
        "cleared_unack": UNCHANGED,
        "cleared": UNCHANGED,
        "shelved": ("unshelved", "active_unack second-stage"),  # shelving always ends
        "suppressed": UNCHANGED,
        "latched": UNCHANGED,
    },
    "re-alarm not yet due": dict.fromkeys(STATES, UNCHANGED),
    "re-alarm due": {
        "active_unack": ("realarmed", "active_unack second-stage"),
        "active_ack": UNCHANGED,  # somebody is on it
        "cleared_unack": UNCHANGED,
        "cleared": UNCHANGED,
        "shelved": UNCHANGED,  # shelving silences re-alarms too
        "suppressed": ("realarmed", "active_unack second-stage suppressed"),
        "latched": ("realarmed", "active_unack second-stage latched"),
    },
}


def describe(alarm: Alarm) -> str:
    words = [alarm.state.value, alarm.grade.value]
    if alarm.shelved:
        words.append("shelved")
    if alarm.suppressed_by:
        words.append("suppressed")
    if alarm.latched:
        words.append("latched")
    return " ".join(words)


def test_the_table_covers_every_state_and_every_operation():
    assert set(TABLE) == set(OPERATIONS)
    assert all(set(row) == set(STATES) for row in TABLE.values())
    assert {state: describe(make()) for state, make in STATES.items()} == BEFORE


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_transition(state, operation):
    alarm = STATES[state]()
    transition = OPERATIONS[operation](alarm)
    announced = None if transition is None else str(transition)
    assert (announced, describe(alarm)) == (TABLE[operation][state] or (None, BEFORE[state]))


def test_a_new_occurrence_forgets_the_old_one():
    alarm = cleared_unacknowledged()
    alarm.shelve(T0 + SHELVED_FOR)
    alarm.activate(Grade.FIRST_STAGE, T0 + 20 * MIN)
    assert (alarm.last, alarm.acknowledged_by, alarm.shelved_until) == (None, None, None)
    assert alarm.annunciated_at == T0 + 20 * MIN  # re-alarming counts from the new raise


def test_a_re_alarm_or_an_escalation_starts_the_wait_again():
    alarm = raised()
    assert alarm.realarm_due(T0 + 15 * MIN, REALARM_AFTER, Grade.SECOND_STAGE) is not None
    assert alarm.realarm_due(T0 + 29 * MIN, REALARM_AFTER, Grade.SECOND_STAGE) is None
    alarm.activate(Grade.LIFE_SAFETY, T0 + 29 * MIN)
    assert alarm.realarm_due(T0 + 30 * MIN, REALARM_AFTER, Grade.SECOND_STAGE) is None
    assert alarm.realarm_due(T0 + 44 * MIN, REALARM_AFTER, Grade.SECOND_STAGE) is not None


def test_only_high_enough_grades_re_alarm_and_zero_turns_re_alarming_off():
    first_stage = Alarm.raised(Grade.FIRST_STAGE, T0)
    assert first_stage.realarm_due(T0 + 60 * MIN, REALARM_AFTER, Grade.SECOND_STAGE) is None
    assert raised().realarm_due(T0 + 60 * MIN, 0, Grade.SECOND_STAGE) is None


def test_a_latched_alarm_reset_after_its_acknowledgement_is_over():
    alarm = raised(latched=True)
    alarm.acknowledge("duty officer")
    alarm.reset(still_present=False)
    assert alarm.finished
