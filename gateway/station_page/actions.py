"""Acknowledge, shelve and reset from the page: only with the operator key, only as a signed command.

The page holds no power of its own. A form carries the operator key; when it
matches the one configured at the station (``service.page.operator_key_file``),
the page signs the command with the station's command key and hands it to the
same command path the platform's commands take (:meth:`Downlink.from_station`):
the same signature, freshness and replay checks, the same handlers, and the
answer published on the result topic, so the platform sees who did what.
Starting and ending the walk-test mode needs the operator key too; it is the
page's own (no command reaches the engine), so it needs no command key.
Without an operator key the page is read-only; wrong keys are counted and,
after a few in a row, refused for a while without being compared.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from gateway.commands.auth import sign
from gateway.commands.processor import Outcome
from gateway.i18n import Translator
from gateway.station_page.walk import WalkMode

VERBS = {"ack": "page.ack", "shelve": "page.shelve", "reset": "page.reset"}
WALK = "walktest"  # the page's own action: ``walktest|on`` or ``walktest|off``
SHELVE_MINUTES = 30
MAX_WRONG = 5  # wrong keys in a row before the page stops comparing for a while
LOCKED_FOR = 60.0  # seconds

Submit = Callable[[str, bytes], Awaitable[Outcome]]


class Operator:
    """The page's operating rights at this station: a key to compare, a key to sign with."""

    def __init__(
        self,
        *,
        operator_key: bytes | None,
        command_key: bytes | None,
        station: str,
        refused: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self._operator_key = operator_key
        self._command_key = command_key
        self._station = station
        self._refused = refused  # told each refusal's reason (for /metrics)
        self._wrong = 0
        self._locked_until = 0.0

    @property
    def enabled(self) -> bool:
        """An operator key is configured: the page shows its actions (they still need the command key)."""
        return self._operator_key is not None

    async def act(self, body: bytes, submit: Submit, walk: WalkMode, t: Translator) -> str:
        """Carry out one posted form; a line for the person who posted it, whatever happened."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=8).items()}
        verb, _, alarm_key = form.get("action", "").partition("|")
        walking = verb == WALK and alarm_key in ("on", "off")
        if not walking and (verb not in VERBS or not alarm_key):
            return self._refuse(t, "malformed form", "malformed form")
        if self._operator_key is None:
            return self._refuse(t, "read-only", t("page.read_only"))
        if time.monotonic() < self._locked_until or not self._key_matches(form.get("key", "")):
            return self._refuse(t, "wrong operator key", t("page.bad_key"))
        if walking:
            walk.switch(alarm_key == "on")
            return t("page.walk_started" if alarm_key == "on" else "page.walk_ended")
        if self._command_key is None:
            return self._refuse(t, "no command key", t("page.no_command_key"))
        operator = " ".join(form.get("operator", "").split())[:40]
        args: dict[str, object] = {"alarm_key": alarm_key, "by": f"station page ({operator or 'operator'})"}
        if verb == "shelve":
            args["minutes"] = SHELVE_MINUTES
        command = sign(self._command_key, self._station, verb, args)
        ok, detail = await submit(verb, json.dumps(command).encode())
        if not ok:
            return t("page.refused", reason=str(detail))
        return t("page.done", action=t(VERBS[verb]), alarm=alarm_key)

    def _key_matches(self, typed: str) -> bool:
        assert self._operator_key is not None
        if hmac.compare_digest(typed.strip().encode(), self._operator_key):
            self._wrong = 0
            return True
        self._wrong += 1
        if self._wrong >= MAX_WRONG:
            self._wrong = 0
            self._locked_until = time.monotonic() + LOCKED_FOR
        return False

    def _refuse(self, t: Translator, reason: str, shown: str) -> str:
        self._refused(reason)
        return t("page.refused", reason=shown)
