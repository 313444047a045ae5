"""Through an alarm flood, the platform's retained snapshot lists every alarm, as the README promises.

A raise the flood holds back sends no event; the snapshot must still follow
it (a platform that resyncs from the snapshot, a console started during the
flood, see the held alarm), and the platform's story must stay consistent.
"""

from __future__ import annotations

from tests.support.peers import alarm, running_station
from tests.support.story import read_story

DEVICES = {f"gas-0{n}": {"unit": n, "profile": "gas-detector", "location": f"Room {n}"} for n in (1, 2, 3)}
FIRST_STAGE = 30.0  # the gas detector profile: first stage from 20 %LEL, second from 50
FLOOD = {"alarm_policy": {"flood": {"count": 1, "window": "10m", "summarise_up_to": "first-stage"}}}


def lists(*devices: str):
    """A retained snapshot (as received live) listing each of ``devices``' gas alarms."""
    wanted = {f"cs-test.{device}.gas" for device in devices}

    def predicate(message) -> bool:
        if not message.topic.endswith("/alarms/active"):
            return False
        return wanted <= {a["alarm_key"] for a in message.payload.get("alarms", [])}

    return predicate


async def test_a_raise_held_in_a_flood_is_in_the_snapshot_at_once(tmp_path, mosquitto, platform):
    async with running_station(
        tmp_path, mosquitto.url, devices=DEVICES, extra=FLOOD, poll_interval=0.3
    ) as station:
        await platform.wait_for(lambda m: m.topic.endswith("/device/gas-03/status"), 15)
        station.units["gas-01"].set("gas", FIRST_STAGE)
        await platform.wait_for(alarm("gas-01.gas", "raised"))
        station.units["gas-02"].set("gas", FIRST_STAGE)  # the second within the window: a flood
        await platform.wait_for(alarm("station.flood", "raised"))
        await platform.wait_for(lists("gas-01", "gas-02"))
        start = len(platform.messages)
        station.units["gas-03"].set("gas", FIRST_STAGE)  # held: no event of its own
        await platform.wait_for(lists("gas-01", "gas-02", "gas-03"), after=start)

    received = [m.payload for m in platform.messages]
    assert not [p for p in received if p.get("alarm_key") == "cs-test.gas-03.gas"], "held, yet sent"
    story = read_story(received)
    assert [str(a) for a in story.anomalies] == []
