"""Radio presses through a real TNC: direwolf turns KISS into 1200-baud AFSK and back.

A simulated handheld talks KISS to one direwolf, the gateway to another; the
two hear each other only as paced audio. What the handheld sends reaches the
gateway as demodulated AX.25, and the gateway's ``ackNN`` and messages reach
the handheld the same way. The platform is a subscriber on a real Mosquitto.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from drivers.radio import aprs
from simulators.radios.aprs_radio import AprsRadio
from tests.support.direwolf import VirtualAir
from tests.support.peers import outpost
from tests.support.radio_station import PREFIX, command, radio_alarm, radio_gateway

pytestmark = pytest.mark.slow

GATEWAY_CALL = "N0GW-10"
RADIO_CALL = "N0RAD-9"


@pytest.fixture
def air(tmp_path):
    air = VirtualAir.start(tmp_path / "air", GATEWAY_CALL, RADIO_CALL)
    yield air
    air.stop()


def radios(air: VirtualAir, **bridge) -> dict:
    return {
        "callsign": GATEWAY_CALL,
        "ack_text": "Help is coming, stay put",
        "dedupe_window": "60s",
        "retry": {"initial": "8s", "maximum": "16s", "attempts": 3},
        "bridges": {
            "vhf": bridge or {"type": "kiss-tcp", "host": "127.0.0.1", "port": air.gateway.kiss_port}
        },
        "registry": {RADIO_CALL: {"name": "Li Wei", "team": "rescue-1", "role": "team leader"}},
        "groups": {"rescue-1": [RADIO_CALL]},
    }


def ack_for(number: str):
    return lambda heard: isinstance(heard.packet, aprs.Ack) and heard.packet.number == number


def message_to_radio(heard) -> bool:
    return isinstance(heard.packet, aprs.AprsMessage) and heard.packet.addressee == RADIO_CALL


async def test_sos_message_over_the_air_is_an_alarm_acked_answered_and_merged(
    tmp_path, mosquitto, platform, air, capsys
):
    async with (
        radio_gateway(tmp_path, mosquitto.url, radios(air), platform) as gateway,
        AprsRadio(RADIO_CALL, "127.0.0.1", air.radio.kiss_port) as radio,
    ):
        pressed = await radio.message(GATEWAY_CALL, "SOS trapped in basement", "42")
        raised = await platform.wait_for(radio_alarm(RADIO_CALL, "raised"), timeout=30)
        acked = await radio.wait_for(ack_for("42"))
        latency, round_trip = raised.at - time.time() + time.monotonic() - pressed, acked.at - pressed
        body = raised.payload
        assert body["alarm_key"] == "cs-test.radio-n0rad-9.sos"
        assert body["grade"] == "life-safety"
        assert body["level"] == "red"
        assert body["latched"] is True
        assert body["radio"]["member"] == "Li Wei"
        assert body["radio"]["known"] is True
        assert body["radio"]["bridge"] == "vhf"
        assert body["radio"]["text"] == "SOS trapped in basement"
        assert body["radio"]["raw_hex"]
        assert acked.frame.source.call == "N0GW"

        # The radio did not hear the ack in time and sends again: acked again, one alarm.
        await radio.message(GATEWAY_CALL, "SOS trapped in basement", "42")
        await radio.wait_for(lambda h: len([x for x in radio.heard if ack_for("42")(x)]) >= 2)

        answer = await command(
            gateway.config, "ack", "alarm_key=cs-test.radio-n0rad-9.sos", "by=duty officer"
        )
        assert answer["ok"], answer
        acknowledged = await platform.wait_for(radio_alarm(RADIO_CALL, "acknowledged"))
        assert acknowledged.payload["radio"]["presses"] == 2
        assert len(platform.matching(radio_alarm(RADIO_CALL, "raised"))) == 1

        # A new message within the window is no copy: it reaches the platform at once, with its text.
        await radio.message(GATEWAY_CALL, "SOS still trapped, need water", "43")
        update = await platform.wait_for(radio_alarm(RADIO_CALL, "updated"), timeout=30)
        assert update.payload["radio"]["text"] == "SOS still trapped, need water"
        assert update.payload["state"] == "active_ack"
        await radio.wait_for(ack_for("43"))

        # The acknowledgement text goes back over the air; the handheld acks it.
        told = await radio.wait_for(message_to_radio)
        assert told.packet.text == "Help is coming, stay put"
        delivery = await platform.wait_for(
            lambda m: m.topic == f"{PREFIX}/radio" and m.payload.get("event") == "delivery", timeout=40
        )
        assert delivery.payload["deliveries"][RADIO_CALL]["outcome"] == "acknowledged"

        reset = await command(gateway.config, "reset", "alarm_key=cs-test.radio-n0rad-9.sos")
        assert reset["ok"], reset
        final = await platform.wait_for(radio_alarm(RADIO_CALL, "reset"))
        assert final.payload["state"] == "cleared"
    with capsys.disabled():
        print(f"\n  direwolf: press -> platform {latency:.2f} s, press -> ackNN back {round_trip:.2f} s")


async def test_mic_e_emergency_through_a_serial_kiss_tnc(tmp_path, mosquitto, platform, air):
    tty = tmp_path / "ttyKISS"
    socat = await asyncio.create_subprocess_exec(
        "socat", f"pty,link={tty},raw,echo=0", f"tcp:127.0.0.1:{air.gateway.kiss_port}"
    )
    try:
        bridge = {"type": "kiss-serial", "port": str(tty), "baudrate": 9600}
        config = radios(air, **bridge)
        config["registry"], config["groups"] = {}, {}  # nobody registered this radio: still an alarm
        async with (
            radio_gateway(tmp_path, mosquitto.url, config, platform),
            AprsRadio(RADIO_CALL, "127.0.0.1", air.radio.kiss_port) as radio,
        ):
            await radio.send_info(aprs.position(31.18, 121.43, comment="on patrol"), path=("WIDE1-1",))
            await radio.mic_e_emergency(31.1812, 121.437)
            raised = await platform.wait_for(radio_alarm(RADIO_CALL, "raised"), timeout=40)
    finally:
        socat.terminate()
        await socat.wait()
    details = raised.payload["radio"]
    assert details["known"] is False
    assert "unknown radio N0RAD-9" in raised.payload["message"]
    assert details["position"]["lat"] == pytest.approx(31.1812, abs=1e-3)
    assert details["position"]["lon"] == pytest.approx(121.437, abs=1e-3)
    assert details["position"]["age_s"] == 0.0
    assert details["via"] == [] or details["via"]
    assert raised.payload["cap"]["category"] == "Rescue"


async def test_broadcast_reaches_the_group_per_radio_and_everyone_as_a_bulletin(
    tmp_path, mosquitto, platform, air
):
    config = radios(air)
    config["retry"] = {"initial": "4s", "maximum": "8s", "attempts": 2}
    config["registry"]["N0AWAY-1"] = {"name": "Off the air", "team": "rescue-1"}
    config["groups"]["rescue-1"].append("N0AWAY-1")
    async with (
        radio_gateway(tmp_path, mosquitto.url, config, platform) as gateway,
        AprsRadio(RADIO_CALL, "127.0.0.1", air.radio.kiss_port) as radio,
    ):
        accepted = await command(
            gateway.config, "broadcast", "text=Flood warning: move to high ground", "group=rescue-1"
        )
        assert accepted["ok"], accepted
        broadcast_id = accepted["result"]["broadcast_id"]
        assert accepted["result"]["recipients"] == [RADIO_CALL, "N0AWAY-1"]
        finished = await platform.wait_for(
            lambda m: m.topic == f"{PREFIX}/radio" and m.payload.get("state") == "finished", timeout=90
        )
        assert finished.payload["broadcast_id"] == broadcast_id
        per_radio = finished.payload["deliveries"]
        assert per_radio[RADIO_CALL]["outcome"] == "acknowledged"
        away = per_radio["N0AWAY-1"]
        assert (away["outcome"], away["attempts"]) == ("gave_up", 2)
        # Two waits of 4 s and 8 s, each drawn between half and all of it (jitter), plus air time.
        assert 6 - 1 <= away["seconds"] <= 12 + 3, away
        assert finished.payload["acknowledged"] == 1
        progress = platform.matching(lambda m: m.payload.get("state") == "progress")
        assert [next(iter(p.payload["deliveries"])) for p in progress] == [RADIO_CALL, "N0AWAY-1"]
        heard = await radio.wait_for(message_to_radio)
        assert heard.packet.text == "Flood warning: move to high ground"

        cmd = ("cmd", "--config", str(gateway.config), "broadcast", "text=All clear at 18:00", "--follow")
        followed = await asyncio.to_thread(outpost, *cmd, timeout=120)
        assert followed.returncode == 0, followed.stderr
        answer, *steps = [json.loads(line) for line in followed.stdout.splitlines()]
        assert answer["result"]["accepted"] is True
        assert [s["state"] for s in steps] == ["accepted", "progress", "finished"]
        assert steps[-1]["deliveries"]["vhf"] == {
            "outcome": "sent",
            "attempts": 2,
            "seconds": pytest.approx(4, abs=3),
        }
        bulletin = await radio.wait_for(
            lambda h: isinstance(h.packet, aprs.AprsMessage) and h.packet.bulletin
        )
        assert bulletin.packet.text == "All clear at 18:00"
