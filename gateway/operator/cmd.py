"""The operator's side of downlink commands: sign, send, wait for the answer (``outpost cmd``)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.commands.auth import sign
from gateway.commands.processor import MAX_COMMAND_BYTES
from gateway.config.models import MqttConfig
from gateway.contract.decode import decode
from gateway.contract.events import CommandResult, RadioTraffic
from gateway.operator.mqtt import connect
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


Follow = Callable[[CommandResult | RadioTraffic], None]


async def send_command(
    mqtt: MqttConfig,
    *,
    prefix: str,
    station: str,
    name: str,
    args: dict[str, Any],
    key: bytes | None,
    timeout: float = 10.0,
    follow: Follow | None = None,
) -> CommandResult:
    """Publish one command through the broker of ``mqtt`` and return the gateway's answer.

    In MQTT 3.1.1 (``protocol: mqtt311``, a broker that speaks nothing newer, as the
    embedded one of ``outpost sim``) the command goes without MQTT 5 properties: the
    gateway answers on the result topic all the same, and the answer is found by its id.
    A command larger than a station takes is a ValueError, before anything is sent.

    With ``follow``, the answer is handed to it and then, when the answer names a
    broadcast, each of that broadcast's steps on ``{p}/radio`` until the ``finished``
    one: ``timeout`` bounds the wait for the answer only, since a broadcast to radios
    that do not acknowledge takes as long as its retry schedule.
    """
    v5 = mqtt.protocol == "mqtt5"
    command_id = secrets.token_hex(8)
    body = sign(key, station, name, args, command_id) if key else {"id": command_id, "args": args}
    payload = json.dumps(body, ensure_ascii=False).encode()  # Chinese text: 3 bytes a character, not 6
    if len(payload) > MAX_COMMAND_BYTES:
        raise ValueError(f"the command is {len(payload)} bytes; a station takes at most {MAX_COMMAND_BYTES}")
    answers = result_topic(prefix)
    properties = Properties(PacketTypes.PUBLISH)
    properties.ResponseTopic = answers
    properties.CorrelationData = command_id.encode()
    async with connect(mqtt) as client:
        await client.subscribe(answers, qos=1)
        if follow is not None:  # before the command: the first steps may come before its answer
            await client.subscribe(f"{prefix}/radio", qos=1)
        await client.publish(f"{prefix}/cmd/{name}", payload, qos=1, properties=properties if v5 else None)
        steps: list[RadioTraffic] = []
        incoming = aiter(_payloads(client))
        async with asyncio.timeout(timeout):
            while True:
                answer = await anext(incoming)
                if isinstance(answer, RadioTraffic):
                    steps.append(answer)
                elif isinstance(answer, CommandResult) and answer.command_id == command_id:
                    break
        broadcast_id = answer.result.get("broadcast_id")
        if follow is None:
            return answer
        follow(answer)
        while broadcast_id is not None:
            step = steps.pop(0) if steps else await anext(incoming)
            if isinstance(step, RadioTraffic) and step.broadcast_id == broadcast_id:
                follow(step)
                if step.state == "finished":
                    break
    return answer


async def _payloads(client: aiomqtt.Client) -> AsyncIterator[object]:
    """Every payload the client receives, decoded (anything unreadable as :class:`Unknown`)."""
    async for message in client.messages:
        if isinstance(message.payload, bytes | bytearray):
            yield decode(bytes(message.payload))
