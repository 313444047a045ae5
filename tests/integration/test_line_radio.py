"""The line-protocol radio driver against a simulated alarm receiver on a pty, and a control station
over TCP through the whole gateway to a real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys

import pytest
import yaml

from drivers.backoff import Backoff
from drivers.radio.events import RadioEvent, RadioEventKind
from drivers.radio.line_radio import LineRadio
from drivers.radio.link import SerialEndpoint, StreamLink
from drivers.serial_port import SerialSettings
from gateway.config.radios import LineRadioProtocolConfig
from gateway.radio.hub import line_protocol
from simulators.devices.null_modem import NullModem
from simulators.radios.line_radio import LineRadioPeer, contact_id, sia_block
from tests.support.health import until_health
from tests.support.peers import PROFILES
from tests.support.radio_station import (
    PREFIX,
    command,
    health_url,
    online,
    radio_alarm,
    radio_gateway,
    scrape,
)

CONTACT_ID = line_protocol(
    LineRadioProtocolConfig.model_validate(yaml.safe_load((PROFILES / "surgard-contact-id.yaml").read_text()))
)
ACK = b"\x06"


class Gate:
    """The gateway's side of the driver: records events; can hold or refuse them."""

    def __init__(self) -> None:
        self.events: list[RadioEvent] = []
        self.arrived = asyncio.Condition()
        self.release = asyncio.Event()
        self.release.set()
        self.refuse = 0  # refuse this many events (as if the outbox could not take them)

    async def emit(self, event: RadioEvent) -> None:
        async with self.arrived:
            self.events.append(event)
            self.arrived.notify_all()
        await self.release.wait()
        if self.refuse:
            self.refuse -= 1
            raise OSError("outbox unavailable")

    async def wait(self, predicate, timeout: float = 10.0) -> RadioEvent:
        def found():
            return next((e for e in self.events if predicate(e)), None)

        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(found), timeout)
        return found()


@contextlib.asynccontextmanager
async def receiver_on_pty(tmp_path, heartbeat_timeout: float | None = None):
    modem = NullModem(tmp_path, "receiver")
    modem.plug()
    radio = LineRadio(
        name="pendants",
        link=StreamLink(SerialEndpoint(SerialSettings(modem.port)), Backoff(0.1, 0.5)),
        protocol=CONTACT_ID,
        heartbeat_timeout=heartbeat_timeout,
    )
    gate = Gate()
    async with LineRadioPeer(end=b"\x14", ack=ACK) as peer:
        await peer.open_serial(modem.device_port)
        task = asyncio.create_task(radio.run(gate.emit))
        try:
            await asyncio.wait_for(radio.link.up.wait(), 10)  # opening a port flushes what came before
            yield peer, radio, gate
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            modem.unplug()


# The manuals' records, as printed (RR receiver 01, L line 1, [DC4] the 0x14 terminator):
# Sur-Gard MLR2-E Installation Manual, "Contact-ID Protocol": 5RRLs18AAAAQXYZGGCCC[DC4],
# "5011s181234E12101001[DC4]" (s: a space); MLR2-DG manual, "Supervisory Heartbeat Signal
# Protocol": 1011sssssssssss@ssss[DC4]; and "SIA Protocol 2": SRRL[#1234|Nri1BA01][DC4],
# SRRL[#1234|Lri1BA01][DC4], SRRL[#1234|Nri1BA01/L90][DC4].
MANUAL_CONTACT_ID = "5011 181234E12101001"
MANUAL_HEARTBEAT = "1011" + " " * 11 + "@" + " " * 4
MANUAL_SIA = ["S011[#1234|Nri1BA01]", "S011[#1234|Lri1BA01]", "S011[#1234|Nri1BA01/L90]"]
SIA = line_protocol(
    LineRadioProtocolConfig.model_validate(yaml.safe_load((PROFILES / "surgard-sia.yaml").read_text()))
)


def test_contact_id_profile_takes_the_records_as_the_manuals_print_them():
    rule, values = CONTACT_ID.match(MANUAL_CONTACT_ID)
    assert rule.kind is RadioEventKind.EMERGENCY
    assert values == {"channel": "011", "account": "1234", "code": "121", "partition": "01", "zone": "001"}
    assert CONTACT_ID.levels["121"] == "life-safety"  # duress
    assert CONTACT_ID.match(MANUAL_CONTACT_ID.replace(" ", "s"))[1] == values  # the manual's "s", literally
    assert CONTACT_ID.match(MANUAL_CONTACT_ID.replace("E", "1"))[1] == values  # the digit qualifier
    assert CONTACT_ID.match(contact_id("1234", "R", 121))[0].kind is RadioEventKind.RESTORE
    assert CONTACT_ID.match(contact_id("1234", 3, 120))[0].kind is RadioEventKind.RESTORE
    assert CONTACT_ID.match(contact_id("1234", "P", 121))[0].kind is RadioEventKind.STATUS  # still present
    assert CONTACT_ID.match(contact_id("1234", 1, 602))[0].kind is RadioEventKind.STATUS  # periodic test
    assert CONTACT_ID.match(MANUAL_HEARTBEAT)[0].kind is None
    assert CONTACT_ID.match("101000" + " " * 11 + "@" + " " * 4)[0].kind is None  # System I-III heartbeat
    assert CONTACT_ID.match("garbage") is None


def test_sia_profile_takes_the_manuals_examples():
    for record in MANUAL_SIA:
        rule, values = SIA.match(record)
        assert rule.kind is RadioEventKind.EMERGENCY, record
        assert (values["account"], values["code"], values["zone"], values["partition"]) == (
            "1234",
            "BA",
            "01",
            "1",
        )
    assert SIA.levels["BA"] == "second-stage"
    assert SIA.match("S011[#1234|Nri1BH01]")[0].kind is RadioEventKind.RESTORE
    assert SIA.match(MANUAL_HEARTBEAT)[0].kind is None


async def test_acknowledged_only_after_the_gateway_has_the_event(tmp_path):
    async with receiver_on_pty(tmp_path) as (peer, radio, gate):
        gate.release.clear()  # the gateway is still committing the event
        await peer.send(MANUAL_CONTACT_ID)
        event = await gate.wait(lambda e: e.kind is RadioEventKind.EMERGENCY)
        assert (event.radio, event.account, event.zone, event.partition) == ("1234", "1234", "001", "01")
        assert event.code == "121"
        assert event.level == "life-safety"
        assert event.channel == "011"
        assert event.fingerprint == MANUAL_CONTACT_ID  # a resend of this record is a copy, no other
        assert event.raw.endswith(b"\x14")
        assert ACK not in peer.received  # not before the commit
        gate.release.set()
        await peer.wait_received(ACK)
        assert radio.counts["ack sent"] == 1


async def test_an_event_the_gateway_could_not_keep_is_not_acknowledged_and_comes_again(tmp_path):
    async with receiver_on_pty(tmp_path) as (peer, _radio, gate):
        gate.refuse = 1
        sends = await peer.send_until_acked(contact_id("1234", 1, 100), resend_after=1.0)
        assert sends == 2
        assert len([e for e in gate.events if e.kind is RadioEventKind.EMERGENCY]) == 2


async def test_garbage_is_counted_and_the_next_record_still_works(tmp_path):
    async with receiver_on_pty(tmp_path) as (peer, radio, gate):
        await peer.send_raw(b"\x00\xff noise \x14" + b"A" * 300 + b"\x14" + b"5011 18ZZZZ1120\x14")
        await peer.send(contact_id("4321", 1, 110))
        event = await gate.wait(lambda e: e.kind is RadioEventKind.EMERGENCY)
        assert event.radio == "4321"
        assert radio.counts["rejected"] == 3
        assert radio.counts["rejected unknown line"] == 2
        assert radio.counts["rejected overlong frame"] == 1


async def test_silence_beyond_the_heartbeat_timeout_is_a_link_fault_until_heard_again(tmp_path):
    async with receiver_on_pty(tmp_path, heartbeat_timeout=0.5) as (peer, _radio, gate):
        fault = await gate.wait(lambda e: e.kind is RadioEventKind.LINK and not e.link_ok)
        assert "heartbeat" in fault.text
        await peer.send(MANUAL_HEARTBEAT)
        await gate.wait(lambda e: e.kind is RadioEventKind.LINK and e.link_ok)
        await peer.wait_received(ACK)  # heartbeats are acknowledged too


CONTROL_STATION = {
    "description": "a radio control station printing emergency keys with the radio id and RSSI",
    "end": "\r\n",
    "rules": [
        {"event": "emergency", "match": r"^EMG,(?P<radio>\d+),(?P<rssi>-?\d+)$"},
        {"event": "text", "match": r"^TXT,(?P<radio>\d+),(?P<text>.*)$"},
    ],
    "ack": "ACK,{radio}\r\n",
    "outbound": "MSG,{radio},{text}\r\n",
}


@pytest.mark.slow
async def test_control_station_press_to_platform_and_answer_back_over_tcp(tmp_path, mosquitto, platform):
    async with LineRadioPeer(end=b"\r\n", ack=b"ACK,") as peer:
        port = await peer.serve_tcp()
        radios = {
            "ack_text": "Help is coming",
            "bridges": {"control": {"type": "line-radio", "tcp": {"host": "127.0.0.1", "port": port},
                                    "protocol": CONTROL_STATION}},
            "registry": {"2041": {"name": "Zhang Min", "team": "rescue-1", "role": "medic"}},
        }  # fmt: skip
        async with radio_gateway(tmp_path, mosquitto.url, radios, platform) as gateway:
            await peer.connected()
            await peer.send_until_acked("EMG,2041,-87")
            assert peer.received.startswith(b"ACK,2041\r\n")
            raised = await platform.wait_for(
                lambda m: m.topic == f"{PREFIX}/alarm" and m.payload.get("kind") == "radio_sos"
            )
            body = raised.payload
            assert body["radio"]["member"] == "Zhang Min"
            assert body["radio"]["signal"] == {"rssi": -87.0}
            assert body["radio"]["channel"] == "control"
            assert body["source"]["location"] == "Zhang Min"

            await peer.send_until_acked("TXT,2041,water rising at gate 2")
            text = await platform.wait_for(lambda m: m.topic == f"{PREFIX}/radio")
            assert text.payload["event"] == "message"
            assert text.payload["text"] == "water rising at gate 2"

            answer = await command(gateway.config, "ack", f"alarm_key={body['alarm_key']}")
            assert answer["ok"], answer
            assert answer["result"]["answering_radios"] == ["2041"]
            await peer.wait_received(b"MSG,2041,Help is coming\r\n")


@pytest.mark.slow
async def test_the_manuals_records_over_tcp_through_the_gateway_zones_restores_and_counters(
    tmp_path, mosquitto, platform
):
    """A Sur-Gard receiver's automation port over TCP: SIA and Contact ID records as printed."""
    async with LineRadioPeer(end=b"\x14", ack=ACK) as peer:
        port = await peer.serve_tcp()
        radios = {
            "bridges": {"receiver": {"type": "line-radio", "tcp": {"host": "127.0.0.1", "port": port},
                                     "profile": "surgard-sia"}},
        }  # fmt: skip
        async with radio_gateway(tmp_path, mosquitto.url, radios, platform) as gateway:
            await peer.connected()
            await peer.send_until_acked(MANUAL_SIA[0])
            raised = await platform.wait_for(radio_alarm("1234", "raised"))
            body = raised.payload
            assert body["alarm_key"] == "cs-test.radio-1234.sos-01"
            assert (body["grade"], body["radio"]["code"]) == ("second-stage", "BA")
            assert (body["radio"]["account"], body["radio"]["zone"], body["radio"]["partition"]) == (
                "1234", "01", "1",
            )  # fmt: skip
            await peer.send_until_acked(MANUAL_SIA[0])  # the receiver sent it again: one alarm

            await peer.send_until_acked(sia_block("1234", "FA", 2))  # fire on zone 02: its own alarm
            fire = await platform.wait_for(
                lambda m: radio_alarm("1234", "raised")(m) and m.payload["radio"]["zone"] == "02"
            )
            assert (fire.payload["alarm_key"], fire.payload["grade"]) == (
                "cs-test.radio-1234.sos-02",
                "life-safety",
            )

            await peer.send_until_acked("S011[#1234|Nri1BH01]")  # burglary restore, zone 01
            restored = await platform.wait_for(radio_alarm("1234", "updated"))
            assert restored.payload["alarm_key"] == "cs-test.radio-1234.sos-01"
            assert restored.payload["radio"]["restored"] is True
            assert restored.payload["latched"] is True

            metrics = await asyncio.to_thread(scrape, gateway.config)
            assert 'outpost_radio_presses_total{bridge="receiver"} 3.0' in metrics
            assert 'outpost_radio_merged_copies_total{bridge="receiver"} 1.0' in metrics
            assert 'outpost_radio_acks_sent_total{bridge="receiver"} 4.0' in metrics


@pytest.mark.slow
async def test_a_press_the_outbox_cannot_store_is_not_acknowledged_until_it_can(
    tmp_path, mosquitto, platform
):
    """The alarm hard cap reached with the platform away: no ACK, a storage fault, the press
    repeated by the control station until the backlog drains, then stored, acknowledged, delivered."""
    async with LineRadioPeer(end=b"\r\n", ack=b"ACK,") as peer:
        port = await peer.serve_tcp()
        radios = {
            "bridges": {"control": {"type": "line-radio", "tcp": {"host": "127.0.0.1", "port": port},
                                    "protocol": CONTROL_STATION}},
        }  # fmt: skip
        # One radio alarm (about 1.2 KB) fits under the cap; a second does not.
        extra = {"outbox": {"max_bytes": 1000, "alarm_hard_cap_bytes": 2000}}
        async with radio_gateway(tmp_path, mosquitto.url, radios, platform, extra) as gateway:
            await peer.connected()
            mosquitto.stop()  # the platform is away: alarms pile up in the outbox
            await peer.send_until_acked("EMG,2041,-87")
            with pytest.raises(TimeoutError):
                await peer.send_until_acked("EMG,2042,-90", resend_after=1.0, attempts=3)
            assert b"ACK,2042" not in peer.received
            health = await until_health(health_url(gateway.config), lambda h: not h["healthy"])
            assert "hard cap" in health["outbox"]["storage_error"]
            log = await asyncio.to_thread(gateway.output)
            assert "'2042' not acknowledged: not stored: outbox hard cap" in log
            assert "Traceback" not in log

            mosquitto.start()  # the backlog drains; the control station keeps repeating
            await peer.send_until_acked("EMG,2042,-90", resend_after=2.0, attempts=15)
            await platform.wait_for(radio_alarm("2042"), 20)
            await until_health(health_url(gateway.config), lambda h: h["healthy"])


@pytest.mark.slow
async def test_a_copy_heard_after_a_restart_is_merged_not_announced_again(tmp_path, mosquitto, platform):
    """The gateway killed right after a press (a power cut): the receiver's resend of the record,
    heard by the restarted gateway within the window, is a copy of the stored press."""
    async with LineRadioPeer(end=b"\x14", ack=ACK) as peer:
        port = await peer.serve_tcp()
        radios = {
            "bridges": {"receiver": {"type": "line-radio", "tcp": {"host": "127.0.0.1", "port": port},
                                     "profile": "surgard-contact-id"}},
        }  # fmt: skip
        async with radio_gateway(tmp_path, mosquitto.url, radios, platform) as gateway:
            await peer.connected()
            await peer.send_until_acked(MANUAL_CONTACT_ID)
            raised = await platform.wait_for(radio_alarm("1234", "raised"))
            assert raised.payload["radio"]["zone"] == "001"

            gateway.stop(signal.SIGKILL)
            restarted = len(platform.messages)
            gateway.start()
            await online(gateway, platform, after=restarted)
            await peer.send_until_acked(MANUAL_CONTACT_ID)  # the receiver resends the record
            await peer.send_until_acked(contact_id("1234", "E", 110, zone=2))  # then a fire on zone 2
            fire = await platform.wait_for(
                lambda m: radio_alarm("1234")(m) and m.payload["radio"]["zone"] == "002", after=restarted
            )
            assert fire.payload["transition"] == "raised"
            again = [
                m for m in platform.messages[restarted:]
                if radio_alarm("1234")(m) and m.payload["alarm_key"] == raised.payload["alarm_key"]
                and m.payload["id"] != raised.payload["id"]  # not a redelivery (at least once)
            ]  # fmt: skip
            assert again == []  # the copy was merged: events follow ``seq``, so none came before the fire
            metrics = await asyncio.to_thread(scrape, gateway.config)
            assert 'outpost_radio_merged_copies_total{bridge="receiver"} 1.0' in metrics


@pytest.mark.slow
async def test_an_escalation_and_a_press_after_a_restore_reach_the_platform_at_once(
    tmp_path, mosquitto, platform
):
    """Contact ID over TCP: an auxiliary alarm, then a fire on the same zone; duress acknowledged
    by the platform, restored, and pressed again."""
    async with LineRadioPeer(end=b"\x14", ack=ACK) as peer:
        port = await peer.serve_tcp()
        radios = {
            "bridges": {"receiver": {"type": "line-radio", "tcp": {"host": "127.0.0.1", "port": port},
                                     "profile": "surgard-contact-id"}},
        }  # fmt: skip
        async with radio_gateway(tmp_path, mosquitto.url, radios, platform) as gateway:
            await peer.connected()
            await peer.send_until_acked(contact_id("1234", "E", 150, zone=3))  # 24-hour auxiliary
            auxiliary = await platform.wait_for(radio_alarm("1234", "raised"))
            assert auxiliary.payload["grade"] == "first-stage"
            await peer.send_until_acked(contact_id("1234", "E", 110, zone=3))  # fire, 3 s later at most
            fire = await platform.wait_for(radio_alarm("1234", "level_changed"))
            assert fire.payload["alarm_key"] == auxiliary.payload["alarm_key"]
            assert (fire.payload["grade"], fire.payload["radio"]["code"]) == ("life-safety", "110")

            duress = contact_id("1234", "E", 121, zone=1)
            await peer.send_until_acked(duress)
            raised = await platform.wait_for(
                lambda m: radio_alarm("1234", "raised")(m) and m.payload["radio"]["zone"] == "001"
            )
            key = raised.payload["alarm_key"]
            answer = await command(gateway.config, "ack", f"alarm_key={key}")
            assert answer["ok"], answer
            await peer.send_until_acked(contact_id("1234", "R", 121, zone=1))  # the receiver's restore
            restored = await platform.wait_for(
                lambda m: radio_alarm("1234", "updated")(m) and m.payload["alarm_key"] == key
            )
            assert (restored.payload["state"], restored.payload["radio"]["restored"]) == ("active_ack", True)
            await peer.send_until_acked(duress)  # pressed again: the same record, a new fact
            again = await platform.wait_for(
                lambda m: radio_alarm("1234", "realarmed")(m) and m.payload["alarm_key"] == key
            )
            assert again.payload["state"] == "active_unack"  # a fresh acknowledgement is needed
            assert again.payload["radio"]["restored"] is False


@pytest.mark.slow
async def test_a_broker_drop_while_cmd_follows_a_broadcast_is_one_line_not_a_traceback(
    tmp_path, mosquitto, platform
):
    """``outpost cmd broadcast --follow`` waits for radios that never acknowledge (a silent TNC);
    the broker goes away meanwhile: one line on stderr, exit 3."""
    silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)  # swallows frames
    tnc = silent.sockets[0].getsockname()[1]
    radios = {
        "callsign": "BH4XYZ-10",
        "retry": {"initial": "30s", "maximum": "1m", "attempts": 3},
        "bridges": {"vhf": {"type": "kiss-tcp", "host": "127.0.0.1", "port": tnc}},
        "registry": {"BH4ABC-7": {"name": "Li Wei"}},
    }  # fmt: skip
    async with silent, radio_gateway(tmp_path, mosquitto.url, radios, platform) as gateway:
        cmd = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "cmd", "--config", str(gateway.config),
            "broadcast", "text=evacuate", "group=all", "--follow",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert cmd.stdout is not None
        answer = json.loads(await asyncio.wait_for(cmd.stdout.readline(), 30))
        assert answer["result"]["broadcast_id"]  # accepted; the radio does not acknowledge
        mosquitto.stop()
        _, stderr = await asyncio.wait_for(cmd.communicate(), 30)
    assert cmd.returncode == 3
    assert stderr.decode().count("\n") == 1, stderr
    assert stderr.decode().startswith(f"outpost cmd: broker {mosquitto.url}")
