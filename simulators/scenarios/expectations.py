"""Judging what the platform received against a scenario's ``expect`` and ``never`` entries.

An expected event is the first matching alarm event that arrives after its
step; its latency runs from that step to the platform receiving it, and it
fails when it takes longer than ``within``. Delivery is at least once, so the
same event (same ``id``) may arrive twice; that is not a second alarm. A
``never`` entry fails on any matching event after its step that no ``expect``
entry claimed: a false alarm, or a duplicate raise with an id of its own.
What a handheld hears and what an actuator is switched to are judged on the
simulators themselves, so they hold while the district's broker is down.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

from simulators.scenarios.platform import Platform, Received
from simulators.scenarios.player import Player
from simulators.scenarios.scenario import AlarmMatch, Expect, Heard, Switched

SWITCH_LOOKS_EVERY = 0.05  # seconds: a simulated unit's coil has no push; its value is looked at


@dataclass
class Verdict:
    kind: str  # "expect" or "never"
    what: str
    after: str | None
    ok: bool
    detail: str
    latency_s: float | None = None
    within_s: float | None = None
    claimed_id: str | None = None

    def line(self) -> str:
        mark = "PASS" if self.ok else "FAIL"
        since = f" after {self.after}" if self.after else ""
        timing = f" in {self.latency_s:.2f}s" if self.latency_s is not None else ""
        limit = f" (within {self.within_s:g}s)" if self.within_s is not None else ""
        return f"{mark}  {self.kind} {self.what}{since}{timing}{limit}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _alarm_event(entry: AlarmMatch, since: float):
    def predicate(message: Received) -> bool:
        return message.topic.endswith("/alarm") and message.at >= since and entry.matches(message.payload)

    return predicate


async def judge_expected(expect: Expect, platform: Platform, player: Player) -> Verdict:
    """Wait for ``expect``'s event until its deadline; pass or fail with the latency."""
    since = await player.when(expect.after)
    verdict = Verdict("expect", expect.describe(), expect.after, False, "", within_s=expect.within)
    try:
        message = await platform.wait_for(
            _alarm_event(expect, since), timeout=max(0.0, since + expect.within - time.time())
        )
    except TimeoutError:
        verdict.detail = f"not received within {expect.within:g}s"
        return verdict
    verdict.latency_s = round(message.at - since, 3)
    verdict.claimed_id = message.payload.get("id")
    verdict.ok = verdict.latency_s <= expect.within
    verdict.detail = _summary(message)
    return verdict


async def judge_heard(expect: Heard, player: Player) -> Verdict:
    """What a simulated handheld hears is judged on the handheld (which acks it, as a radio does)."""
    since = await player.when(expect.after)
    radios = player.controls.station.radios
    verdict = Verdict("hear", expect.describe(), expect.after, False, "", within_s=expect.within)
    assert radios is not None  # checked when the scenario was loaded
    since_monotonic = time.monotonic() - (time.time() - since)
    remaining = max(0.0, since + expect.within - time.time())
    try:
        heard = await radios.wait_heard(expect.radio, expect.text, since_monotonic, remaining)
    except TimeoutError:
        verdict.detail = f"not heard within {expect.within:g}s"
        return verdict
    verdict.latency_s = round(heard.at - since_monotonic, 3)
    verdict.ok = verdict.latency_s <= expect.within
    verdict.detail = f"heard {heard.frame.tnc2()}"
    return verdict


async def judge_switched(expect: Switched, player: Player) -> Verdict:
    """An actuator's value on its simulated unit, looked at until it is the expected one or too late."""
    since = await player.when(expect.after)
    verdict = Verdict("switch", expect.describe(), expect.after, False, "", within_s=expect.within)
    while (state := player.controls.actuators()[expect.actuator]) != expect.value:
        if time.time() > since + expect.within:
            verdict.detail = f"still {state} after {expect.within:g}s"
            return verdict
        await asyncio.sleep(SWITCH_LOOKS_EVERY)
    verdict.latency_s = round(max(0.0, time.time() - since), 3)
    verdict.ok = verdict.latency_s <= expect.within
    verdict.detail = f"the simulated unit holds {state}"
    return verdict


def note_late_arrivals(verdicts: list[Verdict], expects: list[Expect], platform: Platform, player: Player):
    """For a failed expectation, say whether its event came after all (too late) or never."""
    for verdict, expect in zip(verdicts, expects, strict=True):
        if verdict.ok or verdict.claimed_id is not None:
            continue
        since = _time_of(player, expect.after)
        late = platform.matching(_alarm_event(expect, since)) if since is not None else []
        if late:
            verdict.detail += f"; arrived after {late[0].at - since:.2f}s"  # type: ignore[operator]


def judge_never(
    nevers: list[AlarmMatch], platform: Platform, player: Player, claimed: set[str]
) -> list[Verdict]:
    """One verdict per ``never`` entry, over everything received so far."""
    verdicts = []
    for entry in nevers:
        since = _time_of(player, entry.after)
        offending = [] if since is None else platform.matching(_alarm_event(entry, since))
        offending = [m for m in offending if m.payload.get("id") not in claimed]
        verdict = Verdict("never", entry.describe(), entry.after, not offending, "none received")
        if offending:
            verdict.detail = f"{len(offending)} received, first: {_summary(offending[0])}"
        verdicts.append(verdict)
    return verdicts


def _time_of(player: Player, name: str | None) -> float | None:
    if name is None:
        return player.started_at
    return next((p.at for p in player.played if p.step.name == name), None)


def _summary(message: Received) -> str:
    body = message.payload
    return f"{body.get('alarm_key')} {body.get('transition')} {body.get('grade')} ({body.get('message', '')})"
