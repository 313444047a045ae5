"""The MQTT client of the operator's tools (``outpost cmd``, ``console``, ``walktest``).

Built from a station's ``mqtt`` settings with the uplink's own
:func:`gateway.uplink.broker.credentials`: the same login, private CA and
client certificate, so that a broker the station reaches, its operator
reaches too. Connects to the first broker of the settings, in their protocol.
"""

from __future__ import annotations

import aiomqtt

from gateway.config.models import MqttConfig
from gateway.uplink.broker import BrokerAddress, credentials


def connect(
    mqtt: MqttConfig, *, identifier: str | None = None, clean_session: bool | None = None
) -> aiomqtt.Client:
    """A client to use as ``async with``; ``identifier`` and ``clean_session`` for a persistent session."""
    broker = BrokerAddress.parse(mqtt.brokers[0])
    login = credentials(mqtt, broker)
    return aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=identifier,
        username=login.username,
        password=login.password,
        protocol=aiomqtt.ProtocolVersion.V5 if mqtt.protocol == "mqtt5" else aiomqtt.ProtocolVersion.V311,
        clean_session=clean_session,
        keepalive=mqtt.keepalive,
        tls_context=login.tls_context,
    )


def broker_settings(url: str, protocol: str = "mqtt5") -> MqttConfig:
    """The settings of a broker known only by its URL: no login, TLS with the system's CAs for ``mqtts``."""
    return MqttConfig.model_validate({"brokers": [url], "protocol": protocol})
