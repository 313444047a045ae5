"""A connection the broker closes before its CONNACK fails the connect at once.

aiomqtt ignores a disconnect that comes before the CONNACK (nobody would read
the exception) and waits out its whole connect timeout, 10 s, before trying
again. A broker that drops a protocol 5 CONNECT, a TLS alert, a broker that is
starting: each such attempt cost 10 s in which no alarm could leave. Here the
attempt ends when the connection does, with an error aiomqtt's connect raises.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
from paho.mqtt import client as paho

CLOSED_BEFORE_CONNACK = "the broker closed the connection before answering the CONNECT"


def fail_on_early_close(client: aiomqtt.Client) -> None:
    """Make ``client``'s connect fail as soon as the connection closes unanswered; call before connecting."""
    mqtt: paho.Client = client._client  # the one paho client aiomqtt drives
    aiomqtt_on_disconnect = mqtt.on_disconnect
    assert aiomqtt_on_disconnect is not None  # aiomqtt sets it when it builds the client
    loop = asyncio.get_running_loop()

    def fail(waiting: asyncio.Future[Any]) -> None:
        if waiting is client._connected and not waiting.done():  # still this attempt's, unanswered
            waiting.set_exception(aiomqtt.MqttError(CLOSED_BEFORE_CONNACK))

    def on_disconnect(paho_client: paho.Client, userdata: Any, *args: Any) -> None:
        waiting = client._connected  # the future aiomqtt's connect awaits
        if not waiting.done():
            loop.call_soon_threadsafe(fail, waiting)
        aiomqtt_on_disconnect(paho_client, userdata, *args)

    mqtt.on_disconnect = on_disconnect
