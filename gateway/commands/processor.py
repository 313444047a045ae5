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

from pydantic import ValidationError

from gateway.alarms.engine import CommandRefused
from gateway.commands.auth import Rejected, Verifier
from gateway.commands.handlers import COMMANDS
from gateway.commands.registry import Arguments, CommandFailed, problems

log = logging.getLogger(__name__)


class CommandTarget(Protocol):
    """What executes a validated command: the registry's handlers with the gateway's parts."""

    async def execute(self, name: str, args: Arguments) -> dict[str, Any]: ...


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
        spec = COMMANDS.get(name)
        if spec is None:
            return command_id, self._reject(
                name, command_id, f"unknown command (known: {', '.join(COMMANDS)})"
            )
        try:
            args = spec.arguments.model_validate(command.get("args", {}))
        except ValidationError as exc:
            return command_id, self._reject(name, command_id, f"bad arguments: {problems(exc)}")
        try:
            result = await self._target.execute(name, args)
        except (CommandFailed, CommandRefused) as exc:  # the handler's or the alarm engine's refusal
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
