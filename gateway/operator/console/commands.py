"""What the duty officer types at the console, turned into signed downlink commands' names and args.

Every downlink command can be typed; how is read from its argument model.
Words fill the arguments in order, required ones first; a text argument that
is the last required one takes the rest of the line (``broadcast Evacuate the
east wing``). ``NAME=VALUE`` sets any argument, ``by NAME`` says who acts
(default: the operator), ``@STATION`` picks the station, which a full alarm
key names by itself. An alarm is named as the officer sees it: its full key,
its key within the station (``kitchen-gas.gas``), its number in the list last
shown, or, for ``ack``, ``all cleared``. What the console refuses to send it
says in the officer's language (:class:`Refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from gateway.commands.handlers import COMMANDS
from gateway.commands.registry import Command, problems
from gateway.contract.events import AlarmState
from gateway.i18n import Translator
from gateway.operator.cmd import parse_arguments
from gateway.operator.console.board import Board, Listed

CONSOLE_WORDS = ("show", "help", "quit")
WHO = "by"  # the argument naming who acts: the operator unless typed
NAMES = ", ".join((*COMMANDS, *CONSOLE_WORDS))
ALL_CLEARED = "all cleared"  # ``ack all cleared``: every cleared alarm still awaiting acknowledgement


class Refusal(ValueError):
    """Why a typed line sends nothing: a catalogue key and its fields, said in the officer's language."""

    def __init__(self, entry: str, **fields: object) -> None:
        super().__init__(entry)
        self.entry, self.fields = entry, fields

    def text(self, t: Translator) -> str:
        return t(self.entry, **self.fields)


@dataclass(frozen=True)
class Typed:
    """A command as typed: the station if one is known (``@STATION`` or the console's), the alarm as typed."""

    station: str | None
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Request:
    """One command to send: to which station, with the full alarm key."""

    station: str
    name: str
    args: dict[str, Any]


def _positional(command: Command) -> list[tuple[str, FieldInfo]]:
    """The arguments words fill, in order: required ones, then optional ones (never ``by``)."""
    fields = [(name, field) for name, field in command.arguments.model_fields.items() if name != WHO]
    return [f for f in fields if f[1].is_required()] + [f for f in fields if not f[1].is_required()]


def _takes_the_rest(command: Command, name: str) -> bool:
    """A text argument that is the last required one takes all remaining words."""
    required = [n for n, f in _positional(command) if f.is_required()]
    field = command.arguments.model_fields[name]
    return bool(required) and name == required[-1] and field.annotation is str


def usage(command: Command) -> str:
    """How to type ``command``, e.g. ``shelve ALARM_KEY MINUTES [by NAME]``."""
    words = [command.name]
    rest_taken = False
    for name, field in _positional(command):
        shown = "on|off" if field.annotation is bool else name.upper()
        if field.is_required():
            words.append(shown)
        else:
            words.append(f"[{name}={name.upper()}]" if rest_taken else f"[{shown}]")
        rest_taken = rest_taken or _takes_the_rest(command, name)
    if WHO in command.arguments.model_fields:
        words.append(f"[{WHO} NAME]")
    if "alarm_key" not in command.arguments.model_fields:
        words.append("[@STATION]")
    return " ".join(words)


def help_text(t: Translator) -> str:
    """How to type each command and what it does, then the console's own words."""
    commands = [f"{usage(command)}\n    {t(f'help.{command.name}')}" for command in COMMANDS.values()]
    return "\n".join([*commands, t("console.help_own")])


def parse(line: str, *, default_station: str | None, operator: str) -> Typed | str:
    """A :class:`Typed` command, or the console's own word (``show``, ``help``, ``quit``); else Refusal."""
    words = line.split()
    if not words:
        return "show"
    verb, rest = words[0].lower(), words[1:]
    if verb in (*CONSOLE_WORDS, "exit"):
        return "quit" if verb == "exit" else verb
    command = COMMANDS.get(verb)
    if command is None:
        raise Refusal("console.unknown_command", command=verb, names=NAMES)
    targeted = [word for word in rest if word.startswith("@")]
    station = targeted[-1][1:] if targeted else default_station
    return Typed(
        station, verb, _arguments(command, [word for word in rest if not word.startswith("@")], operator)
    )


def requests(typed: Typed, *, shown: list[Listed], board: Board) -> list[Request]:
    """The commands to send for ``typed``, its alarm found by number in ``shown`` (the list last shown),
    by key within the station, or on ``board`` (``all cleared``); else Refusal."""
    alarm = typed.args.get("alarm_key")
    if alarm is None:
        if typed.station is None:
            raise Refusal("console.which_station", command=typed.name)
        return [Request(typed.station, typed.name, typed.args)]
    if alarm == ALL_CLEARED and typed.name == "ack":
        found = [
            (item.station, item.alarm.alarm_key)
            for item in board.listed()
            if item.alarm.state == AlarmState.CLEARED_UNACK and typed.station in (None, item.station)
        ]
        if not found:
            raise Refusal("console.none_cleared")
    elif alarm.isdigit():
        if not 1 <= int(alarm) <= len(shown):
            raise Refusal("console.no_number", number=alarm)
        item = shown[int(alarm) - 1]
        found = [(item.station, item.alarm.alarm_key)]
    else:
        found = [_by_key(alarm, typed, board)]
    return [Request(station, typed.name, typed.args | {"alarm_key": key}) for station, key in found]


def _by_key(alarm: str, typed: Typed, board: Board) -> tuple[str, str]:
    """A full key names its station; a key within a station is the chosen station's, or the one
    station's on the board that has it."""
    if alarm.count(".") >= 2:
        return alarm.split(".", 1)[0], alarm
    if typed.station is not None:
        return typed.station, f"{typed.station}.{alarm}"
    stations = board.find(alarm)
    if len(stations) == 1:
        return stations[0], f"{stations[0]}.{alarm}"
    if not stations:
        raise Refusal("console.which_station", command=typed.name)
    raise Refusal("console.which_alarm", key=alarm, stations=", ".join(stations))


def _arguments(command: Command, words: list[str], operator: str) -> dict[str, Any]:
    """The typed words as the command's arguments, checked against its model."""
    fields = command.arguments.model_fields
    given: dict[str, Any] = {}
    if WHO in fields:
        if WHO in words:
            at = words.index(WHO)
            words, given[WHO] = words[:at], " ".join(words[at + 1 :])
        given[WHO] = given.get(WHO) or operator
    keyed = [word for word in words if "=" in word and word.partition("=")[0] in fields]
    given |= parse_arguments(keyed)
    positional = [word for word in words if word not in keyed]
    for name, _ in _positional(command):
        if not positional:
            break
        if name in given:
            continue
        if _takes_the_rest(command, name):
            given[name], positional = " ".join(positional), []
        else:
            given[name] = positional.pop(0)
    if positional:
        raise Refusal("console.too_many_words", words=" ".join(positional), usage=usage(command))
    try:
        arguments = command.arguments.model_validate(given)
    except ValidationError as exc:
        if any(e["type"] == "missing" for e in exc.errors()):
            raise Refusal("console.usage", usage=usage(command)) from None
        raise Refusal("console.invalid", command=command.name, problems=problems(exc)) from None
    return arguments.model_dump(mode="json", exclude_unset=True)
