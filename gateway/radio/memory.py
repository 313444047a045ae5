"""What the radio alarms remember across a restart: the last frame of each alarm, where radios were.

Both live as state entries of the alarm engine (``radio/dedupe``,
``radio/positions``), so they are committed in the same transaction as the
events of the step that changed them and come back with the alarms: a copy
of a press heard after a restart is still merged, and an alarm raised then
still says where the radio was. Moments are on the wall clock (a restart
may be a reboot); a frame whose age on it is negative or beyond the window
is never taken for a copy, so a clock step announces a press again rather
than merging it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drivers.radio.position import Position
from gateway.alarms.engine import AlarmEngine
from gateway.contract.events import RadioPosition

DEDUPE_ENTRY = "radio/dedupe"  # "<device>.<alarm>" -> {"fingerprint", "at" (Unix time)}
POSITIONS_ENTRY = "radio/positions"  # radio -> {"lat", "lon", "speed_kmh", "course", "at" (Unix time)}


@dataclass(frozen=True, slots=True)
class Heard:
    """The last frame heard for one alarm."""

    fingerprint: str
    at: float  # Unix time

    def within(self, now: datetime, window: float) -> bool:
        return 0.0 <= now.timestamp() - self.at <= window


class RadioMemory:
    """The radio alarms' memory, read and written through the engine's state entries."""

    def __init__(self, engine: AlarmEngine, window: float) -> None:
        self._engine = engine
        self._window = window

    def _entry(self, name: str) -> dict[str, Any]:
        return dict(self._engine.kept(name) or {})

    def last(self, alarm: str) -> Heard | None:
        """The last frame heard for ``alarm`` (its key), if any."""
        kept = self._entry(DEDUPE_ENTRY).get(alarm)
        return Heard(kept["fingerprint"], kept["at"]) if kept else None

    def heard(self, alarm: str, fingerprint: str, at: datetime) -> None:
        """``alarm``'s latest frame; frames out of every window are dropped from the entry."""
        frames = {
            key: kept
            for key, kept in self._entry(DEDUPE_ENTRY).items()
            if Heard(kept["fingerprint"], kept["at"]).within(at, self._window)
        }
        frames[alarm] = {"fingerprint": fingerprint, "at": at.timestamp()}
        self._engine.keep(DEDUPE_ENTRY, frames)

    def forget(self, alarm: str) -> None:
        """The last frame did not count (its alarm was not stored): its repeat is a new press."""
        frames = self._entry(DEDUPE_ENTRY)
        if frames.pop(alarm, None) is not None:
            self._engine.keep(DEDUPE_ENTRY, frames)

    def fixed(self, radio: str, position: Position, at: datetime, *, store: bool) -> None:
        """Where ``radio`` is; ``store`` commits it now (else with the next step that stores positions)."""
        fixes = self._entry(POSITIONS_ENTRY)
        fixes[radio.upper()] = {
            "lat": position.lat,
            "lon": position.lon,
            "speed_kmh": position.speed_kmh,
            "course": position.course,
            "at": at.timestamp(),
        }
        self._engine.keep(POSITIONS_ENTRY, fixes, store=store)

    def store_positions(self) -> None:
        """Commit every known position with this step (a press: where its radio was matters now)."""
        if (fixes := self._engine.kept(POSITIONS_ENTRY)) is not None:
            self._engine.keep(POSITIONS_ENTRY, fixes)

    def position(self, radio: str, now: datetime) -> RadioPosition | None:
        """The radio's last known position and its age now, if it ever sent one."""
        fix = self._entry(POSITIONS_ENTRY).get(radio.upper())
        if fix is None:
            return None
        at = datetime.fromtimestamp(fix["at"], now.tzinfo)
        return RadioPosition(
            lat=fix["lat"],
            lon=fix["lon"],
            at=at,
            age_s=round((now - at).total_seconds(), 1),
            speed_kmh=fix["speed_kmh"],
            course=fix["course"],
        )
