"""The operator's side of downlink commands: sign, send, wait for the answer (``outpost cmd``)."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.commands.auth import sign
from gateway.uplink.mqtt import BrokerAddress
from gateway.uplink.topics import result_topic


def parse_arguments(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON where they parse as JSON (numbers, true), else text."""
    arguments: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"argument {pair!r} is not key=value")
        try:
            arguments[key] = json.loads(value)
        except ValueError:
            arguments[key] = value
    return arguments


async def send_command(
    *,
    broker_url: str,
    prefix: str,
    station: str,
    name: str,
    args: dict[str, Any],
    key: bytes | None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 10.0,
    protocol: str = "mqtt5",
) -> dict[str, Any]:
    """Publish one command and return the gateway's ``outpost.cmd_result/1`` answer.

    With ``protocol="mqtt311"`` (a broker that speaks nothing newer, as the embedded
    one of ``outpost sim``) the command goes without MQTT 5 properties: the gateway
    answers on the result topic all the same, and the answer is found by its id.
    """
    v5 = protocol == "mqtt5"
    command_id = secrets.token_hex(8)
    body = sign(key, station, name, args, command_id) if key else {"id": command_id, "args": args}
    broker = BrokerAddress.parse(broker_url)
    answers = result_topic(prefix)
    correlation = command_id.encode()
    properties = Properties(PacketTypes.PUBLISH)
    properties.ResponseTopic = answers
    properties.CorrelationData = correlation
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=username,
        password=password,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        tls_params=aiomqtt.TLSParameters() if broker.tls else None,
    ) as client:
        await client.subscribe(answers, qos=1)
        await client.publish(
            f"{prefix}/cmd/{name}", json.dumps(body), qos=1, properties=properties if v5 else None
        )
        async with asyncio.timeout(timeout):
            async for message in client.messages:
                try:
                    result = json.loads(message.payload)
                except ValueError:
                    continue
                if isinstance(result, dict) and result.get("command_id") == command_id:
                    return result
    raise TimeoutError  # unreachable: the loop only ends by return or timeout
