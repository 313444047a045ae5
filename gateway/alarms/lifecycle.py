"""The ISA-18.2 lifecycle of one alarm occurrence, and nothing else.

NORMAL (no occurrence) -> active_unack -> active_ack -> back to normal when its
condition clears; or active_unack -> cleared_unack -> NORMAL on acknowledgement.
An escalation needs a fresh acknowledgement. Shelving is a timed flag that
always expires. A latched alarm stays active until a reset. A suppressed alarm
(its device under maintenance or out of service) goes through every
transition all the same: it is only marked.

Every change of state is one method that returns the transition to announce,
or None when the alarm refuses it or nothing changes; the engine decides
nothing about the lifecycle itself. The state survives a restart through
:meth:`Alarm.to_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.contract.events import AlarmEvent, AlarmState, Transition
from gateway.contract.levels import Grade


@dataclass
class Alarm:
    """One occurrence of an alarm, from raise until it is cleared and acknowledged."""

    grade: Grade
    last: AlarmEvent | None = None  # the latest event made for it (published or summarised)
    active: bool = True
    acknowledged_by: str | None = None
    shelved_until: datetime | None = None
    annunciated_at: datetime | None = None  # last raise or re-alarm, for re-alarming
    realarms: int = 0  # re-alarms of this occurrence so far
    # Given by its condition, not saved: the configuration says them again after a restart.
    latched: bool = False
    suppressed_by: str | None = None  # "maintenance" | "out_of_service"

    @classmethod
    def raised(
        cls, grade: Grade, at: datetime, *, latched: bool = False, suppressed_by: str | None = None
    ) -> Alarm:
        """A new occurrence: its condition became present at ``at``."""
        return cls(grade, annunciated_at=at, latched=latched, suppressed_by=suppressed_by)

    @property
    def state(self) -> AlarmState:
        if self.active:
            return AlarmState.ACTIVE_ACK if self.acknowledged_by else AlarmState.ACTIVE_UNACK
        return AlarmState.CLEARED if self.acknowledged_by else AlarmState.CLEARED_UNACK

    @property
    def finished(self) -> bool:
        """Cleared and acknowledged: the occurrence is over and the condition is NORMAL."""
        return not self.active and self.acknowledged_by is not None

    @property
    def shelved(self) -> bool:
        return self.shelved_until is not None

    @property
    def clearable(self) -> bool:
        """Would its condition going normal clear it? Not if it is cleared already, or latched."""
        return self.active and not self.latched

    # -- what its condition says ------------------------------------------------------
    def activate(self, grade: Grade, at: datetime) -> Transition | None:
        """Its condition is present at ``grade``: raised again, changed level, or no change.

        Once cleared, the condition coming back is a new occurrence (a new
        ``first_id``). A higher grade needs a fresh acknowledgement and counts
        as a new annunciation; a latched alarm never goes down a grade.
        """
        if not self.active:
            self.grade, self.active, self.last = grade, True, None
            self.acknowledged_by = self.shelved_until = None
            self.annunciated_at = at
            self.realarms = 0
            return Transition.RAISED
        if grade == self.grade or (self.latched and grade.rank < self.grade.rank):
            return None
        if grade.rank > self.grade.rank:
            self.acknowledged_by = None
            self.annunciated_at = at
        self.grade = grade
        return Transition.LEVEL_CHANGED

    def clear(self) -> Transition | None:
        """Its condition is normal again: cleared, unless latched or cleared already."""
        if not self.clearable:
            return None
        self.active = False
        return Transition.CLEARED

    def realarm(self, at: datetime) -> Transition | None:
        """Its source asks for attention again (a radio pressed once more): announce it anew."""
        if not self.active:
            return None
        self.acknowledged_by = None
        self.annunciated_at = at
        self.realarms += 1
        return Transition.REALARMED

    # -- what operators do ------------------------------------------------------------
    def acknowledge(self, by: str) -> Transition | None:
        """Refused (None) when someone already acknowledged it."""
        if self.acknowledged_by:
            return None
        self.acknowledged_by = by
        return Transition.ACKNOWLEDGED

    def shelve(self, until: datetime) -> Transition:
        """Shelved until ``until``; shelving it again moves the end."""
        self.shelved_until = until
        return Transition.SHELVED

    def unshelve(self) -> Transition | None:
        """Refused (None) when it is not shelved."""
        if self.shelved_until is None:
            return None
        self.shelved_until = None
        return Transition.UNSHELVED

    def reset(self, still_present: bool) -> Transition | None:
        """Release a latched alarm: it clears unless its condition is still present.

        Refused (None) when the alarm is not latched.
        """
        if not self.latched:
            return None
        if not still_present:
            self.active = False
        return Transition.RESET

    # -- what time does ---------------------------------------------------------------
    def expire_shelving(self, now: datetime) -> Transition | None:
        """Shelving always ends: unshelved once ``now`` reaches its end."""
        if self.shelved_until is None or self.shelved_until > now:
            return None
        return self.unshelve()

    def realarm_due(self, now: datetime, after: float, from_grade: Grade) -> Transition | None:
        """Announce again an active alarm nobody acknowledged within ``after`` seconds.

        Only from ``from_grade`` up, never while shelved; ``after`` 0 never re-alarms.
        """
        wait = timedelta(seconds=after)
        due = self.annunciated_at is not None and now - self.annunciated_at >= wait
        if not (
            wait
            and due
            and self.active
            and not self.acknowledged_by
            and self.shelved_until is None
            and self.grade.rank >= from_grade.rank
        ):
            return None
        self.annunciated_at = now
        self.realarms += 1
        return Transition.REALARMED

    def record(self, event: AlarmEvent) -> None:
        """The event just made for it: the next ones refer to it (first id, raise time, message)."""
        self.last = event

    # -- across a restart -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        assert self.last is not None
        return {
            "grade": self.grade.value,
            "active": self.active,
            "acknowledged_by": self.acknowledged_by,
            "shelved_until": self.shelved_until.isoformat() if self.shelved_until else None,
            "annunciated_at": self.annunciated_at.isoformat() if self.annunciated_at else None,
            "realarms": self.realarms,
            "last": self.last.model_dump(mode="json", by_alias=True),
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, latched: bool = False, suppressed_by: str | None = None
    ) -> Alarm:
        """A saved occurrence; ``latched`` and ``suppressed_by`` come from its condition as configured now."""

        def moment(text: str | None) -> datetime | None:
            return datetime.fromisoformat(text) if text else None

        return cls(
            grade=Grade(data["grade"]),
            last=AlarmEvent.model_validate(data["last"]),
            active=data["active"],
            acknowledged_by=data["acknowledged_by"],
            shelved_until=moment(data["shelved_until"]),
            annunciated_at=moment(data["annunciated_at"]),
            realarms=data.get("realarms", 0),  # saved since re-alarms are counted
            latched=latched,
            suppressed_by=suppressed_by,
        )
