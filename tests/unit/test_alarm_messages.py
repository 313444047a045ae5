"""The ``message`` of every alarm event in the station's language (``station.locale``).

A Chinese station's duty officer reads Chinese sentences; device names, alarm
keys, values, units and what a device or radio said itself pass through as
written, and the structured fields stay the same in both languages.
"""

from __future__ import annotations

import re

from drivers.radio.events import RadioEvent, RadioEventKind
from gateway.alarms.storage_fault import storage_fault
from gateway.config import load_config
from gateway.radio.alarms import RadioAlarms
from gateway.radio.registry import RadioRegistry
from tests.support.engine_harness import EPOCH, STATION, Harness, alarms
from tests.support.station_text import write

RADIOS = """\
radios:
  callsign: BH4XYZ-10
  bridges:
    vhf: {type: kiss-tcp, port: 8001}
  registry:
    BH4ABC-7: {name: Li Wei, team: rescue-1, role: team leader}
"""
RIVER = "cs-0001.river.level"
# Words of an English sentence left in a Chinese message (names, keys and units are not words here).
ENGLISH = re.compile(r"\b(?:by|still|alarm|detector|test|failed|back|normal|storage|from|via|fault)\b")


def station(tmp_path, locale: str) -> Harness:
    text = STATION.replace("  location: 1 Test Road\n", f"  location: 1 Test Road\n  locale: {locale}\n")
    return Harness(load_config(write(tmp_path, text + RADIOS)))


def press(h: Harness, t: float, text: str) -> list:
    radios = RadioAlarms(h.config.station.radios, h.engine, RadioRegistry(h.config.station.radios), h.stamp)
    event = RadioEvent(
        RadioEventKind.EMERGENCY,
        "vhf",
        "BH4ABC-7",
        "vhf:0",
        received_at=EPOCH,
        received_monotonic=t,
        text=text,
    )
    return alarms(radios.handle(event))


def story(h: Harness) -> dict[str, str]:
    """One of each kind of message: raise, re-alarm, ack, clear, device fault, detector test, storage."""
    h.poll("river", 0, level=3.6)
    raised = alarms(h.poll("river", 5, level=3.6))[0]
    realarm = alarms(h.tick(5 + 15 * 60))[0]
    ack = alarms(h.engine.acknowledge(RIVER, "duty-li"))[0]
    after = [e for t in range(1000, 1100, 10) for e in alarms(h.poll("river", t, level=2.9))]
    cleared = next(e for e in after if e.transition.value == "cleared")
    h.poll("kitchen-gas", 0)
    implausible = alarms(h.poll("kitchen-gas", 1, gas=6553.5))[0]
    h.poll("kitchen-smoke", 0)
    h.poll("kitchen-smoke", 1, test=True)
    test, test_fault = alarms(h.poll("kitchen-smoke", 14))
    storage = alarms(storage_fault(h.engine, "1 Test Road", "[Errno 28] No space left on device"))[0]
    return {
        "raised": raised.message,
        "realarm": realarm.message,
        "ack": ack.message,
        "cleared": cleared.message,
        "implausible": implausible.message,
        "test": test.message,
        "test_fault": test_fault.message,
        "storage": storage.message,
    }


def test_a_chinese_station_says_every_alarm_message_in_chinese(tmp_path):
    messages = story(station(tmp_path, "zh-CN"))
    assert messages == {
        "raised": "river level：3.6 m",
        "realarm": "river level：3.6 m - 仍未确认（第 1 次再次报警）",
        "ack": f"{RIVER} 已由 duty-li 确认",
        "cleared": "river level：2.9 m",
        "implausible": "kitchen-gas 故障：gas 超出量程（6553.5）",
        "test": "kitchen-smoke：探测器测试失败：测试期间未报警",
        "test_fault": "kitchen-smoke 故障：探测器测试失败：测试期间未报警",
        "storage": "网关存储故障：[Errno 28] No space left on device；事件暂存于内存，直到磁盘恢复写入",
    }
    assert not [m for m in messages.values() if ENGLISH.search(m.split("[Errno")[0])]


def test_an_english_station_keeps_its_messages_as_they_were(tmp_path):
    assert story(station(tmp_path, "en")) == {
        "raised": "river level: 3.6 m",
        "realarm": "river level: 3.6 m - still unacknowledged (re-alarm 1)",
        "ack": f"{RIVER} acknowledged by duty-li",
        "cleared": "river level: 2.9 m",
        "implausible": "kitchen-gas: gas out of range: 6553.5",
        "test": "kitchen-smoke: detector test failed: no alarm during the test",
        "test_fault": "kitchen-smoke: detector test failed: no alarm during the test",
        "storage": "gateway storage fault: [Errno 28] No space left on device; "
        "events held in memory until the disk takes writes again",
    }


def test_a_radio_press_is_announced_in_chinese_with_what_the_caller_said_as_sent(tmp_path):
    h = station(tmp_path, "zh-CN")
    (raised,) = press(h, 0, "trapped on the 3rd floor")
    assert raised.message == "紧急求助：Li Wei（BH4ABC-7），经 vhf：trapped on the 3rd floor"
    assert (raised.kind, raised.transition.value, raised.grade.value) == (
        "radio_sos",
        "raised",
        "life-safety",
    )


def test_a_chinese_re_alarm_stays_within_200_characters_and_keeps_its_words(tmp_path):
    h = station(tmp_path, "zh-CN")
    press(h, 0, "被困" * 150)
    realarms = [e for t in (900, 1800) for e in alarms(h.tick(t)) if e.transition.value == "realarmed"]
    assert [len(e.message) for e in realarms] == [200, 200]
    assert realarms[-1].message.endswith(" - 仍未确认（第 2 次再次报警）")
    assert realarms[-1].message.count("仍未确认") == 1
