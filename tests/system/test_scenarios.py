"""Scenario files played end to end: the simulated example station, ``outpost run`` as a real
process, a real Mosquitto (stopped and restarted where the scenario cuts the link), and the
platform's subscriber judging every expectation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.config.paths import bundled_config_dir, example_station
from simulators.scenarios.runner import Broker, run_scenario
from simulators.scenarios.scenario import load_scenario
from tests.support.peers import outpost

SCENARIOS = sorted((bundled_config_dir() / "scenarios").glob("*.yaml"))
SLOW = {"power-cut", "river-rising", "rs485-unplugged"}


def restartable(mosquitto) -> Broker:
    return Broker(
        mosquitto.url,
        "mqtt5",
        stop=lambda: asyncio.to_thread(mosquitto.stop),
        start=lambda: asyncio.to_thread(mosquitto.start),
    )


def test_every_bundled_scenario_is_here():
    assert {path.stem for path in SCENARIOS} >= {
        "kitchen-gas-leak",
        "fire-two-detectors",
        "river-rising",
        "power-cut",
        "rs485-unplugged",
        "alarm-flood",
        "uplink-down-kitchen-fire",
    }


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else []) for p in SCENARIOS],
)
async def test_a_bundled_scenario_meets_every_expectation(path: Path, tmp_path, mosquitto):
    loaded = load_scenario(path, tmp_path)
    report = await run_scenario(loaded, restartable(mosquitto), tmp_path)
    assert report.passed, report.text() + "\n" + (tmp_path / "gateway.log").read_text()[-3000:]
    expected = [v for v in report.verdicts if v.kind == "expect"]
    assert len(expected) == len(loaded.scenario.expect)
    assert all(v.latency_s is not None and v.latency_s <= v.within_s for v in expected)


def write(path: Path, text: str) -> Path:
    path.write_text(text.replace("STATION", str(example_station())))
    return path


async def test_a_scenario_whose_expectation_is_wrong_fails_with_the_reason(tmp_path, mosquitto):
    scenario = write(
        tmp_path / "wrong.yaml",
        """name: Wrong expectations
station: STATION
overrides: {devices: {kitchen-gas: {poll_interval: 500ms}}}
steps:
  - {at: 0.5s, name: leak, set: {device: kitchen-gas, point: gas, value: 30}}
expect:
  - {alarm: kitchen-gas.gas, transition: raised, grade: second-stage, after: leak, within: 3s}
never:
  - {alarm: kitchen-gas.gas, transition: raised}
""",
    )
    result = await asyncio.to_thread(
        outpost,
        "sim",
        "scenario",
        str(scenario),
        "--expect",
        "--json",
        "--broker",
        mosquitto.url,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is False
    wrong, never = report["results"]
    assert (wrong["ok"], wrong["detail"]) == (False, "not received within 3s")
    # What did arrive is the first stage: a false alarm for this scenario's `never`.
    assert never["ok"] is False
    assert "kitchen-gas.gas raised first-stage" in never["detail"]


def test_a_broken_scenario_names_file_line_and_key(tmp_path):
    scenario = write(
        tmp_path / "broken.yaml",
        """name: Broken
station: STATION
steps:
  - {at: 1s, set: {device: kitchen-gaz, point: gas, value: 30}}
  - {at: 2s, fault: {device: culvert-level, fault: noise}}
  - {at: 3s, unplug: rs485, replug: rs485}
expect:
  - {alarm: kitchen-gas.gas, transition: raised, after: leak, within: 3s}
  - {alarm: kitchen-gas.gas, transition: raised, withn: 3s}
""",
    )
    result = outpost("sim", "scenario", str(scenario), "--expect")
    assert result.returncode == 1
    problems = result.stderr.splitlines()
    assert "broken.yaml:6: steps.2: a step does exactly one of" in result.stderr
    assert "broken.yaml:9: expect.1.within: required key is missing" in problems
    assert any(
        p.startswith("broken.yaml:9: expect.1.withn: unknown key; did you mean 'within'?") for p in problems
    )
    assert "3 problem(s)" in problems[-1]
    # Names are checked against the station once the file itself is well-formed.
    write(
        scenario,
        scenario.read_text()
        .replace("  - {at: 3s, unplug: rs485, replug: rs485}\n", "")
        .replace("withn", "within"),
    )
    problems = outpost("sim", "scenario", str(scenario)).stderr.splitlines()
    assert problems[:3] == [
        "broken.yaml:4: steps.0.set.device: no device 'kitchen-gaz' (devices: kitchen-gas, boiler-gas, "
        "corridor-smoke-1, corridor-smoke-2, pump-pit-gas, vehicle-bay-co, gas-meter-methane, culvert-level)",
        "broken.yaml:5: steps.1.fault.device: culvert-level is on a modbus-tcp bus: noise cannot be "
        "simulated there (possible: silent, exception, normal)",
        "broken.yaml:7: expect.0.after: no step named 'leak' (steps named: none)",
    ]


@pytest.mark.slow
def test_the_scenario_command_brings_its_own_broker_and_reports_latencies_as_json():
    kitchen = bundled_config_dir() / "scenarios" / "kitchen-gas-leak.yaml"
    result = outpost("sim", "scenario", str(kitchen), "--expect", "--json", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is True
    raised = report["results"][0]
    assert (raised["what"], raised["after"], raised["ok"]) == (
        "kitchen-gas.gas raised first-stage",
        "leak",
        True,
    )
    assert 0 < raised["latency_s"] <= 5


def test_a_bad_override_is_named_in_the_scenario_not_in_the_merged_station(tmp_path):
    scenario = write(
        tmp_path / "override.yaml",
        """name: Bad override
station: STATION
overrides:
  devices:
    kitchen-gas:
      poll_interval: fast
steps:
  - {at: 1s, set: {device: kitchen-gas, point: gas, value: 30}}
expect:
  - {alarm: kitchen-gas.gas, transition: raised, within: 3s}
""",
    )
    result = outpost("sim", "scenario", str(scenario))
    assert result.returncode == 1
    assert result.stderr.startswith(
        "override.yaml:6: overrides.devices.kitchen-gas.poll_interval: must be a duration"
    ), result.stderr


def test_radio_names_in_a_scenario_are_checked_against_the_registry(tmp_path):
    scenario = tmp_path / "radios.yaml"
    scenario.write_text(
        f"""name: Wrong radios
station: {bundled_config_dir() / "station.radio.example.yaml"}
steps:
  - {{at: 1s, name: press, press: BH4XXX-1}}
  - {{at: 2s, message: {{radio: "1234", text: hello}}}}
  - {{at: 3s, ack: {{alarm: radio-nobody.sos}}}}
expect:
  - {{alarm: radio-bh4abc-7.sos, transition: raised, after: press, within: 3s}}
hear:
  - {{radio: BH4DEF-9, text: Help, after: acked, within: 3s}}
"""
    )
    problems = outpost("sim", "scenario", str(scenario)).stderr.splitlines()
    assert problems[:4] == [
        "radios.yaml:4: steps.0.press: no simulated radio 'BH4XXX-1' "
        "(radios: BH4ABC-7, BH4DEF-9, BH4GHI-5, 1234)",
        "radios.yaml:5: steps.1.message.radio: no handheld that sends texts '1234' "
        "(radios: BH4ABC-7, BH4DEF-9, BH4GHI-5)",
        "radios.yaml:6: steps.2.ack.alarm: no alarm source 'radio-nobody' (sources: radio-1234, "
        "radio-bh4abc-7, radio-bh4def-9, radio-bh4ghi-5, radio-bridge-handheld-tnc, "
        "radio-bridge-pendants, radio-bridge-vhf, station)",
        "radios.yaml:10: hear.0.after: no step named 'acked' (steps named: press)",
    ]


def test_actuator_expectations_are_checked_against_the_declared_actuators(tmp_path):
    bundled = bundled_config_dir() / "scenarios" / "uplink-down-kitchen-fire.yaml"
    text = bundled.read_text().replace("station: ../", f"station: {bundled_config_dir()}/")
    scenario = tmp_path / "actuators.yaml"
    scenario.write_text(
        text.replace('  - {actuator: kitchen-siren, value: "on", after: fire, within: 10s}\n', "").replace(
            "actuators:                             # judged on the simulated unit\n",
            "actuators:\n"
            '  - {actuator: kitchen-horn, value: "on", within: 10s}\n'
            "  - {actuator: kitchen-siren, value: loud, after: blaze, within: 10s}\n",
        )
    )
    problems = outpost("sim", "scenario", str(scenario)).stderr.splitlines()
    assert [p.split(": ", 1)[1] for p in problems[:3]] == [
        "actuators.0: no actuator 'kitchen-horn' (declared: kitchen-siren)",
        "actuators.1: kitchen-siren has no value 'loud' (values: on, off)",
        "actuators.1.after: no step named 'blaze' (steps named: link-down, fire, ack, link-up)",
    ]
