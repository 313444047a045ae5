"""Confirmation: detectors of one zone agreeing make a confirmed life-safety alarm.

Two smoke detectors in one corridor, or a gas detector and a smoke detector
in one kitchen, are far less likely to be wrong together than either alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config.alarm_policy import Zone
from gateway.contract.levels import Grade


def confirming_devices(zone: Zone, alarmed: Mapping[str, Grade]) -> list[str]:
    """The zone's devices whose own alarms are active at first stage or above."""
    return [d for d in zone.devices if (g := alarmed.get(d)) is not None and g.rank >= Grade.FIRST_STAGE.rank]


def confirmed(zone: Zone, alarmed: Mapping[str, Grade]) -> bool:
    return len(confirming_devices(zone, alarmed)) >= zone.confirm
