"""The station answers an alarm by itself with the broker down: siren coil, radio call-out, escalation, ack.

Real peers: the gateway process, a pymodbus simulator whose coil the siren is
(read back with a pymodbus client), and the KISS TNC emulator with two
simulated handhelds on its air. No broker listens at all.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time

import pytest

from simulators.radios.aprs_radio import AprsRadio
from simulators.radios.kiss_tnc import KissTnc
from tests.support.local_response import (
    CALL,
    DUTY,
    ESCALATE_AFTER,
    GATEWAY,
    LEADER,
    ONE_MINUTE_WARNING,
    SIREN_MAX_ON,
    WIDER,
    message_to,
    modbus_port,
    responding_station,
    siren,
    siren_turns,
)
from tests.support.peers import wait_for_log

pytestmark = pytest.mark.slow


def responses(state_dir) -> list[dict]:
    """What the station told (or will tell) the platform on ``{p}/response``, from its outbox."""
    with sqlite3.connect(state_dir / "outbox.sqlite3") as db:
        rows = db.execute("SELECT payload FROM outbox WHERE topic LIKE '%/response' ORDER BY id").fetchall()
    return [json.loads(payload) for (payload,) in rows]


@pytest.fixture
async def air():
    async with KissTnc() as tnc:
        await tnc.serve_tcp()
        async with (
            AprsRadio(DUTY, tnc.host, tnc.port) as duty,
            AprsRadio(LEADER, tnc.host, tnc.port) as leader,
        ):
            yield tnc, duty, leader


@pytest.fixture
async def station(tmp_path, air):
    tnc, _, _ = air
    async with responding_station(tmp_path, tnc.port) as running:
        yield running


async def test_a_gas_leak_sounds_the_siren_and_calls_the_duty_team_then_escalates(station, air):
    _, duty, leader = air
    port = modbus_port(station)
    assert not await siren(port)

    crossed = time.monotonic()
    station.units["kitchen-gas"].set("gas", 60.0)
    heard = await duty.wait_for(message_to(DUTY, CALL), timeout=ONE_MINUTE_WARNING)
    assert heard.at - crossed < ONE_MINUTE_WARNING
    assert await siren_turns(port, True, within=ONE_MINUTE_WARNING) - crossed < ONE_MINUTE_WARNING

    wider = await leader.wait_for(message_to(LEADER, WIDER), timeout=ESCALATE_AFTER + 10)
    assert wider.at - crossed >= ESCALATE_AFTER

    # The leaders' call is done once the leader's handheld has acknowledged it, a moment after
    # it heard the call: what the station tells the platform, read from its outbox meanwhile.
    told: set[tuple] = set()
    async with asyncio.timeout(10):
        while not told >= {
            ("actuate", "done", "yard-siren", None),
            ("call", "done", None, "duty"),
            ("call", "done", None, "leaders"),
        }:
            await asyncio.sleep(0.1)
            told = {
                (r["action"], r["outcome"], r.get("actuator"), r.get("group"))
                for r in responses(station.state_dir)
            }
    station.gateway.stop()


async def test_a_handhelds_ack_stops_the_chain(station, air):
    _, duty, leader = air
    station.units["kitchen-gas"].set("gas", 60.0)
    await duty.wait_for(message_to(DUTY, CALL), timeout=ONE_MINUTE_WARNING)
    replied = time.monotonic()
    await duty.message(GATEWAY, "ACK", "1")
    await station.health_where(lambda h: h["alarms_active"] and _acknowledged(station))

    with pytest.raises(TimeoutError):  # the escalation's time comes and goes: nobody else is called
        await leader.wait_for(
            message_to(LEADER, WIDER), timeout=ESCALATE_AFTER + 2 - (time.monotonic() - replied)
        )

    station.gateway.stop()
    acknowledged = [r for r in responses(station.state_dir) if r["action"] == "acknowledged"]
    assert [(r["by"], r["via"]) for r in acknowledged] == [(DUTY, "radio")]


async def test_a_reload_mid_chain_keeps_the_escalation_and_switches_the_siren_off_on_time(station, air):
    _, duty, leader = air
    port = modbus_port(station)
    crossed = time.monotonic()
    station.units["kitchen-gas"].set("gas", 60.0)
    await duty.wait_for(message_to(DUTY, CALL), timeout=ONE_MINUTE_WARNING)
    await siren_turns(port, True, within=ONE_MINUTE_WARNING)

    louder = "GAS LEAK, answer now"
    station.config_path.write_text(station.config_path.read_text().replace(WIDER, louder))
    station.gateway.process.send_signal(signal.SIGHUP)
    await wait_for_log(station.gateway.output, "configuration reloaded")

    wider = await leader.wait_for(message_to(LEADER, louder), timeout=ESCALATE_AFTER + 10)
    assert wider.at - crossed >= ESCALATE_AFTER  # the running chain went on, under the new text
    off = await siren_turns(port, False, within=SIREN_MAX_ON + ONE_MINUTE_WARNING)  # despite the reload
    assert off - crossed >= SIREN_MAX_ON - 1  # at its maximum on-time


def _acknowledged(station) -> bool:
    return any(r["action"] == "acknowledged" for r in responses(station.state_dir))
