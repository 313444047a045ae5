"""Configuration: what a technician sees when the YAML is right and when it is wrong."""

from __future__ import annotations

from gateway.cli import main
from gateway.config import load_config
from gateway.config.paths import example_station
from tests.support.station_text import VALID, problems, write


def test_example_station_is_valid_and_summarised():
    config = load_config(example_station())
    assert set(config.station.devices) == {
        "kitchen-gas",
        "boiler-gas",
        "corridor-smoke-1",
        "corridor-smoke-2",
        "pump-pit-gas",
        "vehicle-bay-co",
        "gas-meter-methane",
        "culvert-level",
    }
    assert {bus.type for bus in config.station.buses.values()} == {
        "modbus-tcp",
        "modbus-rtu",
        "serial-line",
    }
    # A device override replaces the profile's thresholds for that device only.
    assert [r.at for r in config.rules["boiler-gas"]["gas"].high] == [15, 40]
    assert [r.at for r in config.rules["kitchen-gas"]["gas"].high] == [20, 50]
    assert "8 device(s)" in config.summary()


def test_out_of_range_value_names_file_line_key_and_expectation(tmp_path):
    path = write(tmp_path, VALID.replace("unit: 1", "unit: 300"))
    assert problems(path) == ["station.yaml:15: devices.kitchen-gas.unit: must be 1..247, got 300"]


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path):
    path = write(tmp_path, VALID.replace("    unit: 1\n", "    unit: 1\n    locaton: Kitchen\n"))
    [line] = problems(path)
    assert line.startswith(
        "station.yaml:16: devices.kitchen-gas.locaton: unknown key; did you mean 'location'?"
    )


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, VALID + "mqtt_broker: x\n")
    [line] = problems(path)
    assert line.startswith("station.yaml:17: mqtt_broker: unknown key")


def test_missing_required_key_points_at_its_parent(tmp_path):
    path = write(tmp_path, VALID.replace('  district: "310104"\n', ""))
    assert problems(path) == ["station.yaml:1: station.district: required key is missing"]


def test_bad_references_to_bus_and_profile(tmp_path):
    text = VALID.replace("bus: lan", "bus: rs485").replace("profile: gas-detector", "profile: gas-detectr")
    lines = problems(write(tmp_path, text))
    assert lines[0] == "station.yaml:14: devices.kitchen-gas.bus: no bus 'rs485' (buses: lan)"
    assert lines[1].startswith("station.yaml:16: devices.kitchen-gas.profile: no profile 'gas-detectr'")
    assert "gas-detector" in lines[1]


def test_unknown_bus_type_lists_the_known_ones(tmp_path):
    lines = problems(write(tmp_path, VALID.replace("type: modbus-tcp", "type: modbus-udp")))
    assert lines == [
        "station.yaml:10: buses.lan.type: unknown type 'modbus-udp' "
        "(expected 'modbus-tcp', 'modbus-rtu', 'serial-line')"
    ]


def test_duplicate_keys_and_units_are_errors(tmp_path):
    text = VALID + "  kitchen-gas:\n    bus: lan\n    profile: gas-detector\n"
    assert problems(write(tmp_path, text)) == [
        "station.yaml:17: devices.kitchen-gas: duplicate key (first given on line 13)"
    ]
    text = VALID + "  other-gas:\n    bus: lan\n    unit: 1\n    profile: gas-detector\n"
    assert problems(write(tmp_path, text)) == [
        "station.yaml:19: devices.other-gas.unit: unit 1 on bus lan is already kitchen-gas"
    ]


def test_yaml_syntax_error_has_a_line(tmp_path):
    [line] = problems(write(tmp_path, VALID.replace("  name: Test", "  name: [Test")))
    assert line.startswith("station.yaml:")
    assert "invalid YAML" in line


def test_durations_accept_units_and_reject_nonsense(tmp_path):
    config = load_config(write(tmp_path, VALID.replace("unit: 1", "unit: 1\n    poll_interval: 250ms")))
    assert config.station.devices["kitchen-gas"].poll_interval == 0.25
    [line] = problems(write(tmp_path, VALID.replace("unit: 1", "unit: 1\n    poll_interval: soon")))
    assert line == (
        "station.yaml:16: devices.kitchen-gas.poll_interval: "
        "must be a duration such as 500ms, 2s, 5m or seconds, got 'soon'"
    )


def test_override_of_an_alarm_the_profile_lacks(tmp_path):
    text = VALID + "    alarms:\n      smoke:\n        deadband: 1\n"
    [line] = problems(write(tmp_path, text))
    assert (
        line == "station.yaml:18: devices.kitchen-gas.alarms.smoke: "
        "profile gas-detector has no alarm 'smoke' (alarms: gas)"
    )


def test_override_that_breaks_the_ladder_is_reported_at_the_device(tmp_path):
    text = VALID + (
        "    alarms:\n      gas:\n        high:\n"
        "          - {level: first-stage, at: 50}\n          - {level: second-stage, at: 20}\n"
    )
    [line] = problems(write(tmp_path, text))
    assert line.startswith("station.yaml:18: devices.kitchen-gas.alarms.gas: 'high' rungs must go up")


def test_errors_in_a_profile_name_the_profile_file(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "odd-sensor.yaml").write_text(
        "description: odd\n"
        "points:\n"
        "  value:\n"
        "    register: holding\n"
        "    address: 0\n"
        "    type: u64\n"
        "alarms:\n"
        "  high:\n"
        "    kind: gas\n"
        "    point: valu\n"
        "    high: [{level: first-stage, at: 1}]\n"
    )
    text = VALID.replace("profiles_dir: {profiles}\n", "").replace("gas-detector", "odd-sensor")
    [line] = problems(write(tmp_path, text))
    assert line.startswith("odd-sensor.yaml:6: points.value.type: input should be 'u16', 's16'")
    (profiles / "odd-sensor.yaml").write_text(
        (profiles / "odd-sensor.yaml").read_text().replace("u64", "u16")
    )
    assert problems(write(tmp_path, text)) == [
        "odd-sensor.yaml:10: alarms.high.point: no point 'valu' (points: value)"
    ]


def test_every_problem_is_reported_at_once(tmp_path):
    text = VALID.replace("unit: 1", "unit: 0").replace("host: 127.0.0.1", "host: 127.0.0.1\n    port: 70000")
    assert len(problems(write(tmp_path, text))) == 2


def test_check_command_prints_a_summary_and_exits_zero(capsys):
    assert main(["check", str(example_station())]) == 0
    printed = capsys.readouterr().out
    assert "kitchen-gas" in printed
    assert "8 device(s)" in printed
    assert "alarm rule(s)" in printed


def test_check_command_exits_nonzero_and_names_the_problem(tmp_path, capsys):
    path = write(tmp_path, VALID.replace("unit: 1", "unit: 300"))
    assert main(["check", str(path)]) == 1
    assert "station.yaml:15: devices.kitchen-gas.unit: must be 1..247, got 300" in capsys.readouterr().err
