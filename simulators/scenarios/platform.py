"""A subscriber standing in for the district platform: it remembers what it receives, and when.

Shared by the scenario runner (which judges expectations on it) and the tests.
Its session is persistent (QoS 1, clean session off), so what is published
while it reconnects after a broker restart still reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

from gateway.config.models import MqttConfig, TlsConfig
from gateway.operator.mqtt import connect


@dataclass
class Received:
    topic: str
    payload: dict
    retain: bool
    at: float  # time.time() when it arrived


@dataclass
class Platform:
    url: str
    topic: str
    tls: tuple[Path, Path, Path] | None = None  # ca, client cert, client key
    messages: list[Received] = field(default_factory=list)
    listeners: list[Callable[[Received], None]] = field(default_factory=list)  # told of each message
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task | None = None

    async def start(self, timeout: float = 10.0) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready))
        await asyncio.wait_for(ready.wait(), timeout)

    async def _run(self, ready: asyncio.Event) -> None:
        tls = None
        if self.tls:
            ca, cert, key = self.tls
            tls = TlsConfig(ca_file=ca, cert_file=cert, key_file=key)
        settings = MqttConfig(brokers=[self.url], protocol="mqtt311", tls=tls)
        identifier = f"platform-{uuid.uuid4().hex[:12]}"
        while True:
            try:
                async with connect(settings, identifier=identifier, clean_session=False) as client:
                    await client.subscribe(self.topic, qos=1)
                    ready.set()
                    async for message in client.messages:
                        await self._remember(message)
            except aiomqtt.MqttError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None
                await asyncio.sleep(0.2)  # the broker is restarting: resubscribe

    async def _remember(self, message: aiomqtt.Message) -> None:
        try:
            body = json.loads(message.payload) if message.payload else {}
        except (ValueError, RecursionError):  # not JSON, or nested past Python's stack (garbage
            # someone sends to a command topic)
            body = {"raw": bytes(message.payload).hex()}
        if not isinstance(body, dict):
            body = {"raw": body}
        received = Received(str(message.topic), body, message.retain, time.time())
        async with self._changed:
            self.messages.append(received)
            self._changed.notify_all()
        for listener in self.listeners:
            listener(received)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float = 10.0, after: int = 0
    ) -> Received:
        """The first message (from index ``after``) matching ``predicate``."""

        def found() -> Received | None:
            return next((m for m in self.messages[after:] if predicate(m)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(found), timeout)
        result = found()
        assert result is not None
        return result

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        return [m for m in self.messages if predicate(m)]


def alarm(key_suffix: str, transition: str | None = None) -> Callable[[Received], bool]:
    """Alarm events whose key ends with ``key_suffix`` (and of ``transition``, if given)."""

    def predicate(message: Received) -> bool:
        body = message.payload
        return (
            message.topic.endswith("/alarm")
            and body.get("alarm_key", "").endswith(key_suffix)
            and (transition is None or body.get("transition") == transition)
        )

    return predicate


def device_status(device: str, state: str, reason: str = "") -> Callable[[Received], bool]:
    """The retained status of ``device`` saying ``state`` (and ``reason`` in its reason)."""

    def predicate(message: Received) -> bool:
        return (
            message.topic.endswith(f"/device/{device}/status")
            and message.payload.get("status") == state
            and reason in (message.payload.get("reason") or "")
        )

    return predicate
