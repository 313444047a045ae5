"""The MQTT session to the district platform (aiomqtt on paho-mqtt).

On every connect: the retained birth on ``{prefix}/status`` (the broker holds
a retained ``offline`` Last Will for the moment the link dies), then the queue
drains in order. A message leaves the queue only after the broker's PUBACK,
so a connection lost mid-publish re-sends it on the next connect
(at-least-once; the platform dedupes on ``id``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiomqtt
import paho.mqtt.client as paho

from gateway.config.models import MqttConfig
from gateway.events import StationStatusEvent
from gateway.uplink.queue import EventQueue
from gateway.uplink.topics import status_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Broker:
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname or "localhost", parts.port or (8883 if tls else 1883), tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class MqttUplink:
    """Keeps one session to the first broker that answers; drains the queue into it."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        prefix: str,
        client_id: str,
        queue: EventQueue,
        birth: Callable[[], StationStatusEvent],
        will: Callable[[], StationStatusEvent],
    ) -> None:
        self._config = config
        self._prefix = prefix
        self._client_id = client_id
        self._queue = queue
        self._birth = birth
        self._will = will
        self._brokers = [Broker.parse(url) for url in config.brokers]
        self.connected = False
        self.connects = 0
        self.last_publish_monotonic: float | None = None

    async def run(self) -> None:
        """Connect, publish, reconnect: forever, until cancelled."""
        delay = 0.5
        last_error = ""
        attempt = 0
        while True:
            broker = self._brokers[attempt % len(self._brokers)]
            attempt += 1
            try:
                await self._session(broker)
            except aiomqtt.MqttError as exc:
                error = _explain(exc)
                if error != last_error:  # one line per distinct problem, not a log flood
                    log.error("MQTT %s: %s; retrying with backoff", broker, error)
                    last_error = error
            if self.connected:
                delay, last_error = 0.5, ""
                self.connected = False
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._config.reconnect_max)

    async def _session(self, broker: Broker) -> None:
        will = aiomqtt.Will(status_topic(self._prefix), self._will().to_json(), qos=1, retain=True)
        async with self._client(broker, will) as client:
            self.connected = True
            self.connects += 1
            log.info("MQTT connected to %s as %s", broker, self._client_id)
            await client.publish(
                status_topic(self._prefix), self._birth().to_json(), qos=1, retain=True
            )
            await client.subscribe(f"{self._prefix}/cmd/+", qos=1)
            await _first_failure(self._drain(client), self._listen(client))

    def _client(self, broker: Broker, will: aiomqtt.Will) -> aiomqtt.Client:
        config = self._config
        tls_params = None
        if broker.tls or config.tls is not None:
            tls = config.tls
            tls_params = aiomqtt.TLSParameters(
                ca_certs=str(tls.ca_file) if tls and tls.ca_file else None,
                certfile=str(tls.cert_file) if tls and tls.cert_file else None,
                keyfile=str(tls.key_file) if tls and tls.key_file else None,
            )
        v5 = config.protocol == "mqtt5"
        return aiomqtt.Client(
            broker.host,
            broker.port,
            identifier=self._client_id,
            username=config.username,
            password=config.password(),
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            clean_session=None if v5 else False,
            will=will,
            keepalive=config.keepalive,
            tls_params=tls_params,
            timeout=10,
        )

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            message = await self._queue.next()
            await client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
            await self._queue.done(message)
            self.last_publish_monotonic = time.monotonic()

    async def _listen(self, client: aiomqtt.Client) -> None:
        """Reads the command topics; also how a dead connection is noticed while idle."""
        async for message in client.messages:
            log.info("command on %s ignored: downlink commands are not enabled", message.topic)


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


def _explain(exc: aiomqtt.MqttError) -> str:
    """The reason a person can act on, from paho's codes."""
    if isinstance(exc, aiomqtt.MqttCodeError) and exc.rc is not None:
        rc = exc.rc
        if isinstance(rc, int):
            return f"{paho.connack_string(rc)} (code {rc})"
        return f"{rc} (code {getattr(rc, 'value', rc)})"
    return str(exc) or type(exc).__name__
