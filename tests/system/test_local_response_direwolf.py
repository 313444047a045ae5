"""The station's own call-out on real air: broker down, a gas leak, the duty handheld hears it via direwolf.

The gateway talks KISS to one direwolf, the duty team's handheld to another;
the two hear each other only as paced 1200-baud AFSK. Nothing listens at the
broker's address, so what reaches the handheld was sent by the station's own
response rule, and the siren coil on the pymodbus simulator is switched by it.
"""

from __future__ import annotations

import time

import pytest

from simulators.radios.aprs_radio import AprsRadio
from tests.support.direwolf import VirtualAir
from tests.support.local_response import (
    CALL,
    DUTY,
    GATEWAY,
    ONE_MINUTE_WARNING,
    message_to,
    modbus_port,
    responding_station,
    siren,
    siren_turns,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def air(tmp_path):
    air = VirtualAir.start(tmp_path / "air", GATEWAY, DUTY)
    yield air
    air.stop()


async def test_a_gas_leak_calls_the_duty_handheld_over_the_air_and_sounds_the_siren(tmp_path, air, capsys):
    async with (
        responding_station(tmp_path, air.gateway.kiss_port) as station,
        AprsRadio(DUTY, "127.0.0.1", air.radio.kiss_port) as duty,
    ):
        port = modbus_port(station)
        assert not await siren(port)

        crossed = time.monotonic()
        station.units["kitchen-gas"].set("gas", 60.0)
        heard = await duty.wait_for(message_to(DUTY, CALL), timeout=ONE_MINUTE_WARNING)
        sounding = await siren_turns(port, True, within=ONE_MINUTE_WARNING)

    assert str(heard.frame.source) == GATEWAY
    assert heard.at - crossed < ONE_MINUTE_WARNING
    assert sounding - crossed < ONE_MINUTE_WARNING
    with capsys.disabled():
        print(f"\n  direwolf: gas crossing -> call-out heard {heard.at - crossed:.2f} s")
