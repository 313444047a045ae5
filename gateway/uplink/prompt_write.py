"""A publish goes onto the socket when it is made, not a few turns of the event loop later.

aiomqtt runs paho on the event loop: paho queues each packet and asks for the
socket to be watched for writing, which aiomqtt does through
``call_soon_threadsafe`` (a wake-up through the loop's self-pipe), then
``add_writer``, then a ``select``: three turns of the loop before an alarm
reaches the wire, milliseconds on a busy Pi. paho itself writes at once when
nobody watches its socket; here it does so with aiomqtt too. On the loop's
own thread, outside paho's callbacks (paho's rule for writing at once), the
packet is written right away; what the socket does not take yet is left to
aiomqtt's writer as before. Anything else (the connect, run on a worker
thread) goes the usual way. A write that finds the connection reset leaves
nothing to watch: paho has closed the socket and ended the session.
"""

from __future__ import annotations

import threading
from typing import Any

import aiomqtt
from paho.mqtt import client as paho


def write_promptly(client: aiomqtt.Client) -> None:
    """Make ``client`` write each queued packet at once when it can; call before connecting."""
    mqtt: paho.Client = client._client  # the one paho client aiomqtt drives
    watch = mqtt.on_socket_register_write  # aiomqtt's: watch the socket for writing
    assert watch is not None  # aiomqtt sets it when it builds the client
    loop_thread = threading.get_ident()

    def register_write(paho_client: paho.Client, userdata: Any, sock: Any) -> None:
        in_callback = paho_client._in_callback_mutex  # paho's own test, see _packet_queue
        if threading.get_ident() == loop_thread and in_callback.acquire(blocking=False):
            in_callback.release()
            try:
                paho_client.loop_write()  # all written: paho withdraws the request itself
            except Exception:  # aiomqtt's writer meets it again and disconnects
                pass
            else:
                if not paho_client.want_write():
                    return
            if sock.fileno() < 0:
                # The write found the connection gone (a broker reset) and paho closed the
                # socket and told aiomqtt the session is over: there is nothing left to watch.
                return
        watch(paho_client, userdata, sock)

    mqtt.on_socket_register_write = register_write
