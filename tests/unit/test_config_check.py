"""``outpost check`` finds what ``outpost run`` would fail on, with the loader ``run`` uses."""

from __future__ import annotations

import pytest

from gateway.cli import main
from gateway.config import load_config
from tests.support.certs import TestCA
from tests.support.station_text import VALID, problems, write

MQTT = '  brokers: ["mqtt://127.0.0.1:1883"]\n'
ACTUATOR = "actuators:\n  siren:\n    device: kitchen-gas\n    register: coil\n    address: 5\n"


def with_mqtt(extra: str) -> str:
    return VALID.replace(MQTT, MQTT + extra)


def test_time_zone_that_does_not_exist(tmp_path):
    path = write(tmp_path, VALID + "reports:\n  timezone: Asia/Beijing\n")
    assert problems(path) == [
        "station.yaml:18: reports.timezone: must be a time zone name such as Asia/Shanghai, "
        "got 'Asia/Beijing'"
    ]
    load_config(write(tmp_path, VALID + "reports:\n  timezone: Asia/Shanghai\n"))


def test_topic_prefix_with_an_unknown_placeholder(tmp_path):
    path = write(tmp_path, with_mqtt('  topic_prefix: "x/{nope}/{station}"\n'))
    assert problems(path) == [
        "station.yaml:7: mqtt.topic_prefix: may only contain the placeholder {station}, not {nope}, "
        "got 'x/{nope}/{station}'"
    ]


def test_missing_secret_files_are_named_with_their_key(tmp_path):
    text = with_mqtt(f"  password_file: {tmp_path}/nowhere/mqtt.password\n") + (
        f"commands:\n  key_file: {tmp_path}/command.key\n"
        f"influx:\n  url: http://127.0.0.1:8428\n  bucket: station\n  token_file: {tmp_path}\n"
    )
    lines = problems(write(tmp_path, text))
    assert lines == [
        f"station.yaml:7: mqtt.password_file: {tmp_path}/nowhere/mqtt.password cannot read: "
        "No such file or directory",
        f"station.yaml:19: commands.key_file: {tmp_path}/command.key cannot read: No such file or directory",
        f"station.yaml:23: influx.token_file: {tmp_path} is a directory, not a regular file",
    ]
    (tmp_path / "command.key").write_text("")
    assert "commands.key_file: " in problems(write(tmp_path, text))[1]
    assert problems(write(tmp_path, text))[1].endswith("command.key is empty")


def test_tls_files_must_exist_and_load(tmp_path):
    ca = TestCA(tmp_path / "ca")
    client = ca.issue("client")
    tls = f"  tls: {{ca_file: {ca.cert}, cert_file: {client.cert}, key_file: {client.key}}}\n"
    load_config(write(tmp_path, with_mqtt(tls)))
    [line] = problems(write(tmp_path, with_mqtt(tls.replace(str(ca.cert), f"{tmp_path}/ca.pem"))))
    assert (
        line == f"station.yaml:7: mqtt.tls.ca_file: {tmp_path}/ca.pem cannot read: No such file or directory"
    )
    [line] = problems(write(tmp_path, with_mqtt(tls.replace(str(client.key), str(ca.cert)))))
    assert line.startswith("station.yaml:7: mqtt.tls: the TLS files cannot be loaded (")


def test_unset_password_env_is_an_error_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.delenv("OUTPOST_TEST_PASSWORD", raising=False)
    [line] = problems(write(tmp_path, with_mqtt("  password_env: OUTPOST_TEST_PASSWORD\n")))
    assert line.startswith(
        "station.yaml:7: mqtt.password_env: the environment variable OUTPOST_TEST_PASSWORD is not set, "
        "so the gateway would connect without a password"
    )
    allowed = "  password_env: OUTPOST_TEST_PASSWORD\n  allow_missing_env: true\n"
    assert load_config(write(tmp_path, with_mqtt(allowed))).station.mqtt.password() is None
    monkeypatch.setenv("OUTPOST_TEST_PASSWORD", "s3cret")
    config = load_config(write(tmp_path, with_mqtt("  password_env: OUTPOST_TEST_PASSWORD\n")))
    assert config.station.mqtt.password() == "s3cret"


def test_yaml_11_booleans_where_text_or_a_number_is_meant(tmp_path):
    text = VALID.replace("  name: Test", "  name: yes")
    assert problems(write(tmp_path, text)) == [
        "station.yaml:3: station.name: YAML reads yes as the boolean true; "
        "write 'yes' in quotes if you mean the word",
    ]
    # A number field would quietly take it as 1.
    assert problems(write(tmp_path, VALID.replace("unit: 1", "unit: on"))) == [
        "station.yaml:15: devices.kitchen-gas.unit: YAML reads on as the boolean true; "
        "write 'on' in quotes if you mean the word",
    ]
    assert load_config(write(tmp_path, VALID + "exercise: yes\n")).station.exercise is True


def test_on_and_off_as_mapping_keys_are_the_words(tmp_path):
    config = load_config(write(tmp_path, VALID + ACTUATOR + "    values: {on: 1, off: 0}\n"))
    assert config.station.actuators["siren"].values == {"on": 1, "off": 0}


def test_bare_long_duration_is_a_warning_that_check_prints_and_passes(tmp_path, capsys):
    text = VALID.replace("    host: 127.0.0.1\n", "    host: 127.0.0.1\n    timeout: 400\n")
    path = write(tmp_path, text)
    [warning] = load_config(path).warnings
    assert str(warning) == (
        "station.yaml:12: buses.lan.timeout: 400 means 400 seconds; write 400ms if milliseconds "
        "are meant (400s keeps seconds and silences this warning)"
    )
    assert main(["check", str(path)]) == 0
    assert f"warning: {warning}" in capsys.readouterr().err
    for answered in ("400ms", "400s"):
        assert not load_config(write(tmp_path, text.replace("400", answered))).warnings


@pytest.mark.parametrize("word", ["on", "off", "yes", "no"])
def test_check_names_the_word_and_fails(tmp_path, capsys, word):
    path = write(tmp_path, VALID.replace("  name: Test", f"  name: {word}"))
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"station.yaml:3: station.name: YAML reads {word} as the boolean "
        f"{'true' if word in ('on', 'yes') else 'false'}; write '{word}' in quotes if you mean the word\n"
    )
