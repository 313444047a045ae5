"""Where a broker is and how a client proves itself to it.

One place for the station's uplink and the operator's tools, so that a station
file's ``mqtt`` section (credentials, private CA, client certificate) reaches
a broker the same way from both ends.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway.config.models import MqttConfig


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname or "localhost", parts.port or (8883 if tls else 1883), tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a client shows a broker: a login, and TLS with the configured CA and client certificate."""

    username: str | None
    password: str | None = field(repr=False)
    tls_context: ssl.SSLContext | None


def credentials(config: MqttConfig, broker: BrokerAddress) -> Credentials:
    """Read at connect time: a rotated password file or certificate counts from the next connect.

    TLS whenever the URL says ``mqtts`` or the station file has a ``tls`` section.
    """
    password = config.password()
    tls = config.tls
    context = None
    if broker.tls or tls is not None:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls and tls.ca_file else None)
        if tls and tls.cert_file and tls.key_file:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return Credentials(config.username, password, context)
