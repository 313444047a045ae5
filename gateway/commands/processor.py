"""Downlink commands: parse, authenticate, validate, execute, answer.

A command is JSON on ``{prefix}/cmd/{name}``::

    {"id": "...", "ts": 1763892000000, "nonce": "...", "args": {...}, "sig": "hex"}

Every command gets an answer (``outpost.cmd_result/1``) on the MQTT 5
response topic it named, with its correlation data, or on
``{prefix}/cmd/result``. Rejections are logged without secrets and counted.

A command is whatever anyone with publish rights on the topic sends: its size
is checked before anything else, it must be UTF-8, and the JSON parser
(pydantic's, in Rust) bounds nesting without recursing in Python. Whatever
goes wrong, :meth:`CommandProcessor.process` answers; it never raises.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import ValidationError
from pydantic_core import from_json

from drivers.shown import shown
from gateway.alarms.engine import CommandRefused
from gateway.commands.auth import Rejected, Verifier
from gateway.commands.handlers import COMMANDS
from gateway.commands.registry import Arguments, CommandFailed, problems

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 64 * 1024  # a signed command is a few hundred bytes; a broadcast text a few KB


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
        rejected: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self._verifier = verifier
        self._allow_unsigned = allow_unsigned
        self._target = target
        self._rejected = rejected  # told each rejection's kind (for /metrics)
        self.counts: Counter[str] = Counter()

    async def process(self, name: str, payload: bytes) -> tuple[str | None, Outcome]:
        """Return the command's id (if it had one) and its outcome; never raises."""
        command = parse(payload)
        if isinstance(command, Malformed):
            return None, self._reject(name, None, command.kind, command.reason)
        command_id = command.get("id") if isinstance(command.get("id"), str) else None
        try:
            return command_id, await self._checked(name, command_id, command)
        except Exception as exc:  # a bug must cost one command its answer, never the uplink
            log.exception("command %s (%s) failed unexpectedly", shown(name, 40), shown(command_id))
            self.counts["failed"] += 1
            return command_id, (False, f"internal error ({type(exc).__name__})")

    async def _checked(self, name: str, command_id: str | None, command: dict[str, Any]) -> Outcome:
        try:
            self._authenticate(name, command)
        except Rejected as exc:
            reason = str(exc)
            return self._reject(name, command_id, reason.partition(":")[0].partition(" (")[0], reason)
        spec = COMMANDS.get(name)
        if spec is None:
            known = ", ".join(COMMANDS)
            return self._reject(name, command_id, "unknown command", f"unknown command (known: {known})")
        try:
            args = spec.arguments.model_validate(command.get("args", {}))
        except ValidationError as exc:
            return self._reject(name, command_id, "bad arguments", f"bad arguments: {problems(exc)}")
        try:
            result = await self._target.execute(name, args)
        except (CommandFailed, CommandRefused) as exc:  # the handler's or the alarm engine's refusal
            self.counts["failed"] += 1
            log.warning("command %s (%s) failed: %s", name, shown(command_id), shown(str(exc)))
            return False, str(exc)
        self.counts["accepted"] += 1
        log.info("command %s (%s) done", name, shown(command_id))
        return True, result

    def _authenticate(self, name: str, command: dict[str, Any]) -> None:
        if self._verifier is not None:
            self._verifier.verify(name, command)
        elif not self._allow_unsigned:
            raise Rejected("commands are disabled: no command key is configured at this station")

    def _reject(self, name: str, command_id: str | None, kind: str, reason: str) -> Outcome:
        """``kind`` is a fixed phrase of this module's or the verifier's (a metric label); ``reason``
        may quote the command."""
        self.counts["rejected"] += 1
        self._rejected(kind)
        log.warning("command %s (%s) rejected: %s", shown(name, 40), shown(command_id), shown(reason))
        return False, reason


@dataclass(frozen=True, slots=True)
class Malformed:
    """Why a payload is not a command at all: ``kind`` for counting, ``reason`` for the answer."""

    kind: str
    reason: str


def parse(payload: bytes) -> dict[str, Any] | Malformed:
    """The command object, or why not; bounded in time and memory whatever ``payload`` is."""
    if len(payload) > MAX_COMMAND_BYTES:
        return Malformed("too large", f"too large: {len(payload)} bytes (at most {MAX_COMMAND_BYTES})")
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return Malformed("not UTF-8", "malformed: not UTF-8")
    try:
        command = from_json(payload)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            return Malformed("nested too deeply", "malformed: JSON nested too deeply")
        return Malformed("not JSON", "malformed: not JSON")
    if not isinstance(command, dict):
        return Malformed("not a JSON object", "malformed: not a JSON object")
    return command
