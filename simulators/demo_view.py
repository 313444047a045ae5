"""What ``outpost demo`` shows of the district platform: one line per message, as a duty officer reads it.

Every line of the demo has the same shape, ``HH:MM:SS source  text``, in the
station's time zone: the platform's lines (:func:`platform_view`), the
simulator's and the gateway's log. The outbox sends alarms before status
and telemetry, so the platform receives messages out of ``seq`` order;
:class:`InSeqOrder` holds a line briefly for the ones before it, so that the
story reads in the order it happened.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable
from datetime import datetime, tzinfo

from gateway.contract.decode import Unknown, decode
from gateway.contract.events import AlarmEvent, Transition
from gateway.i18n import Translator
from gateway.operator.describe import describe, is_protocol
from gateway.operator.mqtt import broker_settings, connect


def clock(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M:%S")


def say(source: str, text: str, zone: tzinfo, at: datetime | None = None) -> None:
    """One line of the demo: the station's time, who speaks, what."""
    print(f"{clock(at or datetime.now(zone), zone)} {source:<9} {text}", flush=True)


class StationClockFormatter(logging.Formatter):
    """The gateway's log lines in the demo's shape: the station's time, ``gateway``, the message."""

    def __init__(self, zone: tzinfo) -> None:
        super().__init__()
        self._zone = zone

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, self._zone)
        return f"{clock(at, self._zone)} {'gateway':<9} {record.getMessage()}"


class InSeqOrder:
    """Lines released in ``seq`` order; each waits at most ``hold`` seconds for the ones before it.

    A line whose ``seq`` comes right after the last released one goes at once;
    one older than that (a late, historical message) goes at once too.
    """

    def __init__(self, emit: Callable[[str], None], hold: float = 1.0) -> None:
        self._emit = emit
        self._hold = hold
        self._waiting: list[tuple[int, float, str]] = []
        self._last: int | None = None

    def add(self, seq: int, line: str) -> None:
        loop = asyncio.get_running_loop()
        if self._last is not None and seq <= self._last:
            self._emit(line)
            return
        heapq.heappush(self._waiting, (seq, loop.time(), line))
        loop.call_later(self._hold, self._release)
        self._release()

    def flush(self) -> None:
        """Release every line still waiting, in order: the view is ending."""
        self._release(everything=True)

    def _release(self, everything: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        while self._waiting:
            seq, since, line = self._waiting[0]
            next_one = self._last is not None and seq == self._last + 1
            if not (everything or next_one) and now - since < self._hold - 0.01:  # 0.01: timer resolution
                return
            heapq.heappop(self._waiting)
            self._last = seq
            self._emit(line)


async def platform_view(
    url: str,
    prefix: str,
    t: Translator,
    zone: tzinfo,
    *,
    ready: asyncio.Event,
    cleared: Callable[[AlarmEvent], None],
) -> None:
    """Subscribe as the platform and print what arrives; ``cleared`` hears each alarm that cleared."""
    order = InSeqOrder(lambda line: print(line, flush=True))
    try:
        await _view(url, prefix, t, zone, order, ready=ready, cleared=cleared)
    finally:
        order.flush()


async def _view(
    url: str,
    prefix: str,
    t: Translator,
    zone: tzinfo,
    order: InSeqOrder,
    *,
    ready: asyncio.Event,
    cleared: Callable[[AlarmEvent], None],
) -> None:
    async with connect(broker_settings(url, "mqtt311")) as client:
        await client.subscribe(f"{prefix}/#", qos=1)
        ready.set()
        async for message in client.messages:
            payload = decode(
                bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
            )
            where = str(message.topic).removeprefix(prefix + "/")
            if is_protocol(where, payload):
                continue
            if isinstance(payload, Unknown):
                say("platform", describe(where, payload, t), zone)
                continue
            if isinstance(payload, AlarmEvent) and payload.transition == Transition.CLEARED:
                cleared(payload)
            order.add(
                payload.seq,
                f"{clock(payload.created_at, zone)} {'platform':<9} {describe(where, payload, t)}",
            )
