"""Who carries which radio, which radios form a group, and on which bridge each radio was last heard.

Where radios are is the radio alarms' memory (:mod:`gateway.radio.memory`), kept with the alarm state.
"""

from __future__ import annotations

from gateway.config.radios import RadioMember, RadiosConfig


class RadioRegistry:
    """The station's radios from the configuration, and what the bridges learn about them."""

    def __init__(self, config: RadiosConfig) -> None:
        self._members = {radio.upper(): member for radio, member in config.registry.items()}
        self._groups = {name: [r.upper() for r in radios] for name, radios in config.groups.items()}
        self.last_bridge: dict[str, str] = {}  # where each radio was last heard: answers go there

    def member(self, radio: str) -> RadioMember | None:
        return self._members.get(radio.upper())

    def group(self, name: str | None) -> list[str] | None:
        """The radios of group ``name``; ``None`` or ``all``: every registered radio."""
        if name is None or (name == "all" and "all" not in self._groups):
            return list(self._members)
        return self._groups.get(name)

    def heard(self, radio: str, bridge: str) -> None:
        self.last_bridge[radio.upper()] = bridge
