"""The call-and-respond chains on simulated time: what the station does, when, and when it stops."""

from __future__ import annotations

from gateway.config import load_config
from gateway.contract.events import RadioDetails, RadioTraffic
from gateway.response.chains import EXERCISE_SILENT, RULE_REMOVED, Chains
from tests.support.engine_harness import EPOCH, STATION, harness
from tests.support.station_text import problems, write

RESPONSE = """\
actuators:
  yard-siren: {device: kitchen-gas, register: coil, address: 5, values: {on: 1, off: 0}}
radios:
  callsign: BH4XYZ-10
  bridges: {vhf: {type: kiss-tcp}}
  registry:
    BH4ABC-7: {name: Li Wei}
    BH4DEF-9: {name: Wang Fang}
  groups:
    duty: [BH4ABC-7]
    leaders: [BH4DEF-9]
response:
  min_interval: 30s
  rules:
    kitchen-gas:
      match: {kind: [gas], grade: second-stage}
      steps:
        - actuate: {actuator: yard-siren, value: "on", max_on: 2m}
          call: {group: duty, text: Gas leak in the kitchen}
        - after: 60s
          call: {group: leaders, text: "Gas leak, duty team silent"}
"""


def station(tmp_path, extra: str = RESPONSE, uplink_up: bool = False):
    h = harness(tmp_path, extra)
    up = {"value": uplink_up}
    chains = Chains(h.config.station, h.clock, lambda: up["value"])
    return h, chains, up


def what(planned) -> list[tuple]:
    """(action, target, value or text, skipped) of each planned action."""
    out = []
    for p in planned:
        if p.actuate is not None:
            out.append((p.action, p.actuate.actuator, p.actuate.value, p.skip is not None))
        elif p.call is not None:
            out.append((p.action, p.call.group, p.call.text, p.skip is not None))
        else:
            out.append((p.action, p.by, p.via, p.reason))
    return out


def reply(radio: str, text: str) -> RadioTraffic:
    details = RadioDetails(radio=radio, known=True, bridge="vhf", channel="144.640")
    return RadioTraffic(
        event="message", radio=details, text=text, id="r", station="cs-0001", seq=1, created_at=EPOCH
    )


def test_a_second_stage_gas_leak_sounds_the_siren_and_calls_the_duty_team_at_once(tmp_path):
    h, chains, _ = station(tmp_path)
    assert chains.observe(h.poll("kitchen-gas", 1, gas=30)) == []  # first stage: not this rule's
    planned = chains.observe(h.poll("kitchen-gas", 2, gas=60))
    assert what(planned) == [
        ("actuate", "yard-siren", "on", False),
        ("call", "duty", "Gas leak in the kitchen", False),
    ]
    assert chains.observe(h.poll("kitchen-gas", 3, gas=70)) == []  # the same occurrence: nothing again


def test_nobody_answering_widens_the_call_after_its_delay_and_the_siren_stops_at_its_maximum(tmp_path):
    h, chains, _ = station(tmp_path)
    chains.observe(h.poll("kitchen-gas", 2, gas=60))
    assert chains.next_deadline() == 62
    h.clock.set(61.9)
    assert chains.due() == []
    h.clock.set(62)
    assert what(chains.due()) == [("call", "leaders", "Gas leak, duty team silent", False)]
    h.clock.set(122)
    reset = chains.due()
    assert what(reset) == [("reset", "yard-siren", "off", False)]
    assert "maximum on-time 120s" in reset[0].reason
    assert chains.next_deadline() is None


def test_an_acknowledgement_by_an_operator_ends_the_chain(tmp_path):
    h, chains, _ = station(tmp_path)
    chains.observe(h.poll("kitchen-gas", 2, gas=60))
    h.clock.set(10)
    ended = chains.observe(h.engine.acknowledge("cs-0001.kitchen-gas.gas", "duty officer"))
    assert what(ended) == [("acknowledged", "duty officer", "operator", None)]
    h.clock.set(62)
    assert chains.due() == []  # the leaders are not called
    h.clock.set(122)
    assert what(chains.due()) == [("reset", "yard-siren", "off", False)]  # the siren still stops


def test_an_ack_word_from_a_called_radio_acknowledges_and_a_stranger_does_not(tmp_path):
    h, chains, _ = station(tmp_path)
    chains.observe(h.poll("kitchen-gas", 2, gas=60))
    assert chains.radio_reply(reply("BH4DEF-9", "ACK")) == []  # leaders were not called yet
    assert chains.radio_reply(reply("BH4ABC-7", "on my way")) == []
    assert chains.radio_reply(reply("bh4abc-7", " 收到 ")) == ["cs-0001.kitchen-gas.gas"]
    ended = chains.observe(h.engine.acknowledge("cs-0001.kitchen-gas.gas", "BH4ABC-7 by radio"))
    assert what(ended) == [("acknowledged", "BH4ABC-7", "radio", None)]


def test_the_same_action_never_repeats_faster_than_min_interval(tmp_path):
    h, chains, _ = station(tmp_path)
    chains.observe(h.poll("kitchen-gas", 2, gas=60))
    h.poll("kitchen-gas", 3, gas=1)
    h.poll("kitchen-gas", 6, gas=1)  # cleared (after its off delay)
    chains.observe(h.engine.acknowledge("cs-0001.kitchen-gas.gas", "duty officer"))
    again = chains.observe(h.poll("kitchen-gas", 10, gas=60))
    assert what(again) == [
        ("actuate", "yard-siren", "on", True),
        ("call", "duty", "Gas leak in the kitchen", True),
    ]
    assert "min_interval" in again[0].skip


def test_a_drill_calls_but_never_sounds_the_real_siren_unless_the_rule_says_exercise(tmp_path):
    drill = RESPONSE.replace("grade: second-stage}", "grade: second-stage, status: [actual, exercise]}")
    h, chains, _ = station(tmp_path, drill)
    h.engine.set_exercise(True, None)
    planned = chains.observe(h.poll("kitchen-gas", 2, gas=60))
    assert what(planned) == [
        ("actuate", "yard-siren", "on", True),
        ("call", "duty", "Gas leak in the kitchen", False),
    ]
    assert planned[0].skip == EXERCISE_SILENT
    h.clock.set(500)
    assert all(p.action != "reset" for p in chains.due())  # nothing was switched on

    loud = drill.replace("      steps:", "      exercise: true\n      steps:")
    h, chains, _ = station(tmp_path, loud)
    h.engine.set_exercise(True, None)
    assert what(chains.observe(h.poll("kitchen-gas", 2, gas=60)))[0] == ("actuate", "yard-siren", "on", False)


def test_a_drill_does_not_start_a_rule_for_real_alarms_only(tmp_path):
    h, chains, _ = station(tmp_path)
    h.engine.set_exercise(True, None)
    assert chains.observe(h.poll("kitchen-gas", 2, gas=60)) == []


def test_an_uplink_down_rule_acts_only_while_the_district_cannot_hear(tmp_path):
    only_down = RESPONSE.replace("      steps:", "      when: uplink_down\n      steps:")
    h, chains, up = station(tmp_path, only_down, uplink_up=True)
    assert chains.observe(h.poll("kitchen-gas", 2, gas=60)) == []
    up["value"] = False
    h.clock.set(62)
    assert what(chains.due()) == [("call", "leaders", "Gas leak, duty team silent", False)]


def reloaded(tmp_path, text: str):
    """The station file rewritten and loaded again, as a SIGHUP or a config push does."""
    return load_config(write(tmp_path, STATION + text, "reloaded.yaml")).station


def test_a_reload_mid_chain_keeps_the_sirens_switch_back_and_escalates_under_the_new_steps(tmp_path):
    h, chains, _ = station(tmp_path)
    chains.observe(h.poll("kitchen-gas", 2, gas=60))  # the siren goes on, off due at 122
    h.clock.set(30)
    louder = RESPONSE.replace("Gas leak, duty team silent", "GAS LEAK, answer now").replace("60s", "40s")
    assert chains.reconfigure(reloaded(tmp_path, louder)) == []
    assert chains.next_deadline() == 42  # the running chain's next step, on the new timing
    h.clock.set(42)
    assert what(chains.due()) == [("call", "leaders", "GAS LEAK, answer now", False)]
    h.clock.set(122)
    assert what(chains.due()) == [("reset", "yard-siren", "off", False)]


def test_a_reload_removing_the_rule_ends_its_chain_but_the_siren_still_stops(tmp_path):
    h, chains, _ = station(tmp_path)
    chains.observe(h.poll("kitchen-gas", 2, gas=60))
    h.clock.set(30)
    renamed = RESPONSE.replace("    kitchen-gas:\n      match", "    any-gas:\n      match")
    ended = chains.reconfigure(reloaded(tmp_path, renamed))
    assert what(ended) == [("ended", None, None, RULE_REMOVED)]
    h.clock.set(62)
    assert chains.due() == []  # nobody is called by a rule that is gone
    h.clock.set(122)
    assert what(chains.due()) == [("reset", "yard-siren", "off", False)]


def test_response_rules_naming_what_does_not_exist_are_errors_with_file_line_and_key(tmp_path):
    broken = (
        RESPONSE.replace("actuator: yard-siren", "actuator: yard-horn")
        .replace("group: leaders", "group: chiefs")
        .replace("kind: [gas]", "kind: [gas], zone: [attic]")
    )
    found = problems(write(tmp_path, STATION + broken))
    assert any("response.rules.kitchen-gas.steps.0.actuate.actuator" in p and "yard-horn" in p for p in found)
    assert any("response.rules.kitchen-gas.steps.1.call.group" in p and "chiefs" in p for p in found)
    assert any("response.rules.kitchen-gas.match.zone.0" in p for p in found)
    assert all(p.startswith("station.yaml:") for p in found), found


def test_a_step_doing_nothing_or_a_bare_on_value_is_refused(tmp_path):
    empty = RESPONSE.replace("          call: {group: leaders", "          callx: {group: leaders").replace(
        "          callx:", "          # nothing:"
    )
    assert any("a step needs" in p for p in problems(write(tmp_path, STATION + empty)))
    bare = RESPONSE.replace('value: "on"', "value: on")
    assert any("YAML reads on as the boolean" in p for p in problems(write(tmp_path, STATION + bare)))
