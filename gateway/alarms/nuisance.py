"""Nuisance control: chattering alarms and alarm floods.

Neither ever drops an alarm. A chattering alarm is flagged and must stay
normal longer before it clears; during a flood the lower grades are held
back from the uplink and counted in one summary alarm, while the retained
snapshot of active alarms still lists every one of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from gateway.config.alarm_policy import ChatterPolicy, FloodPolicy
from gateway.contract.events import AlarmEvent, Transition
from gateway.contract.levels import Grade

_SUMMARISED = (Transition.RAISED, Transition.LEVEL_CHANGED, Transition.CLEARED)


class ChatterTracker:
    """Counts the activations of one alarm condition over a sliding window."""

    def __init__(self, policy: ChatterPolicy) -> None:
        self._policy = policy
        self._activations: deque[float] = deque()
        self._normal_since: float | None = None

    def _forget(self, now: float) -> None:
        while self._activations and now - self._activations[0] > self._policy.window:
            self._activations.popleft()

    def activated(self, now: float) -> None:
        self._activations.append(now)
        self._normal_since = None

    def chattering(self, now: float) -> bool:
        self._forget(now)
        return len(self._activations) >= self._policy.count

    def may_clear(self, now: float) -> bool:
        """A normal reading at ``now``: may the alarm clear yet?

        Always, unless it is chattering: then only after ``off_delay`` of normal readings.
        """
        if not self.chattering(now):
            self._normal_since = None
            return True
        if self._normal_since is None:
            self._normal_since = now
        return now - self._normal_since >= self._policy.off_delay

    def still_active(self) -> None:
        self._normal_since = None

    def activations(self) -> list[float]:
        """The activations within the window (monotonic), to survive a restart."""
        return list(self._activations)

    def resume(self, activations: list[float]) -> None:
        """Take saved activations back (already moved onto this run's monotonic clock)."""
        self._activations = deque(sorted(activations))


class NeverChatters:
    """For a condition no flapping input drives (a zone, the flood summary, a radio): never chatters."""

    def activated(self, now: float) -> None:
        pass

    def chattering(self, now: float) -> bool:
        return False

    def may_clear(self, now: float) -> bool:
        return True

    def still_active(self) -> None:
        pass

    def activations(self) -> list[float]:
        return []

    def resume(self, activations: list[float]) -> None:
        pass


class FloodGate:
    """Station-wide: more than ``count`` raised alarms within ``window`` is a flood.

    What it holds back is part of the saved state (:meth:`to_dict`): an alarm
    restored as raised whose raise the platform never got must still have
    that raise sent before its clear, after a restart as before it.
    """

    def __init__(self, policy: FloodPolicy) -> None:
        self._policy = policy
        self._raised: deque[float] = deque()
        self._held = 0  # lower-grade events summarised during the current flood
        self._held_raises: dict[str, AlarmEvent] = {}  # by alarm key: raises the platform has not seen
        self.version = 0  # counts changes of what is saved, so the engine knows when to store it

    @property
    def held(self) -> int:
        return self._held

    @held.setter
    def held(self, count: int) -> None:
        self._held = count
        self.version += 1

    def raised(self, now: float) -> None:
        self._raised.append(now)
        self.version += 1

    def flooding(self, now: float) -> bool:
        while self._raised and now - self._raised[0] > self._policy.window:
            self._raised.popleft()
        return len(self._raised) > self._policy.count

    def holds(self, grade: Grade) -> bool:
        """Is an event of ``grade`` summarised (rather than sent) while flooding?"""
        return grade.rank <= self._policy.summarise_up_to.rank

    def admit(self, event: AlarmEvent, flooding: bool) -> tuple[bool, AlarmEvent | None]:
        """Publish ``event``? And which held raise must go out before it.

        A raise held in a flood goes out, late, before anything else that
        follows it: the platform never sees a change or a clear of an alarm
        whose raise it has not seen, and sees the clear of every alarm whose
        raise it has seen.
        """
        key = event.alarm_key
        seen = key not in self._held_raises
        if event.transition is Transition.CLEARED and seen:
            return True, None  # the platform saw this alarm raised: it must see it clear
        if flooding and self.holds(event.grade) and event.transition in _SUMMARISED:
            self.held += 1
            if event.transition is Transition.RAISED:
                self._held_raises[key] = event
            elif event.transition is Transition.CLEARED:
                del self._held_raises[key]  # raised and cleared within the flood: summarised whole
            return False, None
        late_raise = self._held_raises.pop(key, None)
        if late_raise is not None:
            self.version += 1
        if event.transition is Transition.RAISED:
            return True, None  # a new occurrence: the old one was summarised whole
        return True, late_raise

    def to_dict(self, to_wall: Callable[[float], float]) -> dict[str, Any]:
        """The window, the count and the held raises, to survive a restart (times on the wall clock)."""
        return {
            "raised": [to_wall(t) for t in self._raised],
            "held": self.held,
            "held_raises": [e.model_dump(mode="json", by_alias=True) for e in self._held_raises.values()],
        }

    def resume(self, saved: dict[str, Any], from_wall: Callable[[float], float]) -> None:
        """Take back what :meth:`to_dict` gave (held raises also as the older mapping by key)."""
        self._raised = deque(sorted(from_wall(t) for t in saved.get("raised", [])))
        self._held = saved.get("held", 0)
        held = saved.get("held_raises", [])
        events = (AlarmEvent.model_validate(e) for e in (held.values() if isinstance(held, dict) else held))
        self._held_raises = {e.alarm_key: e for e in events}

    def release(self, still_active: Callable[[str], bool]) -> list[AlarmEvent]:
        """At the end of a flood: the held raises of alarms still active; the rest stay summarised."""
        released = [event for key, event in self._held_raises.items() if still_active(key)]
        self._held_raises.clear()
        self.version += 1
        return released
