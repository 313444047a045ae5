"""Command authentication and parsing: what gets through and what is refused, and why."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.commands.auth import Rejected, Verifier, sign
from gateway.commands.processor import CommandFailed, CommandProcessor
from gateway.operator.cmd import parse_arguments

KEY = b"k" * 32
STATION = "cs-0001"


@pytest.fixture
def verifier():
    return Verifier(KEY, STATION, max_skew=60)


def test_a_signed_command_passes_once(verifier):
    command = sign(KEY, STATION, "ack", {"alarm_key": "cs-0001.gas.gas"})
    verifier.verify("ack", command)
    with pytest.raises(Rejected, match="replayed"):
        verifier.verify("ack", command)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda c: c.pop("sig"), "unsigned"),
        (lambda c: c.update(sig="00" * 32), "bad signature"),
        (lambda c: c["args"].update(alarm_key="cs-0001.other.gas"), "bad signature"),
        (lambda c: c.update(ts=c["ts"] - 10 * 60 * 1000), "bad signature"),
        (lambda c: c.pop("nonce"), "nonce"),
        (lambda c: c.update(ts="yesterday"), "timestamp"),
    ],
)
def test_tampered_or_incomplete_commands_are_rejected(verifier, change, reason):
    command = sign(KEY, STATION, "ack", {"alarm_key": "cs-0001.gas.gas"})
    change(command)
    with pytest.raises(Rejected, match=reason):
        verifier.verify("ack", command)


def test_stale_command_is_rejected_even_when_signed(verifier):
    command = sign(KEY, STATION, "ping", {})
    with pytest.raises(Rejected, match="stale"):
        verifier.verify("ping", command, now=time.time() + 3600)


def test_signature_is_bound_to_station_and_command_name(verifier):
    other_station = sign(KEY, "cs-9999", "ping", {})
    with pytest.raises(Rejected, match="bad signature"):
        verifier.verify("ping", other_station)
    as_reset = sign(KEY, STATION, "ack", {"alarm_key": "x"})
    with pytest.raises(Rejected, match="bad signature"):
        verifier.verify("reset", as_reset)


def test_wrong_key_is_rejected(verifier):
    with pytest.raises(Rejected, match="bad signature"):
        verifier.verify("ping", sign(b"another key", STATION, "ping", {}))


class Recorder:
    def __init__(self) -> None:
        self.executed: list[tuple[str, object]] = []

    async def execute(self, name, args):
        self.executed.append((name, args))
        if name == "reset":
            raise CommandFailed("not latched")
        return {"done": name}


def processor(target, *, signed=True, allow_unsigned=False) -> CommandProcessor:
    verifier = Verifier(KEY, STATION) if signed else None
    return CommandProcessor(verifier=verifier, allow_unsigned=allow_unsigned, target=target)


async def test_valid_command_executes_and_answers():
    target = Recorder()
    body = json.dumps(sign(KEY, STATION, "ack", {"alarm_key": "a.b.c", "by": "duty officer"})).encode()
    command_id, outcome = await processor(target).process("ack", body)
    assert outcome == (True, {"done": "ack"})
    assert command_id is not None
    assert target.executed[0][1].by == "duty officer"


async def test_failures_are_answered_with_a_reason_and_counted():
    target = Recorder()
    commands = processor(target)
    cases = {
        b"not json": "malformed",
        b"[1, 2]": "not a JSON object",
        json.dumps({"args": {}}).encode(): "unsigned",
    }
    for payload, reason in cases.items():
        _, (ok, detail) = await commands.process("ping", payload)
        assert not ok
        assert reason in detail
    signed_unknown = json.dumps(sign(KEY, STATION, "selfdestruct", {})).encode()
    assert (await commands.process("selfdestruct", signed_unknown))[1][1].startswith("unknown command")
    bad_args = json.dumps(sign(KEY, STATION, "shelve", {"alarm_key": "a", "minutes": -5})).encode()
    assert "bad arguments: minutes" in (await commands.process("shelve", bad_args))[1][1]
    failing = json.dumps(sign(KEY, STATION, "reset", {"alarm_key": "a"})).encode()
    assert (await commands.process("reset", failing))[1] == (False, "not latched")
    assert commands.counts["rejected"] == 5
    assert commands.counts["failed"] == 1
    assert [name for name, _ in target.executed] == ["reset"]


async def test_without_a_key_commands_are_refused_unless_explicitly_allowed():
    target = Recorder()
    body = json.dumps({"id": "1", "args": {}}).encode()
    _, (ok, detail) = await processor(target, signed=False).process("ping", body)
    assert not ok
    assert "no command key" in detail
    _, (ok, _) = await processor(target, signed=False, allow_unsigned=True).process("ping", body)
    assert ok


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(max_size=30),
    payload=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
    ),
)
async def test_random_bytes_and_json_are_rejected_never_executed_never_raise(name, payload):
    target = Recorder()
    commands = processor(target)
    _, (ok, detail) = await commands.process(name, payload)
    assert not ok
    assert isinstance(detail, str)
    assert detail
    assert target.executed == []
    assert commands.counts["rejected"] == 1


def test_command_line_arguments_are_typed():
    assert parse_arguments(["minutes=30", "on=true", "alarm_key=cs-1.a.b", "text=Flood warning"]) == {
        "minutes": 30,
        "on": True,
        "alarm_key": "cs-1.a.b",
        "text": "Flood warning",
    }
    with pytest.raises(ValueError, match="key=value"):
        parse_arguments(["oops"])
