"""A plain Modbus station's ``outpost run`` loads only what its configuration uses.

Every module a process imports costs a Raspberry Pi memory and start time
before the birth; a station with Modbus gas detectors and no radios, no
InfluxDB, no serial-line sensors and no metrics endpoint or station page must
not pay for those, nor for the simulators or the operator's tools.
``-X importtime`` makes the gateway itself list every module it imports, on
its log.
"""

from __future__ import annotations

from tests.support.peers import gas_detectors, running_station

# What a Modbus-only station without metrics_listen, influx, radios or serial lines never needs.
UNUSED = (
    "influxdb_client",
    "gateway.uplink.influx",
    "gateway.radio",
    "drivers.radio.aprs",
    "drivers.radio.events",
    "drivers.radio.aprs_tnc",
    "drivers.radio.ax25",
    "drivers.radio.delivery",
    "drivers.radio.kiss",
    "drivers.radio.line_radio",
    "drivers.radio.link",
    "drivers.radio.mic_e",
    "drivers.modbus.rtu",
    "drivers.serial_line",
    "gateway.config.line_profiles",
    "prometheus_client",
    "gateway.station_page",
    "gateway.operator",
    "simulators",
)


def imported(log: str) -> set[str]:
    """The modules ``-X importtime`` reported in ``log``."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in log.splitlines()
        if line.startswith("import time:") and not line.endswith("imported package")
    }


async def test_a_plain_modbus_station_imports_nothing_it_does_not_use(tmp_path, mosquitto, platform):
    plain = {"service": {"metrics_listen": None}}
    async with running_station(
        tmp_path,
        mosquitto.url,
        devices=gas_detectors(3),
        extra=plain,
        env={"PYTHONPROFILEIMPORTTIME": "1"},
    ) as station:
        await platform.wait_for(
            lambda m: m.topic == "outpost/v1/cs-test/status" and m.payload["state"] == "online"
        )
        await platform.wait_for(lambda m: m.topic.startswith("outpost/v1/cs-test/device/"))  # polled
        log = station.gateway.output()
    modules = imported(log)
    assert "gateway.service.runtime" in modules  # the list is the running gateway's
    assert "pymodbus" in modules
    unused = sorted(m for m in modules if m.startswith(UNUSED))
    assert unused == []
