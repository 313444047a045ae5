"""What the ``response:`` rules name must exist: actuators and their values, radio groups, devices, zones."""

from __future__ import annotations

from gateway.config.errors import ConfigIssue
from gateway.config.models import StationConfig
from gateway.config.yaml_source import LineMap


def check_response(station: StationConfig, lines: LineMap) -> list[ConfigIssue]:
    """Every reference of every response rule, as file:line:key issues."""
    issues: list[ConfigIssue] = []

    def issue(path: tuple, message: str) -> None:
        issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(map(str, path)), message))

    groups = station.radios.groups if station.radios is not None else {}
    for name, rule in station.response.rules.items():
        base = ("response", "rules", name)
        for key, names in (("device", station.devices), ("zone", station.zones)):
            for index, value in enumerate(getattr(rule.match, key)):
                if value not in names:
                    issue(
                        (*base, "match", key, index),
                        f"no {key} {value!r} ({key}s: {', '.join(names) or 'none'})",
                    )
        for index, step in enumerate(rule.steps):
            where = (*base, "steps", index)
            if step.actuate is not None:
                actuator = station.actuators.get(step.actuate.actuator)
                if actuator is None:
                    known = ", ".join(station.actuators) or "none"
                    issue(
                        (*where, "actuate", "actuator"),
                        f"no actuator {step.actuate.actuator!r} (declared: {known})",
                    )
                else:
                    for key in ("value", "reset"):
                        value = getattr(step.actuate, key)
                        if value not in actuator.values:
                            allowed = ", ".join(actuator.values)
                            issue((*where, "actuate", key), f"{step.actuate.actuator} accepts only {allowed}")
            if step.call is not None:
                if station.radios is None:
                    issue((*where, "call"), "the station has no radios section to call on")
                elif step.call.group is not None and step.call.group not in groups:
                    known = ", ".join(groups) or "none"
                    issue((*where, "call", "group"), f"no radio group {step.call.group!r} (groups: {known})")
    return issues
