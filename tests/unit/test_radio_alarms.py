"""Radio presses through the real alarm engine: merging true copies only, new facts announced at once,
restores, zones of a receiver's account, latching, restart."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drivers.radio.events import RadioEvent, RadioEventKind
from drivers.radio.position import Position
from gateway.alarms.engine import CommandRefused
from gateway.config import load_config
from gateway.contract.events import AlarmEvent, RadioTraffic
from gateway.radio.alarms import RadioAlarms
from gateway.radio.registry import RadioRegistry
from tests.support.engine_harness import EPOCH, STATION, Harness, StateStore, alarms
from tests.support.station_text import problems, write

RADIOS = """\
radios:
  callsign: BH4XYZ-10
  dedupe_window: 60s
  bridges:
    vhf: {type: kiss-tcp, port: 8001}
  registry:
    BH4ABC-7: {name: Li Wei, team: rescue-1, role: team leader}
  groups:
    rescue-1: [BH4ABC-7]
"""
KEY = "cs-0001.radio-bh4abc-7.sos"


class Radios:
    def __init__(self, tmp_path, store: StateStore | None = None) -> None:
        self.config = load_config(write(tmp_path, STATION + RADIOS))
        self.store = store or StateStore()
        self.harness = Harness(self.config, self.store)
        self.engine = self.harness.engine
        self.registry = RadioRegistry(self.config.station.radios)
        self.alarms = RadioAlarms(self.config.station.radios, self.engine, self.registry, self.harness.stamp)

    def commit(self) -> None:
        """What the gateway does after each step: the state it left goes into the database."""
        self.store.commit(self.engine)

    def hear(self, kind: RadioEventKind, t: float, radio: str = "BH4ABC-7", **fields) -> list:
        event = RadioEvent(
            kind,
            "vhf",
            radio,
            "vhf:0",
            received_at=EPOCH + timedelta(seconds=t),
            received_monotonic=t,
            **fields,
        )
        return self.alarms.handle(event)


def test_a_press_is_a_latched_life_safety_alarm_with_who_and_where(tmp_path):
    radios = Radios(tmp_path)
    radios.hear(RadioEventKind.POSITION, 0, position=Position(31.18, 121.43))
    [raised] = alarms(radios.hear(RadioEventKind.EMERGENCY, 30, text="SOS", raw=b"\x01\x02"))
    assert raised.alarm_key == KEY
    assert (raised.kind, raised.grade.value, raised.level.value) == ("radio_sos", "life-safety", "red")
    assert raised.latched
    assert raised.condition == "RADIO"
    assert raised.radio.member == "Li Wei"
    assert raised.radio.team == "rescue-1"
    assert raised.radio.position.age_s == 30.0
    assert raised.radio.raw_hex == "0102"
    assert raised.cap.category.value == "Rescue"
    assert [a.alarm_key for a in radios.engine.active_alarms()] == [KEY]


def test_copies_within_the_window_merge_a_later_press_is_announced_again(tmp_path):
    radios = Radios(tmp_path)
    assert len(alarms(radios.hear(RadioEventKind.EMERGENCY, 0))) == 1
    assert radios.hear(RadioEventKind.EMERGENCY, 5, via=("WIDE1",)) == []  # digipeated copy
    assert radios.hear(RadioEventKind.EMERGENCY, 30) == []  # APRS retransmission
    [acked] = radios.engine.acknowledge(KEY, "duty")
    assert acked.radio.presses == 3
    [again] = alarms(radios.hear(RadioEventKind.EMERGENCY, 200))  # still waiting: presses again
    assert again.transition.value == "realarmed"
    assert again.state.value == "active_unack"  # needs a fresh acknowledgement
    assert again.radio.presses == 4


def test_restore_leaves_the_latch_to_a_reset_and_unknown_radios_still_raise(tmp_path):
    radios = Radios(tmp_path)
    radios.hear(RadioEventKind.EMERGENCY, 0)
    [restored] = alarms(radios.hear(RadioEventKind.RESTORE, 10))
    assert (restored.transition.value, restored.state.value) == ("updated", "active_unack")
    assert restored.latched
    assert restored.radio.restored
    [reset] = radios.engine.reset(KEY, "duty")
    assert reset.state.value == "cleared_unack"
    [unknown] = alarms(radios.hear(RadioEventKind.EMERGENCY, 20, radio="BG9ZZZ"))
    assert not unknown.radio.known
    assert "unknown radio BG9ZZZ" in unknown.message
    [traffic] = radios.hear(RadioEventKind.TEXT, 30, text="all fine at gate 2")
    assert isinstance(traffic, RadioTraffic)
    assert traffic.radio.member == "Li Wei"


def test_a_radio_alarm_survives_a_restart_and_can_be_acknowledged_after_it(tmp_path):
    radios = Radios(tmp_path, store=StateStore())
    radios.hear(RadioEventKind.EMERGENCY, 0, text="trapped")
    radios.commit()
    after = Radios(tmp_path, store=radios.store)
    assert [a.alarm_key for a in after.engine.active_alarms()] == [KEY]
    [acked] = [e for e in after.engine.acknowledge(KEY, "duty") if isinstance(e, AlarmEvent)]
    assert acked.radio.member == "Li Wei"
    with pytest.raises(CommandRefused):
        after.engine.acknowledge(KEY, "duty")


def test_a_code_table_level_sets_the_grade(tmp_path):
    radios = Radios(tmp_path)
    [burglary] = alarms(
        radios.hear(RadioEventKind.EMERGENCY, 0, radio="1234", code="130", level="second-stage")
    )
    assert (burglary.grade.value, burglary.level.value) == ("second-stage", "orange")
    assert burglary.radio.code == "130"


def test_link_faults_raise_and_clear_a_device_fault_also_across_a_restart(tmp_path):
    radios = Radios(tmp_path, store=StateStore())
    assert radios.hear(RadioEventKind.LINK, 0, radio="vhf", link_ok=True) == []
    radios.hear(RadioEventKind.LINK, 1, radio="vhf", link_ok=False, text="lost")
    radios.commit()
    radios = Radios(tmp_path, store=radios.store)
    [cleared] = alarms(radios.hear(RadioEventKind.LINK, 2, radio="vhf", link_ok=True, text="connected"))
    assert (cleared.alarm_key, cleared.transition.value) == ("cs-0001.radio-bridge-vhf.link", "cleared")
    radios = Radios(tmp_path)
    assert radios.hear(RadioEventKind.LINK, 0, radio="vhf", link_ok=True) == []
    [fault] = alarms(radios.hear(RadioEventKind.LINK, 1, radio="vhf", link_ok=False, text="lost"))
    assert fault.alarm_key == "cs-0001.radio-bridge-vhf.link"
    assert fault.kind == "device_fault"
    [cleared] = alarms(radios.hear(RadioEventKind.LINK, 2, radio="vhf", link_ok=True, text="connected"))
    assert cleared.transition.value == "cleared"


def test_radio_configuration_errors_name_file_line_and_key(tmp_path):
    text = (
        STATION
        + """\
radios:
  bridges:
    vhf: {type: kiss-tcp, port: 8001}
    pendants: {type: line-radio, tcp: {host: 127.0.0.1, port: 9000}, profile: surgard-contact-idd}
    bad: {type: line-radio, serial: {port: /dev/ttyUSB3}}
    weird: {type: kiss-udp}
  registry:
    BH4ABC-7: {name: Li Wei}
  groups:
    rescue-1: [BH4ABC-7, BH4XXX-1]
  dedupe_window: soon
"""
    )
    found = problems(write(tmp_path, text))
    joined = "\n".join(found)
    assert (
        "station.yaml:23: radios.bridges.bad: give 'profile' (a shipped one) or 'protocol' (inline)" in joined
    )
    assert "radios.bridges.weird.type: unknown type 'kiss-udp'" in joined
    assert "radios.dedupe_window: must be a duration" in joined
    fixed = text.replace("    bad: {type: line-radio, serial: {port: /dev/ttyUSB3}}\n", "")
    fixed = fixed.replace("    weird: {type: kiss-udp}\n", "").replace("  dedupe_window: soon\n", "")
    found = "\n".join(problems(write(tmp_path, fixed)))
    assert "radios.callsign: bridge vhf speaks APRS: give the gateway's callsign" in found
    assert "radios.bridges.pendants.profile: no profile 'surgard-contact-idd'" in found
    assert "radios.groups.rescue-1.1: radio 'BH4XXX-1' is not in radios.registry" in found


def test_a_serial_port_belongs_to_one_bus_or_bridge(tmp_path):
    text = (
        STATION
        + """\
radios:
  callsign: BH4XYZ-10
  bridges:
    tnc: {type: kiss-serial, port: /dev/ttyACM0}
    pendants: {type: line-radio, serial: {port: /dev/ttyACM0}, profile: surgard-contact-id}
"""
    )
    found = "\n".join(problems(write(tmp_path, text)))
    assert "radios.bridges.pendants.serial.port: port /dev/ttyACM0 is already radio bridge tnc's" in found


def test_a_new_text_within_the_window_is_an_update_that_carries_it(tmp_path):
    radios = Radios(tmp_path)
    radios.hear(RadioEventKind.EMERGENCY, 0, text="SOS smoke on stairs", fingerprint="SOS smoke on stairs{51")
    radios.engine.acknowledge(KEY, "duty")
    copy = radios.hear(
        RadioEventKind.EMERGENCY, 5, text="SOS smoke on stairs", fingerprint="SOS smoke on stairs{51"
    )
    assert copy == []  # the radio's retransmission of message 51
    [update] = alarms(
        radios.hear(RadioEventKind.EMERGENCY, 14, text="SOS still trapped, need water", fingerprint="{52")
    )
    assert update.transition.value == "updated"
    assert update.radio.text == "SOS still trapped, need water"
    assert "still trapped, need water" in update.message
    assert update.state.value == "active_ack"  # the same emergency, told more
    assert update.radio.presses == 3
    assert radios.alarms.counts == {("vhf", "presses"): 3, ("vhf", "merged"): 1}


def test_the_same_text_under_a_new_message_number_asks_for_attention_again(tmp_path):
    radios = Radios(tmp_path)
    radios.hear(RadioEventKind.EMERGENCY, 0, text="SOS", fingerprint="SOS{1")
    radios.engine.acknowledge(KEY, "duty")
    [again] = alarms(radios.hear(RadioEventKind.EMERGENCY, 10, text="SOS", fingerprint="SOS{2"))
    assert (again.transition.value, again.state.value) == ("realarmed", "active_unack")


def contact_id(radios: Radios, t: float, code: str, zone: str, kind=RadioEventKind.EMERGENCY) -> list:
    """A receiver's record for account 1234, as the line driver hands it up."""
    levels = {"110": "life-safety", "121": "life-safety", "150": "first-stage"}
    q = "E" if kind is RadioEventKind.EMERGENCY else "R"
    line = f"5011 181234{q}{code}01{zone}"
    return radios.hear(
        kind, t, radio="1234", account="1234", zone=zone, partition="01", code=code,
        level=levels.get(code), text=line, fingerprint=line,
    )  # fmt: skip


def test_a_higher_grade_on_the_same_zone_escalates_a_resend_is_merged(tmp_path):
    radios = Radios(tmp_path)
    [auxiliary] = alarms(contact_id(radios, 0, "150", "003"))
    assert auxiliary.alarm_key == "cs-0001.radio-1234.sos-003"
    assert (auxiliary.grade.value, auxiliary.radio.account, auxiliary.radio.zone) == (
        "first-stage",
        "1234",
        "003",
    )
    assert contact_id(radios, 1, "150", "003") == []  # the receiver resent the record: a copy
    [fire] = alarms(contact_id(radios, 3, "110", "003"))
    assert (fire.transition.value, fire.grade.value, fire.level.value) == (
        "level_changed",
        "life-safety",
        "red",
    )
    assert fire.radio.code == "110"


def test_each_zone_of_an_account_is_its_own_alarm(tmp_path):
    radios = Radios(tmp_path)
    [one] = alarms(contact_id(radios, 0, "121", "001"))
    [two] = alarms(contact_id(radios, 1, "121", "002"))
    assert (one.alarm_key, two.alarm_key) == ("cs-0001.radio-1234.sos-001", "cs-0001.radio-1234.sos-002")
    assert two.transition.value == "raised"
    assert len(radios.engine.active_alarms()) == 2


def test_a_press_after_a_restore_asks_for_attention_again(tmp_path):
    radios = Radios(tmp_path)
    contact_id(radios, 0, "121", "001")
    radios.engine.acknowledge("cs-0001.radio-1234.sos-001", "duty")
    [restored] = alarms(contact_id(radios, 5, "121", "001", RadioEventKind.RESTORE))
    assert (restored.transition.value, restored.state.value) == ("updated", "active_ack")
    assert restored.radio.restored
    assert contact_id(radios, 6, "121", "001", RadioEventKind.RESTORE) == []  # resent restore
    [again] = alarms(contact_id(radios, 9, "121", "001"))
    assert (again.transition.value, again.state.value) == ("realarmed", "active_unack")
    assert not again.radio.restored


def test_a_restore_with_no_alarm_to_restore_is_still_published(tmp_path):
    radios = Radios(tmp_path)
    [restore] = contact_id(radios, 0, "130", "004", RadioEventKind.RESTORE)
    assert isinstance(restore, RadioTraffic)
    assert (restore.event, restore.radio.account, restore.radio.zone) == ("restore", "1234", "004")


def test_after_a_restart_a_copy_is_merged_and_the_radio_still_has_its_position(tmp_path):
    radios = Radios(tmp_path, store=StateStore())
    radios.hear(RadioEventKind.POSITION, 0, position=Position(31.18, 121.43))
    radios.commit()  # a registered radio's position is stored as it comes
    radios.hear(RadioEventKind.EMERGENCY, 10, text="SOS", fingerprint="SOS{7")
    radios.commit()
    after = Radios(tmp_path, store=radios.store)
    assert after.hear(RadioEventKind.EMERGENCY, 40, text="SOS", fingerprint="SOS{7") == []
    [acked] = alarms(after.engine.acknowledge(KEY, "duty"))
    assert acked.radio.presses == 2
    [again] = alarms(after.hear(RadioEventKind.EMERGENCY, 50, text="SOS", fingerprint="SOS{8"))
    assert again.transition.value == "realarmed"
    assert (again.radio.position.lat, again.radio.position.age_s) == (31.18, 50.0)


def test_a_copy_beyond_the_window_or_from_before_a_clock_step_back_is_announced(tmp_path):
    radios = Radios(tmp_path)
    radios.hear(RadioEventKind.EMERGENCY, 100, text="SOS", fingerprint="SOS{7")
    [late] = alarms(radios.hear(RadioEventKind.EMERGENCY, 161, text="SOS", fingerprint="SOS{7"))
    assert late.transition.value == "realarmed"
    [stepped] = alarms(radios.hear(RadioEventKind.EMERGENCY, 90, text="SOS", fingerprint="SOS{7"))
    assert stepped.transition.value == "realarmed"  # the wall clock went back: never merged


def test_a_press_that_was_not_stored_is_forgotten_so_its_repeat_is_announced(tmp_path):
    radios = Radios(tmp_path)
    press = {"text": "SOS", "fingerprint": "SOS{7"}
    radios.hear(RadioEventKind.EMERGENCY, 0, **press)
    radios.alarms.forget(RadioEvent(RadioEventKind.EMERGENCY, "vhf", "BH4ABC-7", "vhf:0", **press))
    [repeat] = alarms(radios.hear(RadioEventKind.EMERGENCY, 5, **press))
    assert repeat.transition.value == "realarmed"


def test_an_unknown_radios_position_waits_for_its_press_to_be_stored(tmp_path):
    radios = Radios(tmp_path, store=StateStore())
    radios.hear(RadioEventKind.POSITION, 0, radio="BG9ZZZ", position=Position(30.0, 120.0))
    assert radios.engine.take_state() is None  # no write for a stranger's beacon
    radios.hear(RadioEventKind.EMERGENCY, 5, radio="BG9ZZZ", text="SOS")
    radios.commit()
    after = Radios(tmp_path, store=radios.store)
    assert (
        after.alarms.details(
            RadioEvent(RadioEventKind.TEXT, "vhf", "BG9ZZZ", "vhf:0", received_at=EPOCH)
        ).position.lat
        == 30.0
    )
