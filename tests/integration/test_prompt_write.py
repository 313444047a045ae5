"""A publish written at once onto a connection the broker has reset: the session ends, quietly.

The uplink writes each publish the moment it is made (:mod:`gateway.uplink.prompt_write`).
When the broker went away a moment before (a restart, a failover), that write finds the
connection reset and paho closes the socket. What follows must be the session's end, never
an asyncio callback that raises on the closed socket and prints a traceback into the log.
"""

from __future__ import annotations

import asyncio
import select
import socket
import struct
import threading

import aiomqtt
import pytest

from gateway.uplink.prompt_write import write_promptly

CONNACK_V5 = b"\x20\x03\x00\x00\x00"  # session not present, success, no properties


class ResettingBroker:
    """Answers one CONNECT with a CONNACK, then, when told, resets the connection (RST)."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._connection: socket.socket | None = None
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._server.accept()
        connection.recv(4096)  # the CONNECT
        connection.sendall(CONNACK_V5)
        self._connection = connection
        self._connected.set()

    def reset(self) -> None:
        assert self._connected.wait(10)
        assert self._connection is not None
        self._connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._connection.close()  # linger 0: an RST, as from a broker host that went away
        self._server.close()


async def test_a_publish_onto_a_reset_connection_ends_the_session_without_a_traceback():
    broker = ResettingBroker()
    loop = asyncio.get_running_loop()
    unhandled: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    client = aiomqtt.Client("127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V5, timeout=5)
    write_promptly(client)
    async with client:
        paho_client = client._client
        broker.reset()  # at once, on this thread: the event loop must not run until the publish
        # Until the reset has arrived, the event loop does not run: paho must not read it first.
        readable, _, _ = select.select([paho_client.socket()], [], [], 5)
        assert readable
        paho_client.publish("outpost/v1/cs-test/alarm", b"{}", qos=1)  # as the drain publishes
        with pytest.raises(aiomqtt.MqttError):  # the session ends here, with the reason
            await anext(aiter(client.messages))
    await asyncio.sleep(0)  # one turn: a callback scheduled on the closed socket would run now
    assert unhandled == [], [str(context.get("exception") or context["message"]) for context in unhandled]
