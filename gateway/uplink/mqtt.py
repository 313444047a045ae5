"""The MQTT session to the district platform (aiomqtt on paho-mqtt).

On every connect: the retained station state (birth with boot counter and
device list, the active-alarm snapshot) goes out first; the broker holds a
retained ``offline`` Last Will for the moment the link dies. Then the outbox
drains (:mod:`gateway.uplink.drain`), each message handed to the client the
moment it is committed, a window of them in flight. A message leaves the outbox only
after the broker's PUBACK, so a connection lost mid-publish re-sends it on
the next connect (at-least-once; the platform dedupes on ``id``). Messages
made in an earlier boot, or that waited too long, are marked ``historical``
as they leave (:mod:`gateway.uplink.freshness`).

MQTT 5 with a persistent session is preferred; a broker that refuses
protocol 5 (its CONNACK says so, or it leaves a CONNECT unanswered that TLS
did not fail) is spoken to in 3.1.1 from then on. Over TLS, before that
conclusion, a handshake without MQTT asks whether the broker refuses the
station's certificate (:mod:`gateway.uplink.tls_verdict`): paho may see only the
closed connection, not the alert.

What the broker says goes to the log as a reason a person can act on: the TLS
alert of a broker that refused the client certificate (paho only logs it),
and a second client with this station's client id taking the session over
(MQTT 5 reason 0x8E, or on 3.1.1 sessions closed again right after they
started). A clean stop (:meth:`MqttUplink.sign_off`) leaves ``offline``
retained, with the reason, before the DISCONNECT.

An alarm or a fault the broker refuses (an MQTT 5 PUBACK with a failure reason,
such as an ACL's "Not authorized") stays in the outbox and is said in the log
and in ``/healthz`` until a message gets through; the session is made again
with a growing backoff. Refused telemetry, status and reports are let go,
counted and said once per topic and reason (:mod:`gateway.uplink.drain`).

Commands come from the network: nothing a command does can end the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drivers.backoff import Backoff
from drivers.shown import shown
from gateway.config.models import MqttConfig
from gateway.outbox import Message, Outbox
from gateway.uplink.broker import BrokerAddress, credentials
from gateway.uplink.drain import Drain, PublishRefused
from gateway.uplink.early_close import fail_on_early_close
from gateway.uplink.freshness import Freshness
from gateway.uplink.prompt_write import write_promptly
from gateway.uplink.receive_maximum import follow_receive_maximum
from gateway.uplink.tls_verdict import tls_refusal

log = logging.getLogger(__name__)

SESSION_EXPIRY = 7 * 24 * 3600  # the broker keeps our subscriptions and QoS 1 state this long
SIGN_OFF_TIMEOUT = 2.0  # seconds the broker has to acknowledge the retained offline status
SESSION_TAKEN_OVER = 0x8E
SHORT_SESSION = 5.0  # seconds: a session the broker ends this soon, again and again, was taken over
SHORT_SESSIONS = 3  # ...this many times in a row (MQTT 3.1.1 gives no reason)
UNSUPPORTED_PROTOCOL = (1, 0x84)  # CONNACK codes: 3.1.1 "unacceptable protocol", 5 "unsupported"


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
        station: str,
        outbox: Outbox,
        freshness: Freshness,
        retained_state: Callable[[], list[Message]],
        will: Callable[[], Message],
        command_topic: str,
        on_command: CommandHandler | None = None,
        window: int = 64,
    ) -> None:
        self._config = config
        self._client_id = client_id
        self._station = station
        self._outbox = outbox
        self._freshness = freshness
        self._retained_state = retained_state
        self._will = will
        self._command_topic = command_topic
        self._on_command = on_command
        self._window = window
        self._brokers = [BrokerAddress.parse(url) for url in config.brokers]
        # Brokers spoken to in 3.1.1: configured so, or found not to answer protocol 5.
        self._v311: set[BrokerAddress] = {b for b in self._brokers if config.protocol == "mqtt311"}
        self._confirmed: set[BrokerAddress] = set()  # brokers we have had a session with
        self._client: aiomqtt.Client | None = None
        self.connected = False
        self.connects = 0
        self.published = 0
        self.refused = 0  # telemetry, status and report messages the broker refused, let go
        self._refusals_said: set[str] = set()
        self.last_publish_monotonic: float | None = None
        self.last_error: str | None = None
        self._drain_now: Drain | None = None  # the session's drain, while there is one
        self._paho_log = _PahoLog(logging.getLogger(f"{__name__}.paho"))
        self._delivered = asyncio.Event()  # set after each acknowledged publish from the outbox
        self._short_sessions = 0
        self._taken_over_said = False
        self._refusing = False  # the last session ended with a publish the broker refused
        self._window_in_force = lambda: window  # the session's window: the broker may allow fewer

    @property
    def waiting_since(self) -> float | None:
        """Publishes are in flight, unacknowledged, since then (monotonic; reset at each PUBACK)."""
        return None if self._drain_now is None else self._drain_now.waiting_since

    async def run(self) -> None:
        """Connect, publish, reconnect: forever, until cancelled."""
        backoff = Backoff(0.5, self._config.reconnect_max)
        delays = backoff.delays()
        attempt = 0
        while True:
            broker = self._brokers[attempt % len(self._brokers)]
            attempt += 1
            self._paho_log.first_error = None
            started = time.monotonic()
            taken_over = refused = False
            try:
                await self._session(broker)
            except PublishRefused as exc:
                # The broker is there and answers; it will not take a message. The message
                # stays in the outbox, and the backoff keeps growing while the broker refuses.
                refused = self._refusing = True
                await self._note_failure(broker, exc)
            except aiomqtt.MqttError as exc:
                _stop_if_cancelled(exc)
                taken_over = self._taken_over(broker, exc, time.monotonic() - started)
                if not taken_over:
                    await self._note_failure(broker, exc)
            finally:
                self._client = None
                self._outbox.return_in_flight()
            if self.connected:
                self.connected = False
                if not refused:
                    delays = backoff.delays()
                if not (taken_over or refused):
                    log.warning("MQTT connection to %s lost; reconnecting", broker)
            await asyncio.sleep(next(delays))

    def _taken_over(self, broker: BrokerAddress, exc: aiomqtt.MqttError, lasted: float) -> bool:
        """Whether another client with our id took the session; said once per episode, naming the id.

        MQTT 5 brokers give the reason (0x8E). On 3.1.1 the sign is a session closed
        again within seconds of starting, several times in a row.
        """
        if not self.connected:
            return False
        self._short_sessions = self._short_sessions + 1 if lasted < SHORT_SESSION else 0
        said_so = _code(exc) == SESSION_TAKEN_OVER
        if not said_so and self._short_sessions < SHORT_SESSIONS:
            if self._short_sessions == 0:
                self._taken_over_said = False  # a session that lasted: the episode is over
            return False
        if not self._taken_over_said:
            how = (
                "the broker says session taken over (0x8E)"
                if said_so
                else (
                    f"the broker closed {self._short_sessions} sessions in a row within seconds of starting"
                )
            )
            log.error(
                "MQTT %s: another client connects with this station's client id %r (%s): "
                "two gateways configured with station id %r? Each takes the session from the other",
                broker,
                self._client_id,
                how,
                self._station,
            )
            self._taken_over_said = True
        return True

    async def _note_failure(self, broker: BrokerAddress, exc: aiomqtt.MqttError) -> None:
        paho_error = self._paho_log.first_error
        if (
            self._config.protocol == "mqtt5"
            and broker not in self._confirmed
            and not self.connected
            and _refuses_protocol(exc, paho_error)
        ):
            refusal = await self._tls_refusal(broker)
            if refusal is not None:
                paho_error = refusal  # the certificate, not the protocol: stay with 5
            elif broker in self._v311:
                self._v311.discard(broker)  # refused in 3.1.1 too: back to 5
            else:
                # The broker refuses protocol 5: speak 3.1.1 to it from now on.
                self._v311.add(broker)
                log.warning(
                    "MQTT %s did not accept protocol 5 (%s); trying 3.1.1", broker, _explain(exc, paho_error)
                )
                return
        error = _explain(exc, paho_error)
        if error != self.last_error:  # one line per distinct problem, not a log flood
            log.error("MQTT %s: %s; retrying with backoff", broker, error)
            self.last_error = error

    async def _tls_refusal(self, broker: BrokerAddress) -> str | None:
        """The broker's TLS alert to this station's certificate, asked for on its own (TLS only)."""
        context = credentials(self._config, broker).tls_context
        if context is None:
            return None
        return await asyncio.to_thread(tls_refusal, broker.host, broker.port, context)

    async def _session(self, broker: BrokerAddress) -> None:
        will = self._will()
        mqtt_will = aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain)
        async with _disconnect_promptly(self._connect(broker, mqtt_will)) as client:
            self._client = client
            self.connected = True
            self.connects += 1
            if not self._refusing:  # a refusal is still the news until a message gets through
                self.last_error = None
            self._paho_log.first_error = None  # what paho said while connecting is no longer the cause
            self._confirmed.add(broker)
            version = "3.1.1" if broker in self._v311 else "5"
            for message in self._retained_state():
                await client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
            await client.subscribe(self._command_topic, qos=1)
            # Said once the birth is out and the command topic subscribed: from this line on,
            # a command sent to the station is heard.
            log.info("MQTT connected to %s as %s (protocol %s)", broker, self._client_id, version)
            await _first_failure(self._drain(client), self._listen(client))

    def _connect(self, broker: BrokerAddress, will: aiomqtt.Will) -> aiomqtt.Client:
        config = self._config
        v5 = broker not in self._v311
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY
        login = credentials(config, broker)
        client = aiomqtt.Client(
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
            logger=self._paho_log,  # type: ignore[arg-type]  # paho only calls .log() and friends
            max_inflight_messages=self._window,
            timeout=10,
            # An alarm is one small publish: Nagle's algorithm would hold it back
            # behind the PUBACK of the one before (about 40 ms with delayed ACKs).
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )
        # The drain's publishes bypass aiomqtt; what it counts are the direct ones (a snapshot
        # per alarm, command answers): a burst of alarms is no warning worth a line per publish.
        client.pending_calls_threshold = self._window
        write_promptly(client)
        fail_on_early_close(client)
        self._window_in_force = follow_receive_maximum(client, self._window)
        return client

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Hand the outbox's messages to ``client`` as they are committed, until the session fails."""
        self._drain_now = Drain(
            client,
            self._outbox,
            self._freshness,
            self._window_in_force(),
            delivered=self._acknowledged,
            let_go=self._let_go,
        )
        try:
            await self._drain_now.run()
        finally:
            self._drain_now = None

    def _acknowledged(self) -> None:
        """A message from the outbox is acknowledged by the broker."""
        self.published += 1
        self.last_publish_monotonic = time.monotonic()
        if self._refusing:
            self._refusing = False
            self.last_error = None
        self._delivered.set()

    def _let_go(self, refusal: PublishRefused) -> None:
        """A telemetry, status or report message the broker refused: counted, said once per reason."""
        self.refused += 1
        said = str(refusal)
        if said not in self._refusals_said:
            self._refusals_said.add(said)
            log.error("MQTT: %s; such messages are let go, alarms and faults are kept", said)

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

    async def reply(self, topic: str, payload: bytes, correlation_data: bytes | None = None) -> bool:
        """Answer a command on ``topic``, with its MQTT 5 correlation data if it gave any."""
        client = self._client
        if client is None:
            return False
        properties = None
        if correlation_data is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.CorrelationData = correlation_data
        try:
            await client.publish(topic, payload, qos=1, properties=properties)
        except (aiomqtt.MqttError, ValueError) as exc:  # ValueError: paho refuses the topic
            log.warning("MQTT: no answer sent to %s: %s", shown(topic), exc)
            return False
        return True

    async def sign_off(self, offline: Message, *, flush_within: float) -> None:
        """A clean stop: deliver what the outbox can within ``flush_within`` seconds, then publish
        ``offline`` (retained) and wait for the broker's acknowledgement, at most
        :data:`SIGN_OFF_TIMEOUT`. What is left stays in the outbox for the next start."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_within):
                while len(self._outbox) and self._client is not None:
                    self._delivered.clear()
                    await self._delivered.wait()
        if left := len(self._outbox):
            log.warning("stopping with %d message(s) undelivered; they go out after the next start", left)
        client = self._client
        if client is None:
            log.warning("stopping while disconnected: the broker keeps the last status it has")
            return
        try:
            async with asyncio.timeout(SIGN_OFF_TIMEOUT):
                await client.publish(offline.topic, offline.payload, qos=offline.qos, retain=True)
        except (TimeoutError, aiomqtt.MqttError) as exc:
            log.warning("MQTT: the offline status was not acknowledged (%s)", str(exc) or "timed out")
            return
        log.info("MQTT: station status offline (stopped) published")

    async def _listen(self, client: aiomqtt.Client) -> None:
        """Reads the command topics; also how a dead connection is noticed while idle.

        A command that breaks its handler is logged and dropped: the session goes on.
        """
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
            try:
                await self._on_command(incoming)
            except Exception:
                log.exception("MQTT: handling a message on %s failed", shown(incoming.topic))


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


class _PahoLog(logging.LoggerAdapter):
    """paho's log lines, passed on, the first warning or error of an attempt kept: a TLS
    alert is only said there.

    The broker's alert arrives after the client's side of the TLS 1.3 handshake
    is done; paho logs it and aiomqtt's connect reports only that the connection
    closed (:mod:`gateway.uplink.early_close`). The first
    line is the cause; the ones after it ("Client is not connected") follow from it.
    """

    first_error: str | None = None

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level >= logging.WARNING:
            if self.first_error is None:
                self.first_error = str(msg) % args if args else str(msg)
        elif not self.logger.isEnabledFor(level):
            return  # paho says two debug lines per message: dropped here, at the least cost
        super().log(level, msg, *args, **kwargs)


def _code(exc: aiomqtt.MqttError) -> int | None:
    """The CONNACK or DISCONNECT reason code of ``exc``, if the broker gave one."""
    if isinstance(exc, aiomqtt.MqttCodeError) and exc.rc is not None:
        rc = exc.rc
        return rc if isinstance(rc, int) else int(rc.value)
    return None


def _refuses_protocol(exc: aiomqtt.MqttError, paho_error: str | None) -> bool:
    """The broker refuses protocol 5: its CONNACK says so, or (some 3.1.1-only brokers) it
    never answers the CONNECT or drops it. Not when TLS failed: that is no answer about MQTT."""
    code = _code(exc)
    if code is not None:
        return code in UNSUPPORTED_PROTOCOL
    if paho_error is not None and ("SSL" in paho_error or "alert" in paho_error):
        return False
    text = str(exc).lower()
    return "timed out" in text or "closed" in text or "reset" in text


def _explain(exc: aiomqtt.MqttError, paho_error: str | None = None) -> str:
    """The reason a person can act on, from paho's codes, ssl's messages and paho's log."""
    if isinstance(exc, aiomqtt.MqttCodeError) and exc.rc is not None:
        rc = exc.rc
        if isinstance(rc, int):
            return f"{paho.connack_string(rc)} (code {rc})"
        return f"{rc} (code {getattr(rc, 'value', rc)})"
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"the broker's TLS certificate does not verify against the configured CA ({text})"
    alert = re.search(r"alert ([a-z ]+)", paho_error or "")
    if alert is None:
        return text
    name = alert.group(1).strip()
    said = f"the broker ended the TLS handshake with the alert {name!r}"
    if "certificate" in name or name in ("unknown ca", "access denied"):
        said += ": it does not accept this station's client certificate (mqtt.tls.cert_file)"
    return f"{said} ({paho_error})"
