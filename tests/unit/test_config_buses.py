"""Bus and device settings that would make a field bus lie or stay silent: caught by ``outpost check``."""

from __future__ import annotations

from gateway.cli import main
from gateway.config import load_config
from gateway.contract.events import DeviceStatusEvent
from tests.support.engine_harness import Harness
from tests.support.station_text import VALID, problems, write

RTU = """\
  rs485:
    type: modbus-rtu
    port: /dev/ttyUSB0
"""
RTU_DEVICE = "  pit-gas: {bus: rs485, unit: 2, profile: gas-detector}\n"
SERIAL = """\
  meter-port:
    type: serial-line
    port: /dev/ttyAMA0
    timeout: 3s
"""
SERIAL_DEVICE = "  meter: {bus: meter-port, profile: methane-laser-ascii}\n"


def station(buses: str = "", devices: str = "") -> str:
    """The valid station with more buses (after ``lan``) and more devices."""
    text = VALID.replace("devices:\n", buses + "devices:\n")
    return text + devices


def test_seven_data_bits_on_modbus_rtu_is_an_error_naming_file_line_and_key(tmp_path):
    path = write(tmp_path, station(RTU + "    data_bits: 7\n", RTU_DEVICE))
    assert problems(path) == [
        "station.yaml:15: buses.rs485.data_bits: must be 8 for Modbus RTU "
        "(7 data bits is Modbus ASCII), got 7"
    ]


def test_a_baud_rate_off_the_standard_list_needs_saying_so(tmp_path):
    path = write(tmp_path, station(RTU + "    baudrate: 9601\n", RTU_DEVICE))
    [problem] = problems(path)
    assert problem.startswith("station.yaml:15: buses.rs485.baudrate: must be a standard rate (1200, ")
    assert problem.endswith("unless allow_nonstandard_baud: true, got 9601")
    allowed = station(RTU + "    baudrate: 9601\n    allow_nonstandard_baud: true\n", RTU_DEVICE)
    assert load_config(write(tmp_path, allowed)).station.buses["rs485"].baudrate == 9601


def test_modbus_keys_on_a_serial_line_device_are_errors(tmp_path):
    device = "  meter: {bus: meter-port, profile: methane-laser-ascii, unit: 3, telemetry_interval: 5s}\n"
    path = write(tmp_path, station(SERIAL, device))
    reason = "does not apply to a serial-line device (bus meter-port is serial-line): remove it"
    assert problems(path) == [
        f"station.yaml:21: devices.meter.telemetry_interval: {reason}",
        f"station.yaml:21: devices.meter.unit: {reason}",
    ]
    load_config(write(tmp_path, station(SERIAL, SERIAL_DEVICE)))


def test_a_bare_number_for_a_bus_timeout_is_seconds_with_a_warning_naming_the_unit(tmp_path, capsys):
    path = write(tmp_path, station(RTU + "    timeout: 0.4\n    inter_request_gap: 4ms\n", RTU_DEVICE))
    config = load_config(path)
    assert config.station.buses["rs485"].timeout == 0.4
    assert [str(w) for w in config.warnings] == [
        "station.yaml:15: buses.rs485.timeout: 0.4 means 0.4 seconds; "
        "write 0.4s or 400ms to silence this warning"
    ]
    assert main(["check", str(path)]) == 0
    assert "warning: station.yaml:15: buses.rs485.timeout: 0.4 means 0.4 seconds" in capsys.readouterr().err
    for answered in ("400ms", "0.4s"):
        text = station(RTU + f"    timeout: {answered}\n", RTU_DEVICE) + "service: {stall_after: 90}\n"
        assert not load_config(write(tmp_path, text)).warnings  # a bare 90 for a long duration is fine


def test_retries_on_modbus_tcp_and_offline_after_per_bus_with_a_device_override(tmp_path):
    buses = "    retries: 2\n    offline_after: 4\n"
    text = station(RTU + "    offline_after: 3\n", RTU_DEVICE + "  boiler-gas: {bus: rs485, unit: 3, ")
    text = text.replace("    host: 127.0.0.1\n", "    host: 127.0.0.1\n" + buses)
    config = load_config(write(tmp_path, text + "profile: gas-detector, offline_after: 5}\n"))
    assert config.station.buses["lan"].retries == 2
    assert [config.offline_after(d) for d in ("kitchen-gas", "pit-gas", "boiler-gas")] == [4, 3, 5]
    bad = text.replace("offline_after: 3", "offline_after: 0") + "profile: gas-detector}\n"
    assert problems(write(tmp_path, bad)) == [
        "station.yaml:17: buses.rs485.offline_after: must be 1..100, got 0"
    ]


def test_a_device_goes_offline_after_its_own_count_of_missed_polls(tmp_path):
    text = station(devices="  boiler-gas: {bus: lan, unit: 3, profile: gas-detector, offline_after: 3}\n")
    engine = Harness(load_config(write(tmp_path, text)))

    def offline_at(device: str) -> int:
        for missed in range(1, 10):
            if any(isinstance(e, DeviceStatusEvent) for e in engine.lost(device, float(missed))):
                return missed
        raise AssertionError(f"{device} never went offline")

    assert offline_at("kitchen-gas") == 2  # the default
    assert offline_at("boiler-gas") == 3
