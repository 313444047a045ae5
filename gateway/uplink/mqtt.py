"""The MQTT session to the district platform (aiomqtt on paho-mqtt).

On every connect: the retained station state (birth with boot counter and
device list, the active-alarm snapshot) goes out first; the broker holds a
retained ``offline`` Last Will for the moment the link dies. Then the outbox
drains, a window of messages at a time. A message leaves the outbox only
after the broker's PUBACK, so a connection lost mid-publish re-sends it on
the next connect (at-least-once; the platform dedupes on ``id``). Messages
queued before the current session started are marked ``historical``.

MQTT 5 with a persistent session is preferred; a broker that refuses
protocol 5 is spoken to in 3.1.1 from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config.models import MqttConfig
from gateway.outbox import Message, Outbox, Queued
from gateway.uplink.broker import Broker, credentials

log = logging.getLogger(__name__)

SESSION_EXPIRY = 7 * 24 * 3600  # the broker keeps our subscriptions and QoS 1 state this long


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message on one of the command topics, with its MQTT 5 reply routing if any."""

    topic: str
    payload: bytes
    response_topic: str | None
    correlation_data: bytes | None


CommandHandler = Callable[[Incoming], Awaitable[None]]


class MqttUplink:
    """Keeps one session to the first broker that answers and drains the outbox into it."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        outbox: Outbox,
        retained_state: Callable[[], list[Message]],
        will: Callable[[], Message],
        command_topic: str,
        on_command: CommandHandler | None = None,
        window: int = 64,
    ) -> None:
        self._config = config
        self._client_id = client_id
        self._outbox = outbox
        self._retained_state = retained_state
        self._will = will
        self._command_topic = command_topic
        self._on_command = on_command
        self._window = window
        self._brokers = [Broker.parse(url) for url in config.brokers]
        # Brokers spoken to in 3.1.1: configured so, or found not to answer protocol 5.
        self._v311: set[Broker] = {b for b in self._brokers if config.protocol == "mqtt311"}
        self._confirmed: set[Broker] = set()  # brokers we have had a session with
        self._client: aiomqtt.Client | None = None
        self.connected = False
        self.connects = 0
        self.published = 0
        self.last_publish_monotonic: float | None = None
        self.last_error: str | None = None
        self.waiting_since: float | None = None  # a batch is in flight, unacknowledged, since then

    async def run(self) -> None:
        """Connect, publish, reconnect: forever, until cancelled."""
        delay = 0.5
        attempt = 0
        while True:
            broker = self._brokers[attempt % len(self._brokers)]
            attempt += 1
            try:
                await self._session(broker)
            except aiomqtt.MqttError as exc:
                _stop_if_cancelled(exc)
                self._note_failure(broker, exc)
            finally:
                self._client = None
                self._outbox.return_in_flight()
            if self.connected:
                delay = 0.5
                self.connected = False
                log.warning("MQTT connection to %s lost; reconnecting", broker)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._config.reconnect_max)

    def _note_failure(self, broker: Broker, exc: aiomqtt.MqttError) -> None:
        error = _explain(exc)
        if (
            self._config.protocol == "mqtt5"
            and broker not in self._confirmed
            and not self.connected
            and _may_be_protocol_refusal(exc)
        ):
            # A 3.1.1-only broker may refuse protocol 5, or just never answer it:
            # alternate until one version gets a session, then keep that one.
            if broker in self._v311:
                self._v311.discard(broker)
            else:
                self._v311.add(broker)
                log.warning("MQTT %s did not accept protocol 5 (%s); trying 3.1.1", broker, error)
                return
        if error != self.last_error:  # one line per distinct problem, not a log flood
            log.error("MQTT %s: %s; retrying with backoff", broker, error)
            self.last_error = error

    async def _session(self, broker: Broker) -> None:
        will = self._will()
        mqtt_will = aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain)
        async with _disconnect_promptly(self._connect(broker, mqtt_will)) as client:
            started = time.time()
            self._client = client
            self.connected = True
            self.connects += 1
            self.last_error = None
            self._confirmed.add(broker)
            version = "3.1.1" if broker in self._v311 else "5"
            log.info("MQTT connected to %s as %s (protocol %s)", broker, self._client_id, version)
            for message in self._retained_state():
                await client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
            await client.subscribe(self._command_topic, qos=1)
            await _first_failure(self._drain(client, started), self._listen(client))

    def _connect(self, broker: Broker, will: aiomqtt.Will) -> aiomqtt.Client:
        config = self._config
        v5 = broker not in self._v311
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY
        login = credentials(config, broker)
        return aiomqtt.Client(
            broker.host,
            broker.port,
            identifier=self._client_id,
            username=login.username,
            password=login.password,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            clean_session=None if v5 else False,
            clean_start=False if v5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
            will=will,
            keepalive=config.keepalive,
            tls_context=login.tls_context,
            max_inflight_messages=self._window,
            timeout=10,
            # An alarm is one small publish: Nagle's algorithm would hold it back
            # behind the PUBACK of the one before (about 40 ms with delayed ACKs).
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )

    async def _drain(self, client: aiomqtt.Client, session_started: float) -> None:
        while True:
            batch = await self._outbox.take(self._window)
            self.waiting_since = time.monotonic()
            try:
                # paho sends in call order, so the window keeps the outbox order on the wire.
                await asyncio.gather(*(self._publish(client, queued, session_started) for queued in batch))
            finally:
                self.waiting_since = None

    async def _publish(self, client: aiomqtt.Client, queued: Queued, session_started: float) -> None:
        message = queued.message
        payload = message.payload
        if queued.queued_at < session_started:
            payload = _mark_historical(payload)
        await client.publish(message.topic, payload, qos=message.qos, retain=message.retain)
        self._outbox.done(queued)
        self.published += 1
        self.last_publish_monotonic = time.monotonic()

    async def publish_now(self, message: Message) -> bool:
        """Best-effort direct publish (command results, state snapshots); False if offline."""
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
        except aiomqtt.MqttError:
            return False
        return True

    async def reply(self, incoming: Incoming, default_topic: str, payload: bytes) -> bool:
        """Answer a command where it asked (MQTT 5 response topic) or on ``default_topic``."""
        client = self._client
        if client is None:
            return False
        properties = None
        if incoming.correlation_data is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.CorrelationData = incoming.correlation_data
        topic = incoming.response_topic or default_topic
        try:
            await client.publish(topic, payload, qos=1, properties=properties)
        except aiomqtt.MqttError:
            return False
        return True

    async def _listen(self, client: aiomqtt.Client) -> None:
        """Reads the command topics; also how a dead connection is noticed while idle."""
        async for message in client.messages:
            if self._on_command is None:
                continue
            properties = message.properties
            incoming = Incoming(
                topic=str(message.topic),
                payload=bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b"",
                response_topic=getattr(properties, "ResponseTopic", None) if properties else None,
                correlation_data=getattr(properties, "CorrelationData", None) if properties else None,
            )
            await self._on_command(incoming)


@contextlib.asynccontextmanager
async def _disconnect_promptly(client: aiomqtt.Client, grace: float = 2.0):
    """``async with client``, but never wait more than ``grace`` for a clean DISCONNECT.

    aiomqtt waits for the broker to close the connection without a time limit;
    over TLS that wait was seen to hang, which would stall a systemd stop.
    """
    await client.__aenter__()
    try:
        yield client
    finally:
        with contextlib.suppress(TimeoutError, aiomqtt.MqttError):
            async with asyncio.timeout(grace):
                await client.__aexit__(None, None, None)


def _stop_if_cancelled(exc: BaseException) -> None:
    """aiomqtt may turn a cancellation into an MqttError while disconnecting: honour the cancel."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


def _mark_historical(payload: bytes) -> bytes:
    try:
        body = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(body, dict):
        return payload
    body["historical"] = True
    return json.dumps(body, separators=(",", ":")).encode()


async def _first_failure(*jobs) -> None:
    """Run ``jobs`` until one ends; cancel the rest and raise what ended it."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()
    raise aiomqtt.MqttError("session ended")


def _may_be_protocol_refusal(exc: aiomqtt.MqttError) -> bool:
    """A CONNACK with a reason means the broker speaks the protocol, unless the reason is that."""
    if isinstance(exc, aiomqtt.MqttCodeError) and exc.rc is not None:
        return getattr(exc.rc, "value", exc.rc) in (1, 132)  # 3.1.1 / 5: unsupported protocol version
    text = str(exc).lower()
    return "timed out" in text or "closed" in text or "reset" in text


def _explain(exc: aiomqtt.MqttError) -> str:
    """The reason a person can act on, from paho's codes and ssl's messages."""
    if isinstance(exc, aiomqtt.MqttCodeError) and exc.rc is not None:
        rc = exc.rc
        if isinstance(rc, int):
            return f"{paho.connack_string(rc)} (code {rc})"
        return f"{rc} (code {getattr(rc, 'value', rc)})"
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"the broker's TLS certificate does not verify against the configured CA ({text})"
    return text
