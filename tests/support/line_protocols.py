"""Serial-line protocols the serial tests share: two shipped profiles and one written for the tests.

The shipped ones are a streaming NMEA-style methane detector and a polled 9-byte binary CO
module; the climate module is a polled text protocol with delimited fields and a sum checksum.
"""

from __future__ import annotations

from gateway.config import load_config
from gateway.config.line_profiles import SerialLineProfile
from gateway.config.paths import example_station

EXAMPLE = load_config(example_station())
METHANE = EXAMPLE.line_profile_of("gas-meter-methane").line_protocol()
CO = EXAMPLE.line_profile_of("vehicle-bay-co").line_protocol()
# A polled temperature/humidity module: "#01\r" -> "!01,+021.5,045.0,01,hh\r", hh a sum checksum.
CLIMATE = SerialLineProfile.model_validate(
    {
        "description": "climate module",
        "protocol": "serial-line",
        "mode": "poll",
        "query": "#01\r",
        "framing": {"start": "!", "end": "\r"},
        "checksum": {"algorithm": "sum", "separator": ","},
        "parse": {"delimiter": ",", "fields": [None, "temperature", "humidity", "status"]},
        "template": "01,{temperature:+06.1f},{humidity:05.1f},{status:02X}",
        "points": {
            "temperature": {"unit": "°C"},
            "humidity": {"unit": "%"},
            "status": {"format": "hex", "flags": {"probe_fault": 0}},
        },
    }
)
