"""Command authentication: HMAC-SHA256 over a canonical form, a time window, a nonce cache.

The signed text binds the station, the command name, the command id, the
timestamp, the nonce and the arguments, so a signature cannot be replayed to
another station, as another command, or with other arguments. Within the
time window each nonce is accepted once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from typing import Any


class Rejected(Exception):
    """A command that fails authentication; the message is safe to log and to answer with."""


def canonical(station: str, name: str, command: dict[str, Any]) -> bytes:
    """The exact bytes that are signed."""
    arguments = json.dumps(command.get("args", {}), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    fields = (
        station,
        name,
        str(command.get("id", "")),
        str(command.get("ts", "")),
        str(command.get("nonce", "")),
    )
    return ("\n".join(fields) + "\n" + arguments).encode()


def sign(
    key: bytes, station: str, name: str, args: dict[str, Any], command_id: str | None = None
) -> dict[str, Any]:
    """A complete signed command body, ready to publish on ``{prefix}/cmd/{name}``."""
    command: dict[str, Any] = {
        "id": command_id or secrets.token_hex(8),
        "ts": int(time.time() * 1000),
        "nonce": secrets.token_hex(12),
        "args": args,
    }
    command["sig"] = hmac.new(key, canonical(station, name, command), hashlib.sha256).hexdigest()
    return command


class Verifier:
    """Checks signatures, freshness and replays of incoming commands."""

    def __init__(self, key: bytes, station: str, max_skew: float = 60.0, max_nonces: int = 10_000) -> None:
        self._key = key
        self._station = station
        self._max_skew = max_skew
        self._max_nonces = max_nonces
        self._seen: OrderedDict[str, float] = OrderedDict()  # nonce -> when it expires

    def verify(self, name: str, command: dict[str, Any], now: float | None = None) -> None:
        """Return if the command is authentic and fresh; raise :class:`Rejected` saying why not."""
        now = time.time() if now is None else now
        signature = command.get("sig")
        if not isinstance(signature, str) or not signature:
            raise Rejected("unsigned command")
        timestamp = command.get("ts")
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            raise Rejected("missing or malformed timestamp 'ts' (milliseconds since the epoch)")
        nonce = command.get("nonce")
        if not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
            raise Rejected("missing or malformed 'nonce'")
        expected = hmac.new(self._key, canonical(self._station, name, command), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise Rejected("bad signature")
        skew = abs(now - timestamp / 1000)
        if skew > self._max_skew:
            raise Rejected(f"stale command: timestamp is {skew:.0f} s away from the gateway's clock")
        self._forget_expired(now)
        if nonce in self._seen:
            raise Rejected("replayed command (nonce already used)")
        if len(self._seen) >= self._max_nonces:
            # Forgetting a live nonce would let its command be replayed: refuse instead.
            raise Rejected("too many commands in the time window")
        self._seen[nonce] = now + 2 * self._max_skew

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            nonce, expires = next(iter(self._seen.items()))
            if expires > now:
                return
            del self._seen[nonce]


def read_key(path) -> bytes:
    """The station's command key from a file (hex or raw text); never logged."""
    text = path.read_text(encoding="utf-8").strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        return text.encode()
