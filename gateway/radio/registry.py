"""Who carries which radio, which radios form a group, and where each radio was last heard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drivers.radio.position import Position
from gateway.config.radios import RadioMember, RadiosConfig
from gateway.contract.events import RadioPosition


@dataclass(frozen=True, slots=True)
class Fix:
    position: Position
    at: datetime


class RadioRegistry:
    """The station's radios from the configuration, and what the bridges learn about them."""

    def __init__(self, config: RadiosConfig) -> None:
        self._members = {radio.upper(): member for radio, member in config.registry.items()}
        self._groups = {name: [r.upper() for r in radios] for name, radios in config.groups.items()}
        self._fixes: dict[str, Fix] = {}
        self.last_bridge: dict[str, str] = {}  # where each radio was last heard: answers go there

    def member(self, radio: str) -> RadioMember | None:
        return self._members.get(radio.upper())

    def group(self, name: str | None) -> list[str] | None:
        """The radios of group ``name``; ``None`` or ``all``: every registered radio."""
        if name is None or (name == "all" and "all" not in self._groups):
            return list(self._members)
        return self._groups.get(name)

    def heard(self, radio: str, bridge: str, position: Position | None, at: datetime) -> None:
        self.last_bridge[radio.upper()] = bridge
        if position is not None:
            self._fixes[radio.upper()] = Fix(position, at)

    def position(self, radio: str, now: datetime) -> RadioPosition | None:
        """The radio's last known position and its age now, if it ever sent one."""
        fix = self._fixes.get(radio.upper())
        if fix is None:
            return None
        return RadioPosition(
            lat=fix.position.lat,
            lon=fix.position.lon,
            at=fix.at,
            age_s=round((now - fix.at).total_seconds(), 1),
            speed_kmh=fix.position.speed_kmh,
            course=fix.position.course,
        )
