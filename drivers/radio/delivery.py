"""Sending a message until the radio acknowledges it, on a decaying schedule.

A handheld in a basement or a car on the move misses packets: an APRS
message goes out again after ``initial`` seconds, then twice as long each
time up to ``maximum`` (each wait jittered, see :mod:`drivers.backoff`),
until it is acknowledged, rejected, or ``attempts`` transmissions are spent.
The outcome is returned, never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from drivers.backoff import Backoff
from drivers.radio.link import LinkDown


class Outcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    GAVE_UP = "gave_up"  # every attempt went out, none was acknowledged
    SENT = "sent"  # a protocol without acknowledgements: it left the gateway
    LINK_DOWN = "link_down"  # not one attempt could be transmitted
    NOT_SUPPORTED = "not_supported"  # the bridge's protocol has no way to send text


@dataclass(frozen=True, slots=True)
class Delivery:
    radio: str
    outcome: Outcome
    attempts: int
    seconds: float
    number: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    backoff: Backoff
    attempts: int = 5


async def deliver(
    radio: str,
    number: str,
    transmit: Callable[[], Awaitable[None]],
    answer: asyncio.Future[bool],
    schedule: RetrySchedule,
) -> Delivery:
    """Transmit until ``answer`` resolves (True: acknowledged, False: rejected) or attempts run out."""
    started = time.monotonic()
    sent = 0
    delays = schedule.backoff.delays()
    for _ in range(schedule.attempts):
        try:
            await transmit()
            sent += 1
        except LinkDown:
            pass
        try:
            # Not wait_for: Python 3.11's drops a cancellation that comes with the answer.
            async with asyncio.timeout(next(delays)):
                acknowledged = await asyncio.shield(answer)
        except TimeoutError:
            continue
        outcome = Outcome.ACKNOWLEDGED if acknowledged else Outcome.REJECTED
        return Delivery(radio, outcome, sent, time.monotonic() - started, number)
    outcome = Outcome.GAVE_UP if sent else Outcome.LINK_DOWN
    return Delivery(radio, outcome, sent, time.monotonic() - started, number)
