"""The command registry: one list of commands everywhere, and each handler answering in its own shape."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest

from drivers.observation import Observation, PollOutcome
from drivers.radio.delivery import Delivery, Outcome
from gateway.commands.handlers import COMMANDS
from gateway.commands.processor import CommandProcessor
from gateway.commands.registry import Arguments, Executor
from gateway.config import load_config
from gateway.i18n import Translator
from gateway.operator.cli import add_operator_commands
from gateway.operator.console.commands import Refusal, help_text, parse
from gateway.service.runtime import Gateway
from tests.support.engine_harness import STATION
from tests.support.station_text import write

GAS = "cs-0001.kitchen-gas.gas"
FIRE = "cs-0001.kitchen-smoke.fire"


class NeverRuns:
    async def execute(self, name: str, args: Arguments) -> dict[str, Any]:
        raise AssertionError(f"{name} ran with arguments it should have refused")


async def test_processor_cmd_help_and_console_list_exactly_the_registry_s_commands():
    names = list(COMMANDS)

    processor = CommandProcessor(verifier=None, allow_unsigned=True, target=NeverRuns())
    _, (_, refusal) = await processor.process("selfdestruct", b"{}")
    assert refusal == f"unknown command (known: {', '.join(names)})"
    for name in names:  # each name is known, and checked against its own argument model
        _, (_, refusal) = await processor.process(name, json.dumps({"args": {"bogus": 1}}).encode())
        assert "bogus: Extra inputs are not permitted" in refusal, name

    commands = argparse.ArgumentParser().add_subparsers()
    add_operator_commands(commands)
    cmd_help = commands.choices["cmd"].format_help()
    listed = cmd_help.split("\ncommands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed if not line.startswith("   ")] == names

    console_help = help_text(Translator()).splitlines()
    assert [line.split()[0] for line in console_help if not line.startswith(" ")] == [*names, "ack", "show"]
    assert [typed(name) for name in names] == names


def typed(word: str) -> str:
    """What the console makes of a command name typed alone: the command, or how to type it."""
    try:
        request = parse(word, default_station="cs-0001", operator="duty officer")
    except Refusal as refused:  # arguments missing: the answer is its usage, "shelve ALARM_KEY ..."
        return str(refused.fields["usage"]).split()[0]
    assert not isinstance(request, str)
    return request.name


class Radios:
    """A radio bridge that hears every broadcast and says each radio acknowledged."""

    def recipients(self, group: str | None) -> list[str]:
        return ["2041", "2042"]

    async def broadcast(
        self, text: str, group: str | None, settled: Callable[[str, Delivery], Awaitable[None]]
    ) -> dict[str, Delivery]:
        deliveries = {
            radio: Delivery(radio, Outcome.ACKNOWLEDGED, 1, 0.5) for radio in self.recipients(group)
        }
        for radio, delivery in deliveries.items():
            await settled(radio, delivery)
        return deliveries


class Switches:
    """Actuators that switch whatever they are told to (the Modbus write has its own integration test)."""

    def __init__(self) -> None:
        self.set_to: dict[str, str] = {}

    async def set(self, name: str, value: str) -> None:
        self.set_to[name] = value


def outcome(gateway: Gateway, device: str, at: float, **values: float | bool) -> PollOutcome:
    points = {p.name: p.is_flag for p in gateway.config.register_points(device)}
    now = datetime.now(UTC)
    readings = {name: False if flag else 0.0 for name, flag in points.items()} | values
    observations = tuple(Observation(device, name, value, None, now) for name, value in readings.items())
    return PollOutcome(device, now, at, observations=observations)


@pytest.fixture
async def gateway(tmp_path):
    """The real gateway's parts, never connected: a gas alarm and a latched fire alarm active."""
    key = tmp_path / "command.key"
    key.write_text("c0ffee\n")
    extra = f"state_dir: {tmp_path / 'state'}\ncommands:\n  key_file: {key}\n"
    config = load_config(write(tmp_path, STATION + extra))
    gateway = Gateway(config)
    await gateway.outbox.open()
    for device, values in (("kitchen-gas", {"gas": 30.0}), ("kitchen-smoke", {"fire_alarm": True})):
        await gateway.publisher.on_poll(outcome(gateway, device, 0))
        await gateway.publisher.on_poll(outcome(gateway, device, 1, **values))
    assert {a.alarm_key for a in gateway.engine.active_alarms()} == {GAS, FIRE}
    yield gateway
    await gateway.outbox.close()


ALARMS = {"alarms"}
HANDLERS = [
    # (command, arguments, a command run first, the keys of its result)
    ("ping", {}, None, {"pong", "version", "boot_id", "uptime_s"}),
    ("ack", {"alarm_key": GAS}, None, ALARMS),
    ("shelve", {"alarm_key": GAS, "minutes": 5}, None, ALARMS),
    ("unshelve", {"alarm_key": GAS}, ("shelve", {"alarm_key": GAS, "minutes": 5}), ALARMS),
    ("reset", {"alarm_key": FIRE}, None, ALARMS),
    ("suppress", {"device": "kitchen-gas", "minutes": 30}, None, ALARMS),
    ("unsuppress", {"device": "kitchen-gas"}, ("suppress", {"device": "kitchen-gas", "minutes": 30}), ALARMS),
    ("exercise", {"on": True}, None, {"exercise", "device"}),
    ("report", {}, None, {"report_id", "all_clear"}),
    ("broadcast", {"text": "Flood warning"}, None, {"accepted", "broadcast_id", "recipients"}),
    ("actuate", {"actuator": "siren", "value": "on"}, None, {"actuator", "value"}),
    # The station's own file pushed again (the test gives its text).
    ("config_push", {"yaml": ...}, None, {"sha256", "previous_sha256", "confirm_within_s"}),
]


def test_the_table_covers_every_command():
    assert [name for name, *_ in HANDLERS] == list(COMMANDS)


@pytest.mark.parametrize(("name", "args", "first", "keys"), HANDLERS, ids=[h[0] for h in HANDLERS])
async def test_each_handler_answers_with_its_own_result(gateway, name, args, first, keys):
    switches = Switches()
    later: list[Coroutine[Any, Any, None]] = []
    context = dataclasses.replace(
        gateway.command_context, radio=Radios(), actuators=switches, after_answer=later.append
    )
    commands = Executor(COMMANDS, context)
    if first is not None:
        await commands.execute(first[0], COMMANDS[first[0]].arguments.model_validate(first[1]))
    backlog = len(gateway.outbox)
    if name == "config_push":
        args = {"yaml": gateway.config.path.read_text()}

    result = await commands.execute(name, COMMANDS[name].arguments.model_validate(args))
    for job in later:  # applying a pushed file needs the running gateway: not here
        job.close()

    assert set(result) == keys
    json.dumps(result)  # it goes back to the platform as JSON
    if result.keys() == ALARMS:  # an alarm command: its event is committed, the alarms are as they stand
        assert len(gateway.outbox) == backlog + 1
        assert [a["alarm_key"] for a in result["alarms"]] == [
            a.alarm_key for a in gateway.engine.active_alarms()
        ]
    if name == "report":
        assert result["all_clear"] is False  # two alarms are active
        assert len(gateway.outbox) == backlog + 1
    if name == "actuate":
        assert switches.set_to == {"siren": "on"}


async def test_a_broadcast_is_accepted_at_once_and_its_steps_go_through_the_outbox(gateway):
    jobs: list[Coroutine[Any, Any, None]] = []
    context = dataclasses.replace(gateway.command_context, radio=Radios(), in_background=jobs.append)
    backlog = len(gateway.outbox)
    args = COMMANDS["broadcast"].arguments.model_validate({"text": "Flood warning", "group": "rescue-1"})
    result = await Executor(COMMANDS, context).execute("broadcast", args)
    assert result["accepted"]
    assert result["recipients"] == ["2041", "2042"]
    assert len(gateway.outbox) == backlog + 1  # accepted, committed before the answer
    await jobs.pop()
    queued = await gateway.outbox.take(len(gateway.outbox))
    steps = [json.loads(q.message.payload) for q in queued if q.message.topic.endswith("/radio")]
    assert [s["state"] for s in steps] == ["accepted", "progress", "progress", "finished"]
    assert {s["broadcast_id"] for s in steps} == {result["broadcast_id"]}
    assert steps[0]["recipients"] == ["2041", "2042"]
    assert steps[1]["deliveries"] == {"2041": {"outcome": "acknowledged", "attempts": 1, "seconds": 0.5}}
    assert (steps[-1]["acknowledged"], sorted(steps[-1]["deliveries"])) == (2, ["2041", "2042"])
