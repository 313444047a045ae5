"""Downlink commands: parse, authenticate, validate, execute, answer.

A command is JSON on ``{prefix}/cmd/{name}``::

    {"id": "...", "ts": 1763892000000, "nonce": "...", "args": {...}, "sig": "hex"}

Every command gets an answer (``outpost.cmd_result/1``) on the MQTT 5
response topic it named, with its correlation data, or on
``{prefix}/cmd/result``. Rejections are logged without secrets and counted.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.commands.auth import Rejected, Verifier

log = logging.getLogger(__name__)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PingArgs(_Args):
    pass


class AlarmArgs(_Args):
    alarm_key: str
    by: str = Field(default="platform", max_length=64)


class ShelveArgs(AlarmArgs):
    minutes: float = Field(gt=0, le=24 * 60)


class ExerciseArgs(_Args):
    on: bool
    device: str | None = None


class ReportArgs(_Args):
    pass


class BroadcastArgs(_Args):
    text: str = Field(min_length=1, max_length=200)
    group: str | None = None


class ActuateArgs(_Args):
    actuator: str
    value: str


ARGUMENTS: dict[str, type[_Args]] = {
    "ping": PingArgs,
    "ack": AlarmArgs,
    "shelve": ShelveArgs,
    "unshelve": AlarmArgs,
    "reset": AlarmArgs,
    "exercise": ExerciseArgs,
    "report": ReportArgs,
    "broadcast": BroadcastArgs,
    "actuate": ActuateArgs,
}


class CommandFailed(Exception):
    """A valid, authentic command that could not be carried out; the message says why."""


class CommandTarget(Protocol):
    """What the gateway offers to commands."""

    async def execute(self, name: str, args: Any) -> dict[str, Any]: ...


Outcome = tuple[Literal[True], dict[str, Any]] | tuple[Literal[False], str]


class CommandProcessor:
    """Turns one raw command message into an executed action and a result."""

    def __init__(
        self,
        *,
        verifier: Verifier | None,
        allow_unsigned: bool,
        target: CommandTarget,
    ) -> None:
        self._verifier = verifier
        self._allow_unsigned = allow_unsigned
        self._target = target
        self.counts: Counter[str] = Counter()

    async def process(self, name: str, payload: bytes) -> tuple[str | None, Outcome]:
        """Return the command's id (if it had one) and its outcome; never raises."""
        try:
            command = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return None, self._reject(name, None, "malformed: not JSON")
        if not isinstance(command, dict):
            return None, self._reject(name, None, "malformed: not a JSON object")
        command_id = command.get("id") if isinstance(command.get("id"), str) else None
        try:
            self._authenticate(name, command)
        except Rejected as exc:
            return command_id, self._reject(name, command_id, str(exc))
        arguments_model = ARGUMENTS.get(name)
        if arguments_model is None:
            return command_id, self._reject(
                name, command_id, f"unknown command (known: {', '.join(ARGUMENTS)})"
            )
        try:
            args = arguments_model.model_validate(command.get("args", {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors()
            )
            return command_id, self._reject(name, command_id, f"bad arguments: {problems}")
        try:
            result = await self._target.execute(name, args)
        except CommandFailed as exc:
            self.counts["failed"] += 1
            log.warning("command %s (%s) failed: %s", name, command_id, exc)
            return command_id, (False, str(exc))
        self.counts["accepted"] += 1
        log.info("command %s (%s) done", name, command_id)
        return command_id, (True, result)

    def _authenticate(self, name: str, command: dict[str, Any]) -> None:
        if self._verifier is not None:
            self._verifier.verify(name, command)
        elif not self._allow_unsigned:
            raise Rejected("commands are disabled: no command key is configured at this station")

    def _reject(self, name: str, command_id: str | None, reason: str) -> Outcome:
        self.counts["rejected"] += 1
        log.warning("command %r (%s) rejected: %s", name[:40], command_id, reason)
        return False, reason
