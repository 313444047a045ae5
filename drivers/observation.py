"""What a driver hands upward: readings and the faults that stopped them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from drivers.rejections import RejectionLog


class FaultCategory(StrEnum):
    """Why a poll failed; decides whether the device is ``offline`` or in ``fault``."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    EXCEPTION = "exception"
    DECODE = "decode"

    @property
    def is_communication_loss(self) -> bool:
        """Timeouts and lost connections mean nothing is heard from the device."""
        return self in (FaultCategory.TIMEOUT, FaultCategory.CONNECTION)


@dataclass(frozen=True, slots=True)
class Observation:
    """One value read from one point of one device."""

    device: str
    point: str
    value: float | bool
    unit: str | None
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceFault:
    """A poll that did not produce readings, with a reason a technician can act on."""

    category: FaultCategory
    reason: str


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """Everything one poll of one device produced.

    A poll reads all of the device's points, or, where routine points are read
    less often than urgent ones, either group; a consumer must treat a point
    missing from an outcome as "not read this time", never as "gone".
    Exactly one of ``observations`` or ``fault`` is meaningful. A poll that
    answered may carry ``degraded``: some of the device's reads fail while
    others answer (the reason names the failing blocks); its observations may
    then be empty.
    ``received_monotonic`` is when the answer (or the failure) arrived, so the
    gateway can measure its own share of the alarm latency.
    """

    device: str
    observed_at: datetime
    received_monotonic: float
    observations: tuple[Observation, ...] = field(default=())
    fault: DeviceFault | None = None
    degraded: DeviceFault | None = None
    busy_seconds: float = 0.0  # how long the poll kept the bus busy (for utilisation)

    @property
    def ok(self) -> bool:
        return self.fault is None

    @classmethod
    def failed(cls, device: str, fault: DeviceFault) -> PollOutcome:
        """A poll of ``device`` that ended in ``fault``, stamped now."""
        return cls(device, datetime.now(UTC), time.monotonic(), fault=fault)


Emit = Callable[[PollOutcome], Awaitable[None]]


class BusPoller(Protocol):
    """One task per bus: polls its devices forever and hands every outcome to ``emit``.

    ``rejections`` holds the frames it refused, by device and reason.
    """

    rejections: RejectionLog

    async def run(self, emit: Emit) -> None: ...
