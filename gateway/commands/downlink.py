"""Commands as they arrive from the uplink: each one processed and answered where it asked.

The answer (``outpost.cmd_result/1``) goes to the MQTT 5 response topic the
command named, with its correlation data, or to ``{prefix}/cmd/result``. A
response topic is used only if it is one a client may publish to (no
wildcards, not empty, bounded) and, inside the station's own topics, only the
result topic: a command cannot make the gateway write on its alarm or status
topics.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from gateway.commands.handlers import COMMANDS
from gateway.commands.processor import CommandProcessor, Outcome
from gateway.contract.events import CommandResult
from gateway.contract.stamp import Stamper
from gateway.service.metrics import Metrics
from gateway.uplink.mqtt import Incoming, MqttUplink
from gateway.uplink.topics import result_topic

MAX_RESPONSE_TOPIC = 1024  # characters; MQTT allows 65535 bytes, no answer needs that

# The jobs the command being processed in this task wants started once its answer is sent.
_after_answer: ContextVar[list[Coroutine[Any, Any, None]]] = ContextVar("after_answer")


def after_answer(job: Coroutine[Any, Any, None]) -> None:
    """Start ``job`` once the answer to the command being processed is sent (``CommandContext``)."""
    _after_answer.get().append(job)


class Downlink:
    """One configuration's command intake; a reload builds a new one."""

    def __init__(
        self,
        processor: CommandProcessor,
        *,
        uplink: MqttUplink,
        stamp: Stamper,
        prefix: str,
        metrics: Metrics,
        in_background: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._processor = processor
        self._uplink = uplink
        self._stamp = stamp
        self._prefix = prefix
        self._metrics = metrics
        self._in_background = in_background

    async def on_command(self, incoming: Incoming) -> None:
        """One message on a command topic; returns once answered (a background command, at once)."""
        name = incoming.topic.rsplit("/", 1)[-1]
        if name == "result":
            return  # our own answers share the command topic level
        spec = COMMANDS.get(name)
        if spec is not None and spec.background:
            self._in_background(self._answer(name, incoming))
            return
        await self._answer(name, incoming)

    async def _answer(self, name: str, incoming: Incoming) -> None:
        await self._process(name, incoming.payload, incoming.response_topic, incoming.correlation_data)

    async def from_station(self, name: str, payload: bytes) -> Outcome:
        """A command signed at the station itself (its page): the same checks, execution and answer
        on ``{prefix}/cmd/result`` as a command from the platform, so the platform sees it too."""
        return await self._process(name, payload, None, None)

    async def _process(
        self, name: str, payload: bytes, asked: str | None, correlation_data: bytes | None
    ) -> Outcome:
        jobs: list[Coroutine[Any, Any, None]] = []
        token = _after_answer.set(jobs)
        try:
            return await self._answered(name, payload, asked, correlation_data)
        finally:
            _after_answer.reset(token)
            for job in jobs:
                self._in_background(job)

    async def _answered(
        self, name: str, payload: bytes, asked: str | None, correlation_data: bytes | None
    ) -> Outcome:
        command_id, outcome = await self._processor.process(name, payload)
        ok, detail = outcome
        default = result_topic(self._prefix)
        self._metrics.commands.labels("done" if ok else "refused").inc()
        result = CommandResult(
            command=name[:64],
            command_id=command_id,
            ok=ok,
            error=None if ok else str(detail),
            result=detail if ok else {},  # type: ignore[arg-type]
            **self._stamp(),
        )
        topic = asked if asked is not None and self._answerable(asked) else default
        await self._uplink.reply(topic, result.to_json(), correlation_data)
        return outcome

    def _answerable(self, topic: str) -> bool:
        """A response topic the gateway may publish to on a stranger's request."""
        valid = 0 < len(topic) <= MAX_RESPONSE_TOPIC and not any(c in topic for c in "#+\0")
        own = topic == self._prefix or topic.startswith(self._prefix + "/")
        return valid and (not own or topic == result_topic(self._prefix))
