"""The broker's Receive Maximum (MQTT 5 CONNACK) bounds the publishes in flight.

paho reads the property but does not act on it. A broker that holds clients to
it (MQTT 5.0 §3.3.4: more unacknowledged QoS 1 publishes than it allows, and
it disconnects with 0x93 "Receive Maximum exceeded") would end the session
each time a backlog fills the window, so the backlog, alarms among it, would
never drain. Mosquitto announces 20 and lets a client exceed it; other
brokers do not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiomqtt
from paho.mqtt import client as paho


def follow_receive_maximum(client: aiomqtt.Client, window: int) -> Callable[[], int]:
    """Keep ``client``'s publishes in flight within what its broker allows; call before connecting.

    Returns the window in force: ``window``, or the broker's Receive Maximum once its
    CONNACK announces a smaller one. paho holds what is beyond it until PUBACKs free room.
    """
    mqtt: paho.Client = client._client  # the one paho client aiomqtt drives
    aiomqtt_on_connect = mqtt.on_connect
    assert aiomqtt_on_connect is not None  # aiomqtt sets it when it builds the client
    in_force = [window]

    def on_connect(
        paho_client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        announced = getattr(properties, "ReceiveMaximum", None)  # MQTT 5 only, and only if below 65 535
        if isinstance(announced, int) and 0 < announced < in_force[0]:
            in_force[0] = announced
            # paho's setter refuses a connected client; the limit it sets is read at each publish.
            paho_client._max_inflight_messages = announced
        aiomqtt_on_connect(paho_client, userdata, flags, reason, properties)  # type: ignore[call-arg]  # version 2

    mqtt.on_connect = on_connect
    return lambda: in_force[0]
