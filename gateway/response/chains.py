"""The call-and-respond chains: which rule answers which alarm, and which step is due when.

Pure bookkeeping, no I/O: committed events go in (:meth:`Chains.observe`),
time passes (:meth:`Chains.due`), and out come the :class:`Planned` actions
the responder carries out. A chain starts when a matching alarm is raised (or
escalates into the rule's grade, or is realarmed) and runs its steps, each
``after`` seconds from its start, until the alarm is acknowledged, reset,
shelved or suppressed. An actuator switched on is switched back after its
maximum on-time whatever happens to the chain, or to the configuration: a
reload (:meth:`Chains.reconfigure`) keeps the running chains and the pending
switch-backs. The same action of a rule never repeats within ``min_interval``:
it is reported as skipped instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from gateway.alarms.clock import Clock
from gateway.config.models import StationConfig
from gateway.config.response import ActuateAction, CallAction, ResponseRule
from gateway.contract.events import AlarmEvent, AlarmState, Envelope, EventStatus, RadioTraffic, Transition

STARTS = (Transition.RAISED, Transition.LEVEL_CHANGED, Transition.REALARMED)
ENDS = {
    Transition.ACKNOWLEDGED: "acknowledged",
    Transition.RESET: "reset",
    Transition.SHELVED: "shelved",
    Transition.SUPPRESSED: "suppressed",
}
EXERCISE_SILENT = "a drill: real sirens sound only for a rule with exercise: true"
RULE_REMOVED = "the rule is gone from the reloaded configuration"


@dataclass(frozen=True)
class Planned:
    """One thing the responder is to do (or only to report, when ``skip`` says why not)."""

    action: Literal["actuate", "call", "reset", "acknowledged", "ended"]
    rule: str
    alarm: AlarmEvent
    step: int | None = None
    actuate: ActuateAction | None = None
    call: CallAction | None = None
    skip: str | None = None
    reason: str | None = None
    by: str | None = None
    via: str | None = None


@dataclass
class Chain:
    """One rule answering one alarm occurrence."""

    rule: str
    config: ResponseRule
    alarm: AlarmEvent
    started: float
    next_step: int = 0
    groups: set[str | None] = field(default_factory=set)  # called so far (None: a bulletin)

    def deadline(self) -> float | None:
        if self.next_step >= len(self.config.steps):
            return None
        return self.started + self.config.steps[self.next_step].after


class Chains:
    """Every running chain of one configuration."""

    def __init__(self, station: StationConfig, clock: Clock, uplink_up: Callable[[], bool]) -> None:
        self._station = station
        self._config = station.response
        self._clock = clock
        self._uplink_up = uplink_up
        self._chains: dict[tuple[str, str], Chain] = {}  # (rule, alarm_key) -> chain
        self._last_done: dict[tuple, float] = {}  # (rule, what) -> when it was last done
        self._resets: dict[str, tuple[float, Planned]] = {}  # actuator -> (when, its switch back)
        self._radio_acks: dict[str, str] = {}  # alarm_key -> the radio whose reply acknowledged it

    def reconfigure(self, station: StationConfig) -> list[Planned]:
        """A reloaded configuration: what is running goes on under the new rules.

        A chain carries on at its next step under its rule's new steps (ended if
        the rule is gone); a switch-back keeps the time it was promised for, so
        a reload never leaves a siren sounding.
        """
        self._station = station
        self._config = station.response
        planned = []
        for key, chain in list(self._chains.items()):
            rule = self._config.rules.get(chain.rule)
            if rule is None:
                del self._chains[key]
                planned.append(Planned("ended", chain.rule, chain.alarm, reason=RULE_REMOVED))
            else:
                chain.config = rule
        return planned

    # -- what comes in ----------------------------------------------------------------
    def observe(self, events: Iterable[Envelope]) -> list[Planned]:
        """Committed events: chains start and end; what is due at once is returned."""
        planned: list[Planned] = []
        for event in events:
            if isinstance(event, AlarmEvent):
                planned.extend(self._alarm(event))
        return planned + self.due()

    def radio_reply(self, message: RadioTraffic) -> list[str]:
        """The alarm keys a radio's reply acknowledges: an ack word from a radio the chain called."""
        if message.event != "message" or message.radio is None or not self._config.is_ack(message.text):
            return []
        radio = message.radio.radio.upper()
        keys = sorted(
            {chain.alarm.alarm_key for chain in self._chains.values() if self._called(chain, radio)}
        )
        for key in keys:
            self._radio_acks[key] = radio
        return keys

    def _called(self, chain: Chain, radio: str) -> bool:
        """Whether ``radio`` was called by ``chain``: in a called group, or registered for a bulletin."""
        radios = self._station.radios
        if radios is None:
            return False
        if None in chain.groups:
            return radio in {name.upper() for name in radios.registry}
        members = {
            member.upper() for group in chain.groups if group for member in radios.groups.get(group, [])
        }
        return radio in members

    def _alarm(self, event: AlarmEvent) -> list[Planned]:
        if event.transition in ENDS:
            return self._end(event, ENDS[event.transition])
        if event.transition not in STARTS or event.state is not AlarmState.ACTIVE_UNACK:
            return []
        if event.shelved or event.suppressed:
            return []
        for name, rule in self._config.rules.items():
            key = (name, event.alarm_key)
            running = self._chains.get(key)
            if running is not None and event.transition is Transition.LEVEL_CHANGED:
                continue  # the chain answering this occurrence keeps going
            if self._matches(rule, event):
                self._chains[key] = Chain(name, rule, event, self._clock.monotonic())
        return []

    def _matches(self, rule: ResponseRule, event: AlarmEvent) -> bool:
        match = rule.match
        zones = self._station.zones
        in_zone = any(
            event.source.device == zone or event.source.device in zones[zone].devices
            for zone in match.zone
            if zone in zones
        )
        return (
            event.grade.rank >= match.grade.rank
            and (not match.kind or event.kind in match.kind)
            and (not match.device or event.source.device in match.device)
            and (not match.zone or in_zone)
            and event.status in match.status
        )

    def _end(self, event: AlarmEvent, why: str) -> list[Planned]:
        ended = [key for key in self._chains if key[1] == event.alarm_key]
        radio = self._radio_acks.pop(event.alarm_key, None)
        planned = []
        for key in ended:
            chain = self._chains.pop(key)
            if why == "acknowledged":
                by = radio or event.acknowledged_by
                via = "radio" if radio else "operator"
                planned.append(Planned("acknowledged", chain.rule, chain.alarm, by=by, via=via))
            else:
                planned.append(Planned("ended", chain.rule, chain.alarm, reason=why))
        return planned

    # -- what time brings -------------------------------------------------------------
    def next_deadline(self) -> float | None:
        """When something is next due (monotonic), or None."""
        deadlines = [d for chain in self._chains.values() if (d := chain.deadline()) is not None]
        deadlines += [at for at, _ in self._resets.values()]
        return min(deadlines, default=None)

    def due(self) -> list[Planned]:
        """Every step and switch-back whose time has come, in order."""
        now = self._clock.monotonic()
        planned: list[Planned] = []
        for actuator, (at, reset) in list(self._resets.items()):
            if at <= now:
                del self._resets[actuator]
                planned.append(reset)
        for chain in list(self._chains.values()):
            while (deadline := chain.deadline()) is not None and deadline <= now:
                planned.extend(self._step(chain, chain.next_step, now))
                chain.next_step += 1
        return planned

    def _step(self, chain: Chain, index: int, now: float) -> list[Planned]:
        step = chain.config.steps[index]
        if chain.config.when == "uplink_down" and self._uplink_up():
            return []  # the district hears the station: this rule is for when it cannot
        planned = []
        if step.actuate is not None:
            skip = None
            if chain.alarm.status is not EventStatus.ACTUAL and not chain.config.exercise:
                skip = EXERCISE_SILENT
            planned.append(self._guarded(chain, index, now, "actuate", step.actuate, skip))
            if skip is None and step.actuate.value != step.actuate.reset:
                self._resets[step.actuate.actuator] = (
                    now + step.actuate.max_on,
                    self._reset(chain, step.actuate),
                )
        if step.call is not None:
            chain.groups.add(step.call.group)
            planned.append(self._guarded(chain, index, now, "call", step.call, None))
        return planned

    def _guarded(
        self,
        chain: Chain,
        index: int,
        now: float,
        action: Literal["actuate", "call"],
        what: ActuateAction | CallAction,
        skip: str | None,
    ) -> Planned:
        """The action, or its skipped report when the same one was done less than ``min_interval`` ago."""
        key = (chain.rule, what)
        last = self._last_done.get(key)
        if skip is None and last is not None and now - last < self._config.min_interval:
            interval = self._config.min_interval
            skip = f"done {now - last:.0f}s ago; not repeated within min_interval ({interval:g}s)"
        if skip is None:
            self._last_done[key] = now
        actuate = what if isinstance(what, ActuateAction) else None
        call = what if isinstance(what, CallAction) else None
        return Planned(action, chain.rule, chain.alarm, step=index, actuate=actuate, call=call, skip=skip)

    def _reset(self, chain: Chain, actuate: ActuateAction) -> Planned:
        back = actuate.model_copy(update={"value": actuate.reset})
        reason = f"maximum on-time {actuate.max_on:g}s reached"
        return Planned("reset", chain.rule, chain.alarm, actuate=back, reason=reason)
