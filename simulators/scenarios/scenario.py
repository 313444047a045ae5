"""Scenario files: a timeline of what happens to a simulated station, and what must follow.

```yaml
name: Kitchen gas leak
station: ../station.example.yaml      # relative to this file; default: the example station
seed: 7                               # noise is drawn from this: every run plays the same values
overrides:                            # merged over the station file (shorter polls, smaller floods)
  devices: {kitchen-gas: {poll_interval: 500ms}}
initial:                              # values before the gateway starts
  kitchen-gas: {gas: 0}
steps:
  - {at: 1s, name: leak, ramp: {device: kitchen-gas, point: gas, from: 2, to: 30, over: 2s}}
  - {at: 5s, set: {device: kitchen-gas, point: gas, value: 1}}
expect:
  - {alarm: kitchen-gas.gas, transition: raised, grade: first-stage, after: leak, within: 5s}
never:
  - {alarm: boiler-gas}                 # no false alarm from the boiler room
```

With radios: steps ``press: BH4ABC-7``, ``message: {radio, text}`` and
``ack: {alarm: radio-bh4abc-7.sos}`` (the platform's ack command), and a
``hear:`` list of what a simulated handheld must hear (``{radio, text, after,
within}``), judged on the handheld rather than at the platform. What the
station does by itself (a response rule's siren) is an ``actuators:`` list
(``{actuator, value, after, within}``), judged on the simulated unit the
actuator's coil or register is on: it holds for a broker that is down.

Validated like the station file: every problem names the file, line and key.
Device, point, bus, fault and radio names are checked against the station (with
the overrides applied), and ``after`` against the step names, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.config import ConfigError, LoadedConfig, load_config
from gateway.config.errors import ConfigIssue
from gateway.config.paths import example_station
from gateway.config.types import Identifier, Seconds, Strict
from gateway.config.validation import validate
from gateway.config.yaml_source import LineMap, load_yaml
from gateway.contract.events import Transition
from gateway.contract.levels import Grade
from gateway.radio.alarms import radio_device
from simulators.station.controls import (
    Fault,
    actuator_problem,
    bus_problem,
    device_problem,
    fault_problem,
    radio_problem,
)
from simulators.station.gateway_config import merged, relocatable, write_yaml

Positive = Annotated[Seconds, Field(gt=0)]


class SetAction(Strict):
    device: Identifier
    point: Identifier
    value: float | bool


class RampAction(Strict):
    """``from`` to ``to`` in a straight line over ``over``, a new value every ``every``."""

    device: Identifier
    point: Identifier
    start: float = Field(alias="from")
    to: float
    over: Positive
    every: Positive = 0.25


class NoiseAction(Strict):
    """Uniform noise of ``amplitude`` around ``around`` for ``over``; then back to ``around``."""

    device: Identifier
    point: Identifier
    around: float
    amplitude: float = Field(gt=0)
    over: Positive
    every: Positive = 0.25


class FaultAction(Strict):
    device: Identifier
    fault: Fault


class MessageAction(Strict):
    """A text from a simulated handheld to the gateway."""

    radio: str = Field(min_length=1)
    text: str = Field(min_length=1, max_length=67)


class AckAction(Strict):
    """The platform acknowledges an alarm: a signed ``ack`` command, as the duty officer's."""

    alarm: str = Field(min_length=1)  # without the station id: radio-bh4abc-7.sos
    by: str = "duty officer"


ACTIONS = (
    "set",
    "ramp",
    "noise",
    "fault",
    "unplug",
    "replug",
    "broker",
    "gateway",
    "press",
    "message",
    "ack",
)


class Step(Strict):
    """At ``at`` seconds after the station is up, exactly one thing happens."""

    at: Seconds
    name: Identifier | None = None
    set: SetAction | None = None
    ramp: RampAction | None = None
    noise: NoiseAction | None = None
    fault: FaultAction | None = None
    unplug: Identifier | None = None
    replug: Identifier | None = None
    broker: Literal["stop", "start"] | None = None
    gateway: Literal["kill", "restart"] | None = None  # kill: SIGKILL, as a power cut
    press: str | None = Field(default=None, min_length=1)  # a simulated radio's emergency key
    message: MessageAction | None = None
    ack: AckAction | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Self:
        given = [name for name in ACTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "step",
                "a step does exactly one of {actions}; this one has {given}",
                {"actions": ", ".join(ACTIONS), "given": ", ".join(given) or "none"},
            )
        return self

    @property
    def action(self) -> str:
        return next(name for name in ACTIONS if getattr(self, name) is not None)

    def describe(self) -> str:
        value = getattr(self, self.action)
        if isinstance(value, Strict):
            details = " ".join(f"{k}={v}" for k, v in value.model_dump(by_alias=True).items())
            return f"{self.action} {details}"
        return f"{self.action} {value}"


class AlarmMatch(Strict):
    """Alarm events of one alarm (``kitchen-gas.gas``) or of every alarm of a device (``boiler-gas``)."""

    alarm: str = Field(min_length=1)
    transition: Transition | None = None
    grade: Grade | None = None
    kind: str | None = None  # e.g. radio_sos
    latched: bool | None = None
    after: Identifier | None = None  # a step's name; default: the start of the timeline

    def matches(self, payload: dict[str, Any]) -> bool:
        key = payload.get("alarm_key", "")
        rest = key.split(".", 1)[1] if "." in key else key  # without the station id
        return (
            (rest == self.alarm or rest.startswith(f"{self.alarm}."))
            and (self.transition is None or payload.get("transition") == self.transition)
            and (self.grade is None or payload.get("grade") == self.grade)
            and (self.kind is None or payload.get("kind") == self.kind)
            and (self.latched is None or payload.get("latched") is self.latched)
        )

    def describe(self) -> str:
        parts = [self.alarm, self.transition or "any transition"]
        if self.grade:
            parts.append(self.grade)
        if self.kind:
            parts.append(self.kind)
        if self.latched is not None:
            parts.append("latched" if self.latched else "not latched")
        return " ".join(parts)


class Expect(AlarmMatch):
    """This event must reach the platform within ``within`` of the step ``after``."""

    transition: Transition
    within: Positive


class Heard(Strict):
    """A simulated handheld must hear a message with ``text`` within ``within`` of ``after``."""

    radio: str = Field(min_length=1)
    text: str = Field(min_length=1)  # part of the message's text
    after: Identifier | None = None
    within: Positive

    def describe(self) -> str:
        return f"{self.radio} hears {self.text!r}"


class Switched(Strict):
    """The gateway must switch ``actuator`` to ``value`` within ``within`` of ``after``."""

    actuator: Identifier
    value: Identifier
    after: Identifier | None = None
    within: Positive

    def describe(self) -> str:
        return f"{self.actuator} is {self.value}"


class Scenario(Strict):
    """A whole scenario file; see the module docstring for an example."""

    name: str
    description: str = ""
    station: Path | None = None
    seed: int = 0
    overrides: dict[str, Any] = Field(default_factory=dict)
    initial: dict[Identifier, dict[Identifier, float | bool]] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    expect: list[Expect] = Field(min_length=1)
    hear: list[Heard] = Field(default_factory=list)  # what simulated handhelds must hear
    actuators: list[Switched] = Field(default_factory=list)  # what the simulated units must be switched to
    never: list[AlarmMatch] = Field(default_factory=list)
    hold: Seconds = 1.0  # how long to keep listening after the last step and expectation


@dataclass(frozen=True)
class LoadedScenario:
    """A checked scenario with the station it runs against (overrides applied, loaded)."""

    path: Path
    scenario: Scenario
    station_file: Path  # the station with the overrides applied, profiles_dir absolute
    station_data: dict[str, Any]
    config: LoadedConfig


def load_scenario(path: Path, work_dir: Path) -> LoadedScenario:
    """Read and check ``path``; the station with its overrides is written into ``work_dir``.

    Raises :class:`ConfigError` listing every problem.
    """
    path = Path(path)
    data, lines = load_yaml(path)
    issues: list[ConfigIssue] = []
    scenario = validate(Scenario, data, lines, issues)
    if scenario is None:
        raise ConfigError(issues)
    source = (path.parent / scenario.station).resolve() if scenario.station else example_station()
    load_config(source)  # the station's own problems, at their own lines
    station_data, _ = load_yaml(source)
    station_data = merged(relocatable(station_data or {}, source), scenario.overrides)
    station_file = write_yaml(
        station_data,
        work_dir / f"{path.stem}.station.yaml",
        comment=f"{source} with the overrides of {path.name}",
    )
    try:
        config = load_config(station_file)
    except ConfigError as exc:
        raise ConfigError(_in_overrides(issue, station_file, lines) for issue in exc.issues) from None
    _check_names(scenario, config, lines, issues)
    if issues:
        raise ConfigError(issues)
    return LoadedScenario(path, scenario, station_file, station_data, config)


def _in_overrides(issue: ConfigIssue, station_file: Path, lines: LineMap) -> ConfigIssue:
    """A problem of the merged station, pointed at the scenario's ``overrides`` that caused it."""
    if issue.file != station_file:
        return issue  # in a profile: its own file and line
    path = tuple(int(p) if p.isdigit() else p for p in issue.key.split(".")) if issue.key else ()
    _, line = lines.line_of(("overrides", *path))
    return ConfigIssue(
        lines.file, line, f"overrides.{issue.key}" if issue.key else "overrides", issue.message
    )


def _check_names(scenario: Scenario, config: LoadedConfig, lines: LineMap, issues: list[ConfigIssue]) -> None:
    def issue(path: tuple, problem: str | None) -> None:
        if problem is not None:
            issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(map(str, path)), problem))

    for device, points in scenario.initial.items():
        if problem := device_problem(config, device):
            issue(("initial", device), problem)
            continue
        for point in points:
            issue(("initial", device, point), device_problem(config, device, point))
    names: dict[str, int] = {}
    for index, step in enumerate(scenario.steps):
        at = ("steps", index)
        if step.name is not None:
            if step.name in names:
                issue((*at, "name"), f"step name {step.name!r} is already step {names[step.name]}'s")
            names.setdefault(step.name, index)
        action = getattr(step, step.action)
        if isinstance(action, SetAction | RampAction | NoiseAction):
            if problem := device_problem(config, action.device):
                issue((*at, step.action, "device"), problem)
            else:
                issue((*at, step.action, "point"), device_problem(config, action.device, action.point))
        elif isinstance(action, FaultAction):
            issue((*at, "fault", "device"), fault_problem(config, action.device, action.fault))
        elif step.action in ("unplug", "replug"):
            issue((*at, step.action), bus_problem(config, action))
        elif step.action == "press":
            issue((*at, "press"), radio_problem(config, action))
        elif isinstance(action, MessageAction):
            issue((*at, "message", "radio"), radio_problem(config, action.radio, text=True))
    sources = _alarm_sources(config)

    def source_issue(path: tuple, alarm: str) -> None:
        source = alarm.split(".", 1)[0]
        if source not in sources:
            issue(path, f"no alarm source {source!r} (sources: {', '.join(sorted(sources))})")

    for index, step in enumerate(scenario.steps):
        if step.ack is not None:
            source_issue(("steps", index, "ack", "alarm"), step.ack.alarm)
    for index, heard in enumerate(scenario.hear):
        issue(("hear", index, "radio"), radio_problem(config, heard.radio, text=True))
        if heard.after is not None and heard.after not in names:
            issue(
                ("hear", index, "after"), f"no step named {heard.after!r} (steps named: {', '.join(names)})"
            )
    for index, switched in enumerate(scenario.actuators):
        issue(("actuators", index), actuator_problem(config, switched.actuator, switched.value))
        if switched.after is not None and switched.after not in names:
            known = ", ".join(names) or "none"
            issue(("actuators", index, "after"), f"no step named {switched.after!r} (steps named: {known})")
    for section, entries in (("expect", scenario.expect), ("never", scenario.never)):
        for index, entry in enumerate(entries):
            source_issue((section, index, "alarm"), entry.alarm)
            if entry.after is not None and entry.after not in names:
                known = ", ".join(names) or "none"
                issue((section, index, "after"), f"no step named {entry.after!r} (steps named: {known})")


def _alarm_sources(config: LoadedConfig) -> set[str]:
    """What an alarm key may start with: devices, the station, zones, radios and radio bridges."""
    sources = {*config.station.devices, "station", *(f"zone-{zone}" for zone in config.station.zones)}
    if config.station.radios is not None:
        sources |= {radio_device(radio) for radio in config.station.radios.registry}
        sources |= {f"radio-bridge-{bridge}" for bridge in config.station.radios.bridges}
    return sources
