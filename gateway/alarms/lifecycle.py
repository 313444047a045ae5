"""The ISA-18.2 lifecycle of one alarm occurrence, and nothing else.

NORMAL (no occurrence) -> active_unack -> active_ack -> back to normal when its
condition clears; or active_unack -> cleared_unack -> NORMAL on acknowledgement.
An escalation needs a fresh acknowledgement. Shelving is a timed flag that
always expires. The state survives a restart through :meth:`to_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.contract.events import AlarmEvent, AlarmState
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

    @property
    def state(self) -> AlarmState:
        if self.active:
            return AlarmState.ACTIVE_ACK if self.acknowledged_by else AlarmState.ACTIVE_UNACK
        return AlarmState.CLEARED if self.acknowledged_by else AlarmState.CLEARED_UNACK

    @property
    def finished(self) -> bool:
        """Cleared and acknowledged: the occurrence is over and the condition is NORMAL."""
        return not self.active and self.acknowledged_by is not None

    def escalate(self, grade: Grade) -> None:
        if grade.rank > self.grade.rank:
            self.acknowledged_by = None  # a worse situation needs a fresh acknowledgement
        self.grade = grade

    def to_dict(self) -> dict[str, Any]:
        assert self.last is not None
        return {
            "grade": self.grade.value,
            "active": self.active,
            "acknowledged_by": self.acknowledged_by,
            "shelved_until": self.shelved_until.isoformat() if self.shelved_until else None,
            "annunciated_at": self.annunciated_at.isoformat() if self.annunciated_at else None,
            "last": self.last.model_dump(mode="json", by_alias=True),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alarm:
        def moment(text: str | None) -> datetime | None:
            return datetime.fromisoformat(text) if text else None

        return cls(
            grade=Grade(data["grade"]),
            last=AlarmEvent.model_validate(data["last"]),
            active=data["active"],
            acknowledged_by=data["acknowledged_by"],
            shelved_until=moment(data["shelved_until"]),
            annunciated_at=moment(data["annunciated_at"]),
        )
