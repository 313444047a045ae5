"""Alarm quality: replay recorded-shape sensor traces through the real engine.

A trace (``simulators/corpus/traces/*.yaml``) describes what one device reads, poll by
poll, in segments (steady values with noise, ramps, explicit samples, bits,
dropouts), or as plain recorded samples of one point (``point: level`` and
``samples: [[t, value or null], ...]``, null: the device did not answer; the
other points hold what ``set`` gives them), and the alarms it must produce: each with its grade, the moment
the true event starts (``onset``) and its latency budget (``within``). The
replay runs :class:`AlarmEngine` with simulated time, so an hour of rising
water takes milliseconds. Every expected alarm must come within its budget,
and every other raise or escalation counts as a nuisance alarm.

``python -m simulators.corpus.replay [DIR] [--json FILE]`` prints the detection
rate, the nuisance count and the time to alarm over the corpus.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import Field, model_validator

from drivers.observation import DeviceFault, FaultCategory, Observation, PollOutcome
from gateway.alarms.clock import ManualClock
from gateway.alarms.engine import AlarmEngine
from gateway.config import LoadedConfig, load_config
from gateway.config.types import Identifier, Seconds, Strict
from gateway.contract.events import AlarmEvent, EventStatus, Transition
from gateway.contract.levels import Grade

DEFAULT_DIR = Path(__file__).resolve().parent / "traces"
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)


class Segment(Strict):
    """A stretch of polls: ``duration`` long, or one poll per entry of ``values``.

    Keys name a point of the trace's device (``gas``) or of another device it
    polls (``kitchen-smoke.fire_alarm``).
    """

    duration: Seconds = 0.0
    set: dict[str, float | bool] = Field(default_factory=dict)  # from here on
    ramp: dict[str, tuple[float, float]] = Field(default_factory=dict)  # linear over the segment
    noise: dict[str, float] = Field(default_factory=dict)  # gaussian sd, this segment only
    values: dict[str, list[float]] = Field(default_factory=dict)  # explicit samples
    offline: bool = False  # the trace's device does not answer


class Expected(Strict):
    alarm: Identifier  # the rule name (``fault`` for a device's health, ``confirmed`` for a zone)
    device: Identifier | None = None  # default: any device (or zone) of the trace
    grade: Grade
    onset: Seconds  # when the true event starts, from the start of the trace
    within: Seconds  # latency budget
    count: int = Field(default=1, ge=1)  # raises this expectation explains (a chatter is 3)
    status: EventStatus = EventStatus.ACTUAL
    chattering: bool = False

    def matches(self, event: AlarmEvent) -> bool:
        _, device, rule = event.alarm_key.split(".")
        return rule == self.alarm and self.device in (None, device) and event.grade == self.grade


class Trace(Strict):
    description: str
    device: Identifier
    also: list[Identifier] = Field(default_factory=list)  # other devices polled with it
    interval: Seconds = 1.0
    seed: int = 0
    segments: list[Segment] = Field(default_factory=list)
    # Or a recording: one sample per poll of ``point``, at its own time, other points as ``set``.
    point: Identifier | None = None
    samples: list[tuple[float, float | bool | None]] = Field(default_factory=list)
    set: dict[str, float | bool] = Field(default_factory=dict)
    expect: list[Expected] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if bool(self.segments) == bool(self.samples):
            raise ValueError("give either 'segments' or 'samples'")
        if self.samples and self.point is None:
            raise ValueError("'samples' need 'point': the point they are readings of")
        return self


Readings = dict[str, dict[str, float | bool] | None]  # device -> its readings, None: no answer


@dataclass
class TraceResult:
    name: str
    description: str
    expected: int
    detected: int
    latencies: list[float] = field(default_factory=list)
    nuisance: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.detected == self.expected and not self.nuisance and not self.problems


def _samples(trace: Trace, points: dict[str, dict[str, bool]]) -> Iterator[tuple[float, Readings]]:
    """(time, what every device reads) for every poll of the trace."""
    rng = random.Random(trace.seed)
    state = {(d, name): False if flag else 0.0 for d, names in points.items() for name, flag in names.items()}

    def key(name: str) -> tuple[str, str]:
        device, _, point = name.rpartition(".")
        found = (device or trace.device, point)
        if found not in state:
            raise ValueError(f"no point {name!r} among the trace's devices")
        return found

    state.update((key(name), value) for name, value in trace.set.items())
    for moment, value in trace.samples:
        assert trace.point is not None
        if value is not None:
            state[key(trace.point)] = value
        recorded: Readings = {d: {p: state[d, p] for p in names} for d, names in points.items()}
        if value is None:
            recorded[trace.device] = None
        yield moment, recorded
    t = 0.0
    for segment in trace.segments:
        state.update((key(name), value) for name, value in segment.set.items())
        explicit = max((len(v) for v in segment.values.values()), default=0)
        polls = explicit or max(1, round(segment.duration / trace.interval))
        for i in range(polls):
            for name, (start, end) in segment.ramp.items():
                state[key(name)] = start + (end - start) * (i + 1) / polls
            for name, series in segment.values.items():
                state[key(name)] = series[min(i, len(series) - 1)]
            reading = dict(state)
            for name, sd in segment.noise.items():
                # Registers of these sensors are unsigned: noise never reads below zero.
                reading[key(name)] = max(0.0, float(reading[key(name)]) + rng.gauss(0.0, sd))
            readings: Readings = {d: {p: reading[d, p] for p in names} for d, names in points.items()}
            if segment.offline:
                readings[trace.device] = None
            yield t, readings
            t += trace.interval


def replay(config: LoadedConfig, trace: Trace) -> list[tuple[float, AlarmEvent]]:
    """Every alarm event of the trace, with its simulated time."""
    counter = itertools.count(1)

    def stamp() -> dict[str, Any]:
        n = next(counter)
        return {"id": f"e{n}", "station": config.station.station.id, "seq": n, "created_at": EPOCH}

    clock = ManualClock(EPOCH)
    engine = AlarmEngine(config, stamp, clock=clock)
    devices = [trace.device, *trace.also]
    points = {d: {p.name: p.is_flag for p in config.register_points(d)} for d in devices}
    events: list[tuple[float, AlarmEvent]] = []
    for t, readings in _samples(trace, points):
        observed = EPOCH + timedelta(seconds=t)
        produced = []
        for device, reading in readings.items():
            if reading is None:
                fault = DeviceFault(FaultCategory.TIMEOUT, "no response")
                produced += engine.handle(PollOutcome(device, observed, t, fault=fault))
            else:
                observations = tuple(Observation(device, n, v, None, observed) for n, v in reading.items())
                produced += engine.handle(PollOutcome(device, observed, t, observations=observations))
        clock.set(t)
        produced += engine.tick()
        events.extend((t, e) for e in produced if isinstance(e, AlarmEvent))
    return events


def judge(name: str, config: LoadedConfig, trace: Trace) -> TraceResult:
    """Match the produced alarms against the expected ones."""
    result = TraceResult(name, trace.description, expected=len(trace.expect), detected=0)
    events = replay(config, trace)
    used: dict[int, int] = {}
    grades: dict[str, Grade] = {}
    for t, event in events:
        before = grades.get(event.alarm_key)
        grades[event.alarm_key] = event.grade
        escalated = event.transition is Transition.LEVEL_CHANGED and before and event.grade.rank > before.rank
        if event.transition is not Transition.RAISED and not escalated:
            continue  # only a raise or an escalation announces something new
        name = event.alarm_key.split(".", 1)[1]
        match = next(
            (
                i
                for i, e in enumerate(trace.expect)
                if e.matches(event) and t >= e.onset and used.get(i, 0) < e.count
            ),
            None,
        )
        if match is None:
            result.nuisance.append(f"{t:g}s {event.transition} {name} {event.grade}: {event.message}")
            continue
        expectation = trace.expect[match]
        if used.get(match, 0) == 0:
            latency = t - expectation.onset
            if latency <= expectation.within:
                result.detected += 1
                result.latencies.append(latency)
            else:
                result.problems.append(
                    f"{name} {event.grade} after {latency:g}s, budget {expectation.within:g}s"
                )
            if event.status is not expectation.status:
                result.problems.append(f"{name} has status {event.status}, expected {expectation.status}")
        used[match] = used.get(match, 0) + 1
    for i, expectation in enumerate(trace.expect):
        if not used.get(i):
            result.problems.append(
                f"missed: {expectation.alarm} {expectation.grade} from {expectation.onset:g}s"
            )
        if expectation.chattering and not any(e.chattering for _, e in events if expectation.matches(e)):
            result.problems.append(f"{expectation.alarm} was never flagged as chattering")
    return result


def load_trace(path: Path) -> Trace:
    return Trace.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def run_corpus(directory: Path = DEFAULT_DIR) -> list[TraceResult]:
    """Every ``*.yaml`` trace of ``directory`` against the station in its ``station.yaml``."""
    config = load_config(directory / "station.yaml")
    traces = sorted(p for p in directory.glob("*.yaml") if p.name != "station.yaml")
    return [judge(p.stem, config, load_trace(p)) for p in traces]


def summary(results: list[TraceResult]) -> dict[str, Any]:
    latencies = [x for r in results for x in r.latencies]
    expected = sum(r.expected for r in results)
    detected = sum(r.detected for r in results)
    return {
        "traces": len(results),
        "passed": sum(r.passed for r in results),
        "expected_alarms": expected,
        "detected": detected,
        "detection_rate": detected / expected if expected else 1.0,
        "nuisance_alarms": sum(len(r.nuisance) for r in results),
        "time_to_alarm_s": {
            "mean": statistics.fmean(latencies) if latencies else None,
            "median": statistics.median(latencies) if latencies else None,
            "max": max(latencies) if latencies else None,
        },
        "results": [
            {
                "trace": r.name,
                "passed": r.passed,
                "expected": r.expected,
                "detected": r.detected,
                "latencies_s": r.latencies,
                "nuisance": r.nuisance,
                "problems": r.problems,
            }
            for r in results
        ],
    }


def _print(report: dict[str, Any]) -> None:
    for r in report["results"]:
        latencies = ", ".join(f"{x:g}s" for x in r["latencies_s"]) or "-"
        verdict = "ok  " if r["passed"] else "FAIL"
        print(
            f"{verdict} {r['trace']:<32} detected {r['detected']}/{r['expected']}  time to alarm {latencies}"
        )
        for line in r["nuisance"]:
            print(f"       nuisance: {line}")
        for line in r["problems"]:
            print(f"       {line}")
    tta = report["time_to_alarm_s"]
    print(
        f"\n{report['traces']} traces, {report['passed']} passed; "
        f"detection rate {report['detection_rate']:.1%} ({report['detected']}/{report['expected_alarms']}); "
        f"nuisance alarms {report['nuisance_alarms']}; "
        f"time to alarm mean {tta['mean'] or 0:.1f} s, median {tta['median'] or 0:.1f} s, "
        f"max {tta['max'] or 0:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.corpus.replay", description=__doc__.split("\n")[0]
    )
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    report = summary(run_corpus(args.directory))
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if report["passed"] == report["traces"] else 1


if __name__ == "__main__":
    sys.exit(main())
