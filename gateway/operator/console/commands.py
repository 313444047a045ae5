"""What the duty officer types at the console, turned into a signed downlink command's name and args.

Every downlink command can be typed; how is read from its argument model.
Words fill the arguments in order, required ones first; a text argument that
is the last required one takes the rest of the line (``broadcast Evacuate the
east wing``). ``NAME=VALUE`` sets any argument, ``by NAME`` says who acts
(default: the operator), ``@STATION`` picks the station, which an alarm key
names by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from gateway.commands.handlers import COMMANDS
from gateway.commands.registry import Command, problems
from gateway.operator.cmd import parse_arguments

CONSOLE_WORDS = ("show", "help", "quit")
WHO = "by"  # the argument naming who acts: the operator unless typed
NAMES = f"commands: {', '.join((*COMMANDS, *CONSOLE_WORDS))}"


@dataclass(frozen=True)
class Request:
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


HELP = "\n".join(
    [f"{usage(command)}\n    {command.help}" for command in COMMANDS.values()]
    + ["show | help | quit\n    the board again | this help | leave the console"]
)


def parse(line: str, *, default_station: str | None, operator: str) -> Request | str:
    """A :class:`Request`, or the console's own word (``show``, ``help``, ``quit``), or ValueError."""
    words = line.split()
    if not words:
        return "show"
    verb, rest = words[0].lower(), words[1:]
    if verb in (*CONSOLE_WORDS, "exit"):
        return "quit" if verb == "exit" else verb
    command = COMMANDS.get(verb)
    if command is None:
        raise ValueError(f"unknown command {verb!r}; {NAMES}")
    targeted = [word for word in rest if word.startswith("@")]
    station = targeted[-1][1:] if targeted else default_station
    args = _arguments(command, [word for word in rest if not word.startswith("@")], operator)
    if "alarm_key" in args:
        station = str(args["alarm_key"]).split(".", 1)[0]
    if station is None:
        raise ValueError(f"{verb} for which station? add @STATION")
    return Request(station, verb, args)


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
        raise ValueError(f"too many words ({' '.join(positional)}); {usage(command)}")
    try:
        arguments = command.arguments.model_validate(given)
    except ValidationError as exc:
        if any(e["type"] == "missing" for e in exc.errors()):
            raise ValueError(usage(command)) from None
        raise ValueError(f"{command.name}: {problems(exc)}") from None
    return arguments.model_dump(mode="json", exclude_unset=True)
