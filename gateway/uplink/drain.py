"""The outbox's messages onto one MQTT session: handed to paho the moment they are committed.

A publish through aiomqtt is a coroutine per message: the drain task wakes,
takes the message, starts a task, and that task calls paho, each a turn of the
event loop later, behind whatever else is ready (the commit's log line, the
retained snapshot, the next poll). Here the outbox calls :meth:`Drain.fill`
on the commit's own turn and paho gets the message right there; it writes it
at once (:mod:`gateway.uplink.prompt_write`). The broker's PUBACK, seen by
paho's ``on_publish``, deletes it from the outbox and frees its slot in the
window. paho sends in call order, so the wire keeps the outbox's order.

A publish paho refuses, or one unacknowledged for the client's timeout, ends
the session as aiomqtt's own publish would: the outbox gives back what was in
flight and it goes again on the next connect. So does a PUBACK whose MQTT 5
reason code is a failure (0x87 "Not authorized" from a broker whose ACL does
not let the station publish there, 0x97 "Quota exceeded") for an alarm or a
fault: the broker has not taken it, and counting it as delivered would delete
an alarm nobody received. A refused message the outbox would evict for space
(telemetry, status, reports) is let go instead, counted and logged, so that it
does not end session after session ahead of the alarms. (MQTT 3.1.1 has no
such answer: a 3.1.1 broker drops a refused publish silently.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiomqtt
from paho.mqtt import client as paho
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from drivers.shown import shown
from gateway.outbox import Outbox, Queued
from gateway.uplink.freshness import Freshness

NOT_AUTHORIZED = 0x87


class PublishRefused(aiomqtt.MqttError):
    """The broker answered a publish with a failure reason code (an alarm so refused stays in the outbox)."""

    def __init__(self, topic: str, reason: ReasonCode) -> None:
        hint = "; its ACL must let this station publish there" if reason.value == NOT_AUTHORIZED else ""
        super().__init__(
            f"the broker refused the publish to {shown(topic)}: {reason} (0x{reason.value:02X}){hint}"
        )


class Drain:
    """Up to ``window`` outbox messages in flight on ``client``, each sent as soon as it is ready."""

    def __init__(
        self,
        client: aiomqtt.Client,
        outbox: Outbox,
        freshness: Freshness,
        window: int,
        *,
        delivered: Callable[[], None],
        let_go: Callable[[PublishRefused], None],
    ) -> None:
        self._mqtt: paho.Client = client._client  # the one paho client aiomqtt drives
        self._timeout = client.timeout
        self._outbox = outbox
        self._freshness = freshness
        self._window = window
        self._delivered = delivered
        self._let_go = let_go  # told of each refused message let go (telemetry, status, reports)
        self._loop = asyncio.get_running_loop()
        self._in_flight: dict[int, tuple[Queued, float]] = {}  # by paho's message id, oldest first
        self._failed: asyncio.Future[None] = self._loop.create_future()
        self._refill: asyncio.Handle | None = None  # a fill after PUBACKs, on the next turn
        self._deadline: asyncio.TimerHandle | None = None  # when the oldest publish times out
        self.waiting_since: float | None = None  # something unacknowledged since then (monotonic)

    async def run(self) -> None:
        """Drain until the session fails (raises why); the outbox is told of everything ready."""
        aiomqtt_on_publish = self._mqtt.on_publish
        assert aiomqtt_on_publish is not None  # aiomqtt sets it when it builds the client

        def on_publish(
            client: paho.Client, userdata: Any, mid: int, reason: ReasonCode, properties: Properties
        ) -> None:
            if mid not in self._in_flight:  # a publish of aiomqtt's (a snapshot, a reply)
                aiomqtt_on_publish(client, userdata, mid, reason, properties)  # type: ignore[call-arg]  # version 2
            elif reason.is_failure:
                self._refused(mid, reason)
            else:  # ours: aiomqtt waits for no such publish
                self._acknowledged(mid)

        self._mqtt.on_publish = on_publish
        self._outbox.on_ready = self.fill
        try:
            self.fill()
            await self._failed
        finally:
            self._outbox.on_ready = lambda: None
            self._mqtt.on_publish = aiomqtt_on_publish
            for handle in (self._refill, self._deadline):
                if handle is not None:
                    handle.cancel()
            self.waiting_since = None

    def fill(self) -> None:
        """Hand paho what is ready, as far as the window allows; never raises (the session fails)."""
        self._refill = None
        if self._failed.done():
            return
        try:
            room = self._window - len(self._in_flight)
            for queued in self._outbox.take_ready(room) if room > 0 else ():
                self._publish(queued)
        except Exception as exc:  # a refused publish, a broken connection: the session is over
            self._fail(exc)

    def _publish(self, queued: Queued) -> None:
        message = queued.message
        payload = self._freshness.mark(message.payload)
        info = self._mqtt.publish(message.topic, payload, message.qos, message.retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        now = time.monotonic()
        if not self._in_flight:
            self.waiting_since = now
        self._in_flight[info.mid] = (queued, now)
        if info.is_published():  # QoS 0, written already: nothing more to wait for
            self._acknowledged(info.mid)
        elif self._deadline is None:
            self._deadline = self._loop.call_later(self._timeout, self._check_deadline)

    def _acknowledged(self, mid: int) -> None:
        """paho's ``on_publish`` (the PUBACK, inside paho's callback): the broker has it."""
        if self._settle(mid) is not None:
            self._delivered()

    def _refused(self, mid: int, reason: ReasonCode) -> None:
        """The broker did not take a message. An alarm or a fault stays in flight, to be given
        back to the outbox, and the session ends; what the outbox would evict for space is let go,
        so that a broker refusing telemetry does not hold up the alarms behind it."""
        queued = self._in_flight[mid][0]
        refusal = PublishRefused(queued.message.topic, reason)
        if queued.message.priority.protected:
            self._fail(refusal)
        elif self._settle(mid) is not None:
            self._let_go(refusal)

    def _settle(self, mid: int) -> Queued | None:
        """Done with the message in flight as ``mid``: out of the outbox, its slot free for the next."""
        entry = self._in_flight.pop(mid, None)
        if entry is None:
            return None  # settled already (QoS 0: paho said so inside the publish)
        self._outbox.done(entry[0])
        self.waiting_since = time.monotonic() if self._in_flight else None
        if self._refill is None:  # not from inside paho's callback: paho would not write at once
            self._refill = self._loop.call_soon(self.fill)
        return entry[0]

    def _check_deadline(self) -> None:
        self._deadline = None
        if not self._in_flight:
            return
        _, sent = next(iter(self._in_flight.values()))
        left = sent + self._timeout - time.monotonic()
        if left <= 0:
            self._fail(aiomqtt.MqttError("Operation timed out"))
        else:
            self._deadline = self._loop.call_later(left, self._check_deadline)

    def _fail(self, exc: BaseException) -> None:
        if not self._failed.done():
            self._failed.set_exception(exc)
