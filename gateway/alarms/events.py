"""From a transition of an alarm to the :class:`AlarmEvent` the station publishes.

A change the alarm's condition made (raised, level changed, cleared) is a new
event with the measurement behind it; an operator's action or a re-alarm is
the alarm's latest event again, as of now, with its transition, state and
flags. Every event refers to the one that raised the occurrence
(``first_id``, ``raised_at``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.alarms.cap import cap_fields
from gateway.alarms.conditions import Condition
from gateway.alarms.lifecycle import Alarm
from gateway.config.alarm_policy import AlarmPolicy
from gateway.contract.events import AlarmEvent, EventStatus, Transition
from gateway.i18n import Translator

Stamp = Callable[[], dict[str, Any]]

MESSAGE_LIMIT = 200  # characters of a re-alarm's message: one line for a person, never a log


@dataclass(frozen=True)
class Measurement:
    """The reading behind a change: its value, unit and the set point it crossed."""

    value: float | bool | None = None
    unit: str | None = None
    threshold: float | None = None


NO_MEASUREMENT = Measurement()  # a change no single reading explains (a zone, a device's health)


class EventMaker:
    """Makes the events of alarm transitions, each with a fresh stamp (id, seq, created_at)."""

    def __init__(self, policy: AlarmPolicy, stamp: Stamp, t: Translator) -> None:
        self._policy = policy
        self._stamp = stamp
        self._t = t  # the station's language, for the re-alarm's words

    def changed(
        self,
        target: Condition,
        transition: Transition,
        condition: str,
        observed_at: datetime,
        text: str,
        status: EventStatus,
        measurement: Measurement,
    ) -> AlarmEvent:
        """The event of a change its condition made: raised, level changed or cleared."""
        alarm = _alarm(target)
        stamp = self._stamp()
        first = alarm.last
        return AlarmEvent(
            alarm_key=target.key,
            first_id=first.first_id if first else stamp["id"],
            transition=transition,
            kind=target.kind,
            level=self._policy.colour(alarm.grade),
            grade=alarm.grade,
            condition=condition,
            latched=target.latched,
            source=target.source,
            value=measurement.value,
            unit=measurement.unit,
            threshold=measurement.threshold,
            observed_at=observed_at,
            raised_at=first.raised_at if first else observed_at,
            message=text,
            cap=cap_fields(target.kind, target.category, alarm.grade, condition, alarm.active),
            radio=target.radio,
            **_flags(target, alarm, status),
            **stamp,
        )

    def again(self, target: Condition, transition: Transition, text: str, status: EventStatus) -> AlarmEvent:
        """The alarm's latest event again, as of now, for an operator's action or a re-alarm."""
        alarm = _alarm(target)
        last = alarm.last
        assert last is not None
        return last.model_copy(
            update={
                **self._stamp(),
                "transition": transition,
                **_flags(target, alarm, status),
                "cap": cap_fields(target.kind, target.category, alarm.grade, last.condition, alarm.active),
                "message": text,
                "radio": target.radio,
            }
        )

    def realarmed(self, target: Condition, status: EventStatus) -> AlarmEvent:
        """A re-alarm: the alarm again, with what its condition says now (value, time, message).

        The message is made from the alarm itself, never from an earlier message,
        so a day of re-alarms does not nest them; the count says how many came before.
        """
        alarm = _alarm(target)
        seen = target.seen
        suffix = self._t("alarm.realarm", count=alarm.realarms)
        base = seen.text if seen else target.key  # restored, and nothing read since the restart
        text = base[: MESSAGE_LIMIT - len(suffix)] + suffix
        event = self.again(target, Transition.REALARMED, text, status)
        if seen is None:
            return event
        return event.model_copy(update={"value": seen.value, "observed_at": seen.observed_at})

    def late(self, held: AlarmEvent) -> AlarmEvent:
        """A raise held back in a flood, going out now: a new message, marked historical."""
        return held.model_copy(update={**self._stamp(), "historical": True})


def _alarm(target: Condition) -> Alarm:
    assert target.alarm is not None, f"{target.key} has no alarm to announce"
    return target.alarm


def _flags(target: Condition, alarm: Alarm, status: EventStatus) -> dict[str, Any]:
    """The fields of an event that say how the alarm is being handled right now."""
    return {
        "state": alarm.state,
        "status": status,
        "shelved": alarm.shelved,
        "shelved_until": alarm.shelved_until,
        "suppressed": alarm.suppressed_by is not None,
        "suppressed_by": alarm.suppressed_by,
        "chattering": target.chattering,
        "warming_up": target.warming_up,
        "acknowledged_by": alarm.acknowledged_by,
        "realarm_count": alarm.realarms,
    }
