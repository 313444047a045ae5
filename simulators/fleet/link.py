"""One MQTT connection driven by a shared asyncio loop: paho-mqtt's external-loop API, directly.

A fleet is hundreds or thousands of connections in one process. aiomqtt (which
the gateway uses for its single session) is paho on asyncio too, but three of
its choices get in the way at that scale, so the fleet drives paho itself:

- aiomqtt connects in the loop's default executor (a handful of threads), so a
  reconnect storm of 1 500 stations would be paced by the simulator, not by the
  broker; here connects run in a pool the caller sizes;
- a station whose link dies must vanish without a DISCONNECT, so that the
  broker publishes its Last Will; aiomqtt always disconnects cleanly, ``drop``
  here just closes the socket;
- aiomqtt creates an event and a ``wait_for`` task per QoS 1 publish; here a
  PUBACK is one callback that records the latency, and one ticker keeps every
  connection's keep-alive instead of a task per connection.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.outbox import Message
from gateway.uplink.mqtt import BrokerAddress

OnAck = Callable[[float], None]  # seconds from publish to PUBACK
OnMessage = Callable[[str, bytes, bool], None]  # topic, payload, retained


class LinkError(Exception):
    """The connection failed or was refused."""


class Link:
    """One client connection; every method is called from the loop's thread."""

    def __init__(
        self,
        client_id: str,
        broker: BrokerAddress,
        *,
        will: Message | None = None,
        on_message: OnMessage | None = None,
        inflight: int = 100,
        receive_maximum: int | None = None,
        keepalive: int = 60,
    ) -> None:
        self.client_id = client_id
        self._broker = broker
        self._will = will
        self._on_message = on_message
        self._inflight = inflight
        self._receive_maximum = receive_maximum
        self._keepalive = keepalive
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._client: paho.Client | None = None
        self._pending: dict[int, tuple[float, OnAck | None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._connack: asyncio.Future[None] | None = None
        self._subacks: dict[int, asyncio.Future[None]] = {}
        self.connected = False
        self.abandoned = 0  # published, then the connection ended before their PUBACK
        self.refused = 0  # PUBACK with a failure reason code
        self.lost = asyncio.Event()  # set when the broker or the network ended the connection

    async def open(self, executor: Executor | None = None, timeout: float = 30.0) -> None:
        """Connect (the blocking socket connect runs in ``executor``) and wait for the CONNACK."""
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5)
        client.max_inflight_messages_set(self._inflight)
        if self._will is not None:
            client.will_set(self._will.topic, self._will.payload, self._will.qos, self._will.retain)
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_publish = self._published
        client.on_subscribe = self._subscribed
        client.on_message = self._message
        properties = None
        if self._receive_maximum:
            properties = Properties(PacketTypes.CONNECT)
            properties.ReceiveMaximum = self._receive_maximum
        self._client = client
        self.lost.clear()
        self._connack = self._loop.create_future()
        try:
            await self._loop.run_in_executor(
                executor,
                lambda: client.connect(
                    self._broker.host, self._broker.port, self._keepalive, properties=properties
                ),
            )
        except OSError as exc:
            raise LinkError(f"{self._broker}: {exc}") from None
        try:
            async with asyncio.timeout(timeout):
                await self._connack
        except TimeoutError:
            self.drop()
            raise LinkError(f"{self._broker}: no CONNACK within {timeout:g} s") from None

    def publish(self, message: Message, on_ack: OnAck | None = None) -> None:
        """Queue ``message``; ``on_ack`` gets the seconds until its PUBACK (QoS 0: until written)."""
        if self._client is None or not self.connected:
            raise LinkError(f"{self.client_id} is not connected")
        started = time.perf_counter()
        info = self._client.publish(message.topic, message.payload, message.qos, message.retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise LinkError(f"{self.client_id}: publish refused ({paho.error_string(info.rc)})")
        self._pending[info.mid] = (started, on_ack)
        self._idle.clear()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def flushed(self) -> None:
        """Until every message published so far has its PUBACK."""
        await self._idle.wait()

    async def subscribe(self, topic: str, qos: int = 1, timeout: float = 10.0) -> None:
        assert self._client is not None
        result, mid = self._client.subscribe(topic, qos)
        if result != paho.MQTT_ERR_SUCCESS:
            raise LinkError(f"{self.client_id}: subscribe refused ({paho.error_string(result)})")
        assert mid is not None  # paho gives a message id to every subscribe it accepts
        future = self._subacks[mid] = self._loop.create_future()
        async with asyncio.timeout(timeout):
            await future

    def tick(self) -> None:
        """Keep-alive and timeouts; call about once a second."""
        if self._client is not None:
            self._client.loop_misc()

    def drop(self) -> None:
        """End the connection the way a power cut or a dead link does: no DISCONNECT, so the Will fires."""
        client, self._client = self._client, None
        self.connected = False
        if client is None:
            return
        sock = client.socket()
        if sock is not None:
            self._loop.remove_reader(sock.fileno())
            self._loop.remove_writer(sock.fileno())
            sock.close()
        self._forget_pending()

    async def close(self, timeout: float = 5.0) -> None:
        """A clean DISCONNECT (the broker discards the Will)."""
        client = self._client
        if client is None:
            return
        if self.connected:
            client.disconnect()
            try:
                async with asyncio.timeout(timeout):
                    await self.lost.wait()
            except TimeoutError:
                pass
        self.drop()

    def _forget_pending(self) -> None:
        self.abandoned += len(self._pending)
        self._pending.clear()
        self._idle.set()

    # paho callbacks. ``connect`` runs in an executor thread and may call the socket ones from there.

    def _on_loop(self, function, *args) -> None:
        """Now, on the loop's thread (every publish); through the loop from the connect thread."""
        if threading.get_ident() == self._loop_thread:
            function(*args)
        else:
            self._loop.call_soon_threadsafe(function, *args)

    def _socket_open(self, client: paho.Client, _userdata, sock) -> None:
        # A station writes its birth and retained state back to back: without NODELAY, Nagle's
        # algorithm holds each small write for the broker's delayed ACK (tens of ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def readable() -> None:
            if self._client is client:
                client.loop_read()

        self._on_loop(self._loop.add_reader, sock.fileno(), readable)

    def _socket_close(self, _client: paho.Client, _userdata, sock) -> None:
        fileno = sock.fileno()
        if fileno > -1:
            self._loop.remove_reader(fileno)
            self._loop.remove_writer(fileno)

    def _register_write(self, client: paho.Client, _userdata, sock) -> None:
        def writable() -> None:
            if self._client is client:
                client.loop_write()

        self._on_loop(self._loop.add_writer, sock.fileno(), writable)

    def _unregister_write(self, _client: paho.Client, _userdata, sock) -> None:
        self._loop.remove_writer(sock.fileno())

    def _connected(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        future = self._connack
        if reason_code.is_failure:
            if future is not None and not future.done():
                future.set_exception(LinkError(f"{self._broker} refused {self.client_id}: {reason_code}"))
            return
        self.connected = True
        if future is not None and not future.done():
            future.set_result(None)

    def _disconnected(self, _client, _userdata, _flags, _reason_code, _properties) -> None:
        self.connected = False
        self._forget_pending()
        self.lost.set()
        future = self._connack
        if future is not None and not future.done():
            future.set_exception(LinkError(f"{self._broker} closed the connection of {self.client_id}"))

    def _published(self, _client, _userdata, mid: int, reason_code, _properties) -> None:
        entry = self._pending.pop(mid, None)
        if entry is not None and reason_code.is_failure:
            self.refused += 1
        elif entry is not None:
            started, on_ack = entry
            if on_ack is not None:
                on_ack(time.perf_counter() - started)
        if not self._pending:
            self._idle.set()

    def _subscribed(self, _client, _userdata, mid: int, _reason_codes, _properties) -> None:
        future = self._subacks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _message(self, _client, _userdata, message: paho.MQTTMessage) -> None:
        if self._on_message is not None:
            self._on_message(message.topic, bytes(message.payload), bool(message.retain))
