"""A station that answers a gas leak by itself, for the local-response tests against any TNC.

The station file's ``response:`` rule sounds the siren (a coil on the pymodbus
simulator) and calls the duty team on the radio, then the leaders if nobody
answers; the broker address has nothing listening. Which TNC carries the
call-out (the KISS emulator or a real direwolf) is the test's choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import yaml
from pymodbus.client import AsyncModbusTcpClient

from tests.support.peers import StationUnderTest, free_port, running_station

GATEWAY = "BH4XYZ-10"
DUTY, LEADER = "BH4ABC-7", "BH4DEF-9"
ESCALATE_AFTER = 4.0
CALL = "Gas leak in the kitchen"
WIDER = "Gas leak, duty silent"
SIREN_COIL = 5
ONE_MINUTE_WARNING = 10.0  # threshold crossing to siren and call-out, the stations' yardstick
SIREN_MAX_ON = 8.0


def response_station(tnc_port: int) -> dict:
    return {
        "actuators": {
            "yard-siren": {
                "device": "kitchen-gas",
                "register": "coil",
                "address": SIREN_COIL,
                "values": {"on": 1, "off": 0},
            }
        },
        "radios": {
            "callsign": GATEWAY,
            "bridges": {"vhf": {"type": "kiss-tcp", "port": tnc_port}},
            "retry": {"initial": "3s", "attempts": 2},
            "registry": {DUTY: {"name": "Li Wei"}, LEADER: {"name": "Wang Fang"}},
            "groups": {"duty": [DUTY], "leaders": [LEADER]},
        },
        "response": {
            "rules": {
                "kitchen-gas": {
                    "match": {"kind": ["gas"], "grade": "second-stage"},
                    "steps": [
                        {
                            "actuate": {
                                "actuator": "yard-siren",
                                "value": "on",
                                "max_on": f"{SIREN_MAX_ON}s",
                            },
                            "call": {"group": "duty", "text": CALL},
                        },
                        {"after": f"{ESCALATE_AFTER}s", "call": {"group": "leaders", "text": WIDER}},
                    ],
                }
            }
        },
    }


@contextlib.asynccontextmanager
async def responding_station(directory: Path, tnc_port: int):
    """The gateway with the response rule and its TNC at ``tnc_port``, cut off from the district."""
    broker_down = f"mqtt://127.0.0.1:{free_port()}"  # nobody listens: the district cannot be reached
    async with running_station(
        directory, broker_down, extra=response_station(tnc_port), poll_interval=0.3
    ) as running:
        await running.health_where(
            lambda h: all(b["connected"] for b in h.get("radios", {}).values()) and h["radios"]
        )
        yield running


def message_to(callsign: str, text: str):
    return lambda heard: (
        heard.packet is not None
        and getattr(heard.packet, "addressee", "").upper() == callsign
        and getattr(heard.packet, "text", "") == text
    )


def modbus_port(station: StationUnderTest) -> int:
    return yaml.safe_load(station.config_path.read_text())["buses"]["lan"]["port"]


async def siren(port: int) -> bool:
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    try:
        answer = await client.read_coils(SIREN_COIL, count=1, device_id=1)
        return bool(answer.bits[0])
    finally:
        client.close()


async def siren_turns(port: int, on: bool, within: float) -> float:
    """When (monotonic) the siren coil reads ``on``; a Modbus coil has no push, so it is read until then."""
    deadline = time.monotonic() + within
    while await siren(port) is not on:
        assert time.monotonic() < deadline, (
            f"the siren coil is not {'on' if on else 'off'} within {within:g}s"
        )
        await asyncio.sleep(0.1)
    return time.monotonic()
