"""The gateway's own storage as an alarm: raised while the disk refuses writes, cleared when it takes them.

A full, failing or read-only ``state_dir`` never stops the gateway: events are
held in memory and still delivered. But what is held is lost to a crash or a
power cut, so the station must say so out loud, to the platform as a fault
alarm (``<station>.gateway.storage``) and on ``/healthz``.
"""

from __future__ import annotations

import time

from gateway.alarms.conditions import DEVICE_CONDITION, NORMAL_CONDITION
from gateway.alarms.engine import AlarmEngine
from gateway.contract.events import AlarmSource, Envelope, utc_now
from gateway.contract.levels import Grade

GATEWAY_DEVICE = "gateway"
STORAGE_ALARM = "storage"


def storage_fault(engine: AlarmEngine, location: str, error: str | None) -> list[Envelope]:
    """The events of the storage alarm now that the disk refuses writes (``error``) or takes them (None)."""
    text = engine.t("alarm.storage_fault", error=error) if error else engine.t("alarm.storage_ok")
    return engine.external(
        GATEWAY_DEVICE,
        STORAGE_ALARM,
        kind="device_fault",
        grade=Grade.FAULT if error else None,
        condition=DEVICE_CONDITION if error else NORMAL_CONDITION,
        text=text,
        source=AlarmSource(device=GATEWAY_DEVICE, point=None, bus="", profile="", location=location),
        observed_at=utc_now(),
        now=time.monotonic(),
    )
