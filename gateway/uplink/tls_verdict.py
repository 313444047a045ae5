"""What a broker says about this station's TLS client certificate, asked without MQTT.

Why this exists: in TLS 1.3 a broker judges the client's certificate after the
client's side of the handshake is done. paho sends its CONNECT at once, and the
broker's alert then races the broker's close of the connection: on a busy
machine paho sees only "EOF occurred in violation of protocol", which reads like
a broker that drops a protocol 5 CONNECT. A handshake that sends nothing after
it has no race: the broker's alert is the next thing on the socket.
"""

from __future__ import annotations

import socket
import ssl

WAIT = 2.0  # seconds for the broker's verdict; a broker that accepts the certificate says nothing


def tls_refusal(host: str, port: int, context: ssl.SSLContext, wait: float = WAIT) -> str | None:
    """The TLS error with which the broker ends a handshake made with ``context``, if it does.

    ``None`` when the broker accepts the certificate, when the connection cannot be made,
    and when it closes without an alert (that says nothing about the certificate).
    Blocking: run it in a thread.
    """
    try:
        with (
            socket.create_connection((host, port), timeout=wait) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.recv(1)  # a broker waits for a CONNECT: only an alert or a close comes back
    except ssl.SSLEOFError:
        return None
    except ssl.SSLError as exc:
        return str(exc)
    except OSError:  # refused, unreachable, or the wait passed without a verdict
        return None
    return None
